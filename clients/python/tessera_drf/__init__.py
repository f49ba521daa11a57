"""Django REST framework authentication by Tessera's token verification endpoint."""

from .authentication import AuthenticationUnavailable, TesseraAuthentication, TesseraUser

__all__ = ["AuthenticationUnavailable", "TesseraAuthentication", "TesseraUser"]
