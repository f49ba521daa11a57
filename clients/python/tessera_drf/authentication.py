"""TesseraAuthentication: DRF authentication that asks Tessera's POST /token/verify about each token."""

import copy
import hashlib
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from http.client import HTTPException

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

logger = logging.getLogger("tessera_drf")

SCHEMES = (b"bearer", b"token")
# Tessera's own bounds for a Bearer token: refusing others here spares a request.
TOKEN_CHARACTERS = re.compile(rb"[\x21-\x7e]+")
MAX_TOKEN_LENGTH = 4096
SETTING_KEYS = ("ISSUER", "AUDIENCE", "CACHE_SECONDS", "TIMEOUT", "VERIFY_URL")
CACHE_ENTRIES = 10_000
# Tessera's answers are a few hundred bytes; a bigger one is not Tessera speaking.
MAX_ANSWER_BYTES = 64 * 1024


class AuthenticationUnavailable(exceptions.APIException):
    """Tessera gave no usable answer: 503, since the token is neither known good nor known bad."""

    status_code = 503
    default_detail = "authentication service unavailable"
    default_code = "authentication_unavailable"
    # DRF's exception handler sends it as Retry-After.
    wait = 1


class TesseraUser:
    """Whom a valid token speaks for, as Tessera said; nothing is read from or stored in a database."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, claims):
        self.claims = claims
        self.sub = claims["sub"]
        self.pk = self.id = self.username = self.sub
        self.client_id = claims.get("client_id")
        self.scope = (claims.get("scope") or "").split()
        self.roles = list(claims.get("roles") or [])
        self.groups = list(claims.get("groups") or [])

    def __str__(self):
        return self.sub

    def __repr__(self):
        return "<TesseraUser sub=%r client_id=%r>" % (self.sub, self.client_id)


class TesseraAuthentication(BaseAuthentication):
    """Authenticates `Authorization: Bearer <token>` (or DRF's `Token <token>`) through Tessera."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        try:
            token = self._presented_token(request)
            if token is None:
                return None
            claims = _current_verifier().verify(token)
        except exceptions.AuthenticationFailed:
            # For authenticate_header, which DRF calls next with the same request.
            request._tessera_error = "invalid_token"
            raise
        return TesseraUser(claims), claims

    def authenticate_header(self, request):
        # RFC 6750 §3: an error code only when a token was presented and refused.
        challenge = 'Bearer realm="%s"' % self.www_authenticate_realm
        error = getattr(request, "_tessera_error", None)
        return challenge + (', error="%s"' % error if error else "")

    @staticmethod
    def _presented_token(request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None  # not ours: another authentication class may take it
        # The same refusals, in the same words, as DRF's TokenAuthentication.
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed("Invalid token header. No credentials provided.")
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
        if not TOKEN_CHARACTERS.fullmatch(parts[1]):
            raise exceptions.AuthenticationFailed("Invalid token header. Token string should not contain invalid characters.")
        if len(parts[1]) > MAX_TOKEN_LENGTH:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return parts[1].decode("ascii")


class _Verifier:
    """Asks Tessera about tokens, remembering valid ones briefly (thread-safe, bounded)."""

    def __init__(self, verify_url, audience, cache_seconds, timeout):
        self.verify_url = verify_url
        self.audience = audience
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._cache = OrderedDict()  # SHA-256 of the token → (monotonic deadline, claims)
        self._lock = threading.Lock()

    def verify(self, token):
        """Tessera's claims for a valid token; AuthenticationFailed or AuthenticationUnavailable otherwise."""
        # Keyed by a digest so that the process memory holds no usable token.
        key = hashlib.sha256(token.encode("ascii")).digest()
        claims = self._cached(key)
        if claims is None:
            # Counted from before the question: Tessera's answer is at least this fresh.
            asked_at = time.monotonic()
            claims = self._ask(token)
            self._remember(key, claims, asked_at)
        # Each request gets its own copy: a view changing request.auth must not change the cache.
        return copy.deepcopy(claims)

    def _cached(self, key):
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._cache[key]
                return None
            return entry[1]

    def _remember(self, key, claims, asked_at):
        lifetime = self.cache_seconds
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            lifetime = min(lifetime, exp - time.time())
        if lifetime <= 0:
            return
        with self._lock:
            self._cache[key] = (asked_at + lifetime, claims)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def _ask(self, token):
        form = {"token": token}
        if self.audience is not None:
            form["audience"] = self.audience
        request = urllib.request.Request(
            self.verify_url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        try:
            try:
                response = urllib.request.urlopen(request, timeout=self.timeout)
            except urllib.error.HTTPError as error:
                response = error  # an answer all the same: a 401 is Tessera saying no
            with response:
                status, raw = response.getcode(), response.read(MAX_ANSWER_BYTES + 1)
        except (OSError, HTTPException) as error:  # refused, unreachable, timed out, cut off
            raise self._unavailable("no answer (%s)" % error) from error
        if status >= 500:
            raise self._unavailable("answered %d" % status)
        answer = _json_object(raw)
        if status == 401 and answer is not None and "error" in answer:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if status == 200 and answer is not None and answer.get("active") is True and isinstance(answer.get("sub"), str):
            return answer
        # A redirect, a 404 or an answer not in Tessera's shape: a misconfigured VERIFY_URL is
        # the service's fault, not the caller's, and must never let a request through.
        raise self._unavailable("unexpected answer (status %d)" % status)

    def _unavailable(self, reason):
        logger.warning("Tessera at %s: %s", self.verify_url, reason)
        return AuthenticationUnavailable()


def _json_object(raw):
    if len(raw) > MAX_ANSWER_BYTES:
        return None
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _verifier_from_settings():
    config = getattr(settings, "TESSERA", None)
    if not isinstance(config, dict):
        raise ImproperlyConfigured('settings.TESSERA must be a dict such as {"ISSUER": "https://auth.example.com"}')
    unknown = sorted(set(config) - set(SETTING_KEYS))
    if unknown:
        raise ImproperlyConfigured("settings.TESSERA has unknown keys %s; it takes %s" % (", ".join(unknown), ", ".join(SETTING_KEYS)))
    if "ISSUER" not in config:
        raise ImproperlyConfigured("settings.TESSERA needs ISSUER, Tessera's URL (its TESSERA_ISSUER)")
    issuer = _url(config, "ISSUER")
    audience = config.get("AUDIENCE")
    if audience is not None and (not isinstance(audience, str) or not audience.strip()):
        raise ImproperlyConfigured("settings.TESSERA['AUDIENCE'] must be a non-empty string (or left out)")
    return _Verifier(
        verify_url=_url(config, "VERIFY_URL") if "VERIFY_URL" in config else issuer + "/token/verify",
        audience=audience,
        cache_seconds=_number(
            config, "CACHE_SECONDS", 0.5, lambda v: 0 <= v < 1, "at least 0 and under 1 (a revoked token must stop working within a second)"
        ),
        timeout=_number(config, "TIMEOUT", 2, lambda v: v > 0, "above 0"),
    )


def _url(config, name):
    value = config[name]
    try:
        parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    except ValueError:  # such as an unclosed [IPv6 address
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured("settings.TESSERA['%s'] must be an http(s) URL without query or fragment, not %r" % (name, value))
    return value.rstrip("/")


def _number(config, name, default, allowed, rule):
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not allowed(value):
        raise ImproperlyConfigured("settings.TESSERA['%s'] must be a number of seconds, %s, not %r" % (name, rule, value))
    return value


_verifier = None
_verifier_lock = threading.Lock()


def _current_verifier():
    global _verifier
    with _verifier_lock:
        if _verifier is None:
            _verifier = _verifier_from_settings()
        return _verifier


def _forget_verifier(setting, **kwargs):
    # override_settings(TESSERA=…) in a project's tests then takes effect, with an empty cache.
    global _verifier
    if setting == "TESSERA":
        with _verifier_lock:
            _verifier = None


setting_changed.connect(_forget_verifier)
