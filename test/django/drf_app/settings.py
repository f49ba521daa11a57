"""A DRF service that moved from TokenAuthentication to Tessera, configured from the environment."""

import os

SECRET_KEY = "drf-app-test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
# What a DRF service has anyway; no database is needed: the users are Tessera's.
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES = {}
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tessera_drf.TesseraAuthentication"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

TESSERA = {"ISSUER": os.environ["TESSERA_ISSUER"]}
for key in ("AUDIENCE", "CACHE_SECONDS", "TIMEOUT"):
    value = os.environ.get("TESSERA_" + key)
    if value is not None:
        TESSERA[key] = value if key == "AUDIENCE" else float(value)

# Unexpected errors on stderr, for the test's failure messages.
LOGGING = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}, "tessera_drf": {"handlers": ["stderr"], "level": "WARNING"}},
}
