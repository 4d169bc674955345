"""Small factories (factory-boy) for the models tests need; bound to the test's session."""

from __future__ import annotations

from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from workforce.accounts import tokens
from workforce.accounts.models import Organisation, Role, User
from workforce.accounts.passwords import hash_password

PASSWORD = "correct horse battery"
_current: Session | None = None


def bind(session: Session | None) -> None:
    global _current
    _current = session


def _session() -> Session:
    assert _current is not None, "factories need the `session` fixture"
    return _current


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _session
        sqlalchemy_session_persistence = "commit"


class OrganisationFactory(_Base):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class UserFactory(_Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    password_hash = factory.LazyFunction(lambda: _password_hash())
    display_name = factory.Faker("name")
    role = Role.TRAINER
    organisation = None
    country = "HK"
    timezone = "Asia/Hong_Kong"
    languages = factory.LazyFunction(lambda: ["yue-HK", "en-GB"])


class StaffFactory(UserFactory):
    role = Role.VENDOR_MANAGER
    organisation = factory.SubFactory(OrganisationFactory)


_hash: str | None = None


def _password_hash() -> str:
    global _hash
    if _hash is None:
        _hash = hash_password(PASSWORD)
    return _hash


def token_for(user: User, *, lifetime: timedelta = timedelta(hours=1)) -> str:
    session = _session()
    _, raw = tokens.issue_token(session, user, label="test", lifetime=lifetime)
    session.commit()
    return raw
