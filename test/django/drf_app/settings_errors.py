"""For test/drf.test.ts: what TesseraAuthentication says of each TESSERA setting in a JSON list on stdin.

Prints a JSON list: the ImproperlyConfigured message for each, or "unavailable" when the settings
were taken and Tessera was asked (the list's issuers are where nothing listens). Each setting is put
in place with override_settings, as a project's own tests would.
"""

import json
import sys

import django
from django.conf import settings

settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"])
django.setup()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.test import override_settings  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

from tessera_drf import AuthenticationUnavailable, TesseraAuthentication  # noqa: E402

outcomes = []
for config in json.load(sys.stdin):
    request = Request(APIRequestFactory().get("/whoami", HTTP_AUTHORIZATION="Bearer some-token"))
    with override_settings(TESSERA=config):
        try:
            TesseraAuthentication().authenticate(request)
            outcomes.append("authenticated")
        except ImproperlyConfigured as error:
            outcomes.append(str(error))
        except AuthenticationUnavailable:
            outcomes.append("unavailable")
print(json.dumps(outcomes))
