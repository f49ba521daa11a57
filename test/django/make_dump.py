"""Builds a Django dump for the `tessera import django` tests, with Django itself.

Run with Debian's Python (/usr/bin/python3: Django 3.2, DRF 3.14, django-oauth-toolkit 1.7,
bcrypt, argon2-cffi). It sets up a throwaway project on a temporary SQLite database, migrates it,
creates users, DRF tokens and DOT applications through those packages' own APIs, and writes
`manage.py dumpdata auth.user authtoken.token oauth2_provider.application` to --output.

On stdout, one JSON object: what a test needs to know that the dump does not say (the clear
passwords and secrets, which hash each user has).

    /usr/bin/python3 test/django/make_dump.py --output dump.json [--indent 2]
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import tempfile

import django
from django.conf import settings

# The hashers Django 3.2 offers for new passwords, in the order a project lists them; then the
# legacy ones, only so that such hashes can be made and checked.
HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.SHA1PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
    "django.contrib.auth.hashers.CryptPasswordHasher",
]
# The algorithms Tessera does not take over: their users are imported without a usable password.
LEGACY = {"md5", "sha1", "unsalted_md5", "unsalted_sha1", "crypt"}

# username, clear password, how it is hashed, further fields of create_user.
# "default" is what create_user does: pbkdf2_sha256 at Django 3.2's 260,000 iterations (each test
# signs in once against it, so its cost is paid once). "pbkdf2_sha256@150000" is Django 2.2's
# default, as a project that never re-hashed its users has: a verifier must read the count from
# the hash, not assume one. "scrypt": see scrypt_hash. "unusable": set_unusable_password.
# LEGACY: algorithms Tessera does not take over (imported without a usable password, and a warning).
USERS = [
    ("alice", "alice's old password", "default", {"email": "alice@example.com", "first_name": "Alice", "last_name": "Liddell"}),
    ("bob", "bob password sha1", "pbkdf2_sha1", {"email": "bob@example.com", "first_name": "Bob"}),
    # Longer than bcrypt's 72 bytes: bcrypt_sha256 hashes it first, so every byte counts.
    ("carol", "carol " + "x" * 90 + " end", "bcrypt_sha256", {"last_name": "Carroll"}),
    ("dave", "dave bcrypt pw", "bcrypt", {"email": "dave@example.org"}),
    # Non-ASCII in the username and the password: Django hashes the password's UTF-8 bytes.
    ("érin.müller", "pässwörd ärgon2 ✓", "argon2", {"email": "erin@example.com", "first_name": "Érin", "last_name": "Müller"}),
    ("frank", "frank scrypt pw", "scrypt", {"email": "frank@example.com"}),
    ("ingrid", "ingrid legacy pw", "pbkdf2_sha256@150000", {"email": "ingrid@example.com"}),
    # Django takes any password; Tessera's length rule is for setting one, not for signing in.
    ("judy", "short1", "default", {"email": "judy@example.com"}),
    ("grace", "grace inactive pw", "default", {"email": "grace@example.com", "is_active": False}),
    # Given a password, then set_unusable_password(): the password must not let her in.
    ("heidi", "heidi will lose this", "unusable", {"email": "heidi@example.com"}),
    ("mallory", "mallory md5 pw", "md5", {}),
    ("niaj", "niaj sha1 pw", "sha1", {}),
    ("olivia", "olivia unsalted md5", "unsalted_md5", {}),
    ("peggy", "peggy unsalted sha1", "unsalted_sha1", {}),
    ("rupert", "rupert crypt", "crypt", {}),
]

# The users whose DRF tokens the dump has.
TOKEN_OWNERS = ["alice", "bob", "érin.müller", "ingrid"]


def configure(database):
    settings.configure(
        DEBUG=False,
        SECRET_KEY="make-dump-not-secret",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "rest_framework.authtoken",
            "oauth2_provider",
        ],
        PASSWORD_HASHERS=HASHERS,
    )
    django.setup()


def scrypt_hash(password, salt):
    """Django 4.0's ScryptPasswordHasher.encode at its defaults (n=2**14, r=8, p=1, 64 bytes).

    Debian's Django 3.2 has no scrypt hasher, while a project on Django 4 dumps such hashes: that
    hasher is these few lines of hashlib, reproduced so that the dump has one too.
    """
    n, r, p = 2**14, 8, 1
    digest = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, dklen=64)
    return "scrypt$%d$%s$%d$%d$%s" % (n, salt, r, p, base64.b64encode(digest).decode("ascii").strip())


def hashed(password, kind):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, make_password

    salt = get_hasher("default").salt()
    if kind == "scrypt":
        return scrypt_hash(password, salt)
    if kind == "pbkdf2_sha256@150000":
        return PBKDF2PasswordHasher().encode(password, salt, iterations=150_000)
    return make_password(password, hasher=kind)


def create_user(username, password, kind, fields):
    from django.contrib.auth.hashers import check_password
    from django.contrib.auth.models import User

    user = User.objects.create_user(username, password=password, **fields)
    if kind == "unusable":
        user.set_unusable_password()
    elif kind != "default":
        user.password = hashed(password, kind)
    user.save()
    if kind not in ("unusable", "scrypt"):  # a typo here would otherwise show up as Tessera's fault
        assert check_password(password, user.password), username
    return user


def create_applications(owner):
    from oauth2_provider.models import Application

    def app(name, client_type, grant, redirect_uris="", user=None):
        return Application.objects.create(
            name=name, user=user, client_type=client_type, authorization_grant_type=grant, redirect_uris=redirect_uris
        )

    return [
        app(
            "Web portal",
            Application.CLIENT_CONFIDENTIAL,
            Application.GRANT_AUTHORIZATION_CODE,
            "https://portal.example.com/callback https://portal.example.com/other https://admin.example.com/cb",
            owner,
        ),
        app("Mobile app", Application.CLIENT_PUBLIC, Application.GRANT_AUTHORIZATION_CODE, "http://127.0.0.1:8765/callback"),
        # Blank name: Tessera names the client by its client_id.
        app("", Application.CLIENT_CONFIDENTIAL, Application.GRANT_CLIENT_CREDENTIALS),
        app("Legacy CLI", Application.CLIENT_CONFIDENTIAL, Application.GRANT_PASSWORD),
        # Implicit and OpenID Connect hybrid: Tessera makes them authorization_code clients, with a warning.
        app("Old SPA", Application.CLIENT_PUBLIC, Application.GRANT_IMPLICIT, "https://spa.example.com/cb"),
        app("Hybrid site", Application.CLIENT_CONFIDENTIAL, Application.GRANT_OPENID_HYBRID, "https://hybrid.example.com/oidc/cb"),
    ]


def build():
    """Creates everything; returns what the test needs to know of it."""
    from django.contrib.auth.hashers import identify_hasher, make_password
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    clear = {}
    for username, password, kind, fields in USERS:
        clear[create_user(username, password, kind, fields).pk] = password
    owner = User.objects.create_superuser("admin", "admin@example.com", "admin super password")
    clear[owner.pk] = "admin super password"
    tokens = [Token.objects.create(user=User.objects.get(username=name)) for name in TOKEN_OWNERS]
    applications = create_applications(owner)

    def algorithm(password_hash):
        if password_hash.startswith("!"):
            return "unusable"
        # Django 3.2 does not know scrypt (see scrypt_hash); it names every other hash itself.
        return "scrypt" if password_hash.startswith("scrypt$") else identify_hasher(password_hash).algorithm

    return {
        "users": [
            {
                "pk": u.pk,
                "username": u.username,
                "password": clear[u.pk],
                "algorithm": algorithm(u.password),
                "active": u.is_active,
                # Whether Tessera can check the password it was given (not: whether it lets them in).
                "usable": algorithm(u.password) not in LEGACY | {"unusable"},
                "email": u.email or None,
                "name": " ".join(part for part in (u.first_name, u.last_name) if part) or None,
            }
            for u in User.objects.order_by("pk")
        ],
        "tokens": [{"key": t.key, "user_pk": t.user_id, "username": t.user.username} for t in tokens],
        "applications": [
            {
                "client_id": a.client_id,
                "client_secret": a.client_secret,
                # What django-oauth-toolkit 2.x stores in client_secret instead of the secret.
                "hashed_secret": make_password(a.client_secret),
                "name": a.name,
                "client_type": a.client_type,
                "grant": a.authorization_grant_type,
                "redirect_uris": a.redirect_uris.split(),
            }
            for a in applications
        ],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="the file dumpdata writes")
    parser.add_argument("--indent", type=int, default=None, help="dumpdata --indent (default: none, all on one line)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        configure(os.path.join(workdir, "django.sqlite3"))
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        answer = build()
        call_command(
            "dumpdata",
            "auth.user",
            "authtoken.token",
            "oauth2_provider.application",
            output=args.output,
            indent=args.indent,
            verbosity=0,
        )
    json.dump(answer, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
