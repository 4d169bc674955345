"""Password hashing with argon2id (argon2-cffi) and the password rules."""

from __future__ import annotations

import functools
import gzip
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from workforce.errors import Invalid
from workforce.i18n import _

MIN_LENGTH = 10
MAX_LENGTH = 256

_hasher = PasswordHasher()
# Verified against when no user matches, so an unknown e-mail costs as much time
# as a wrong password and the answer time does not reveal who has an account.
_DUMMY_HASH = _hasher.hash("workforce-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_rules(
    password: str, *, email: str | None = None, field: str = "password"
) -> None:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("Must be at least %(min_length)s characters long.",
                          min_length=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_("Must be at most %(max_length)s characters long.", max_length=MAX_LENGTH))
    if not password.strip():
        problems.append(_("Must not be only white space."))
    if email and password.strip().lower() == email.strip().lower():
        problems.append(_("Must not be the e-mail address."))
    if is_common(password):
        problems.append(_("Is one of the most common passwords, which attackers try first; choose "
                          "another (a few unrelated words make a strong one)."))
    if problems:
        raise Invalid(_("The password does not meet the rules."), errors={field: problems})


def is_common(password: str) -> bool:
    """Whether the password (in any case) is in the list of common passwords shipped
    with the service (``common-passwords.NOTICE`` says where it comes from)."""
    return password.strip().lower() in _common_passwords()


@functools.cache
def _common_passwords() -> frozenset[str]:
    data = resources.files("workforce.accounts").joinpath("common-passwords.txt.gz")
    with data.open("rb") as packed:
        lines = gzip.decompress(packed.read()).decode().splitlines()
    return frozenset(line.strip() for line in lines if line.strip())
