"""Password hashes made and checked by the real Django, for test/django-passwords.test.ts.

Run with Debian's Python (/usr/bin/python3, which has python3-django 3.2, python3-bcrypt and
python3-argon2). Reads one JSON object on stdin:

    {"make": [{"hasher": "pbkdf2_sha256", "password": "...", ...options}, ...],
     "check": [["<encoded>", "<password>"], ...]}

and writes {"made": ["<encoded>", ...], "checked": [true | false | "<exception>", ...]}.

"make" calls Django's own hashers (make_password, or a hasher's encode() where an option needs
it); "check" is Django's check_password() without its timing padding: is_password_usable(),
identify_hasher(), then the hasher's verify(). Where Django raises instead of answering, the
exception's name is given: such a password never signs in either.
"""

import base64
import hashlib
import json
import sys
import warnings

try:
    import argon2
    import bcrypt
    from django.conf import settings
    from django.contrib.auth import hashers
except ImportError as missing:
    sys.exit(
        f"{missing}: /usr/bin/python3 needs Debian's python3-django, python3-bcrypt and python3-argon2 "
        "(apt-get install python3-django python3-bcrypt python3-argon2)"
    )


class ScryptPasswordHasher(hashers.BasePasswordHasher):
    """Django 4.x's ScryptPasswordHasher, transcribed line for line (Debian's Django 3.2 has no
    scrypt): hashlib.scrypt with dklen 64, written as scrypt$N$salt$r$p$base64."""

    algorithm = "scrypt"
    block_size = 8
    maxmem = 0
    parallelism = 5
    work_factor = 2**14

    def encode(self, password, salt, n=None, r=None, p=None):
        if password is None:
            raise TypeError("password must be provided.")
        if not salt or "$" in salt:
            raise ValueError("salt must be provided and cannot contain $.")
        n = n or self.work_factor
        r = r or self.block_size
        p = p or self.parallelism
        hash_ = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=self.maxmem, dklen=64)
        hash_ = base64.b64encode(hash_).decode("ascii").strip()
        return "%s$%d$%s$%d$%d$%s" % (self.algorithm, n, salt, r, p, hash_)

    def decode(self, encoded):
        algorithm, work_factor, salt, block_size, parallelism, hash_ = encoded.split("$", 6)
        assert algorithm == self.algorithm
        return {
            "algorithm": algorithm,
            "work_factor": int(work_factor),
            "salt": salt,
            "block_size": int(block_size),
            "parallelism": int(parallelism),
            "hash": hash_,
        }

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        encoded_2 = self.encode(password, decoded["salt"], decoded["work_factor"], decoded["block_size"], decoded["parallelism"])
        return hashers.constant_time_compare(encoded, encoded_2)


settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "__main__.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.SHA1PasswordHasher",
        "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
        "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
        "django.contrib.auth.hashers.CryptPasswordHasher",
    ]
)


def make(spec):
    name, password = spec["hasher"], spec.get("password")
    if name == "unusable":
        return hashers.make_password(None)
    hasher = hashers.get_hasher(name)
    if name.startswith("pbkdf2_"):
        return hasher.encode(password, hasher.salt(), spec.get("iterations"))
    if name.startswith("bcrypt"):
        # Django's bcrypt salt is bcrypt.gensalt(rounds): "$2b$"; "$2a$" hashes come from older
        # bcrypt libraries, "$2y$" from PHP's, and Django verifies all three.
        salt = bcrypt.gensalt(spec.get("rounds", hasher.rounds), prefix=b"2a" if spec.get("prefix") == "2a" else b"2b")
        if spec.get("prefix") == "2y":
            salt = b"$2y$" + salt[4:]
        return hashers.make_password(password, salt, name)
    if name == "argon2":
        return make_argon2(password, spec)
    if name == "scrypt" and "n" in spec:
        return hasher.encode(password, hasher.salt(), spec["n"], spec["r"], spec["p"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the crypt module, for the crypt hasher
        return hashers.make_password(password, None, name)


def make_argon2(password, spec):
    # Projects change a hasher's cost by subclassing it; attributes of a fresh instance do the same.
    hasher = hashers.Argon2PasswordHasher()
    for option in ("time_cost", "memory_cost", "parallelism"):
        if option in spec:
            setattr(hasher, option, spec[option])
    if "type" not in spec and "version" not in spec:
        return hasher.encode(password, hasher.salt())
    # Older forms that Django 3.2 still verifies but no longer makes: argon2i (Django 1.10 to 2.x),
    # and version 16, which argon2-cffi before 16.0 wrote without "v=" ("version": null here):
    # argon2-cffi called as Django calls it, with that type and version.
    version = spec.get("version", 19)
    params = hasher.params()
    data = argon2.low_level.hash_secret(
        password.encode(),
        hasher.salt().encode(),
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        type={"i": argon2.low_level.Type.I, "d": argon2.low_level.Type.D, "id": argon2.low_level.Type.ID}[spec.get("type", "id")],
        version=16 if version is None else version,
    ).decode("ascii")
    return "argon2" + (data.replace("$v=16$", "$", 1) if version is None else data)


def check(encoded, password):
    try:
        if not hashers.is_password_usable(encoded):
            return False
        return hashers.identify_hasher(encoded).verify(password, encoded)
    except Exception as error:  # noqa: BLE001 - every refusal is an answer here
        return f"{type(error).__name__}: {error}"


request = json.load(sys.stdin)
json.dump(
    {
        "made": [make(spec) for spec in request.get("make", [])],
        "checked": [check(encoded, password) for encoded, password in request.get("check", [])],
    },
    sys.stdout,
)
