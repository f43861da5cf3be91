"""Password hashing with argon2 (argon2-cffi's defaults, RFC 9106's low-memory profile).

Only the encoded hash is stored; it carries its own salt and parameters, so raising the cost later
only means rehashing at the next successful login (:func:`needs_rehash`).
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12  # a password a person chooses; generated ones are longer
MAX_LENGTH = 1024  # hashing cost grows with the input: a megabyte "password" is an attack, not a secret

_hasher = PasswordHasher()


class PasswordRuleError(ValueError):
    """A password that does not meet the rules (the message says which, never the password)."""


def check_rules(password: str) -> None:
    """Raise :class:`PasswordRuleError` unless ``password`` is between the length bounds."""
    if len(password) < MIN_LENGTH:
        raise PasswordRuleError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRuleError(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The encoded argon2 hash of ``password`` (after :func:`check_rules`)."""
    check_rules(password)
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False for a wrong password or a broken hash."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def dummy_hash() -> str:
    """A hash no password matches, verified against when the user is unknown: the answer takes as
    long as for a known user, so timing does not tell which names exist."""
    return _hasher.hash(secrets.token_urlsafe(32))


def generate() -> str:
    """A strong random password (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)
