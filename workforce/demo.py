"""Demo data for ``make run``: one organisation, its staff and three trainers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from workforce.accounts import services, tokens
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import Role, User
from workforce.accounts.services import Profile

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed for the demo on purpose
TOKEN_LIFETIME = timedelta(days=30)
ACTOR = SystemActor("cli:demo")

STAFF = (
    ("admin@demo.example.org", Role.ADMIN, Profile("Ada Admin", "GB", "Europe/London", ("en-GB",))),
    ("manager@demo.example.org", Role.VENDOR_MANAGER,
     Profile("Victor Manager", "HK", "Asia/Hong_Kong", ("en-GB", "yue-HK"))),
    ("finance@demo.example.org", Role.FINANCE,
     Profile("Fiona Finance", "IE", "Europe/Dublin", ("en-IE",))),
)
TRAINERS = (
    ("mei@demo.example.org", Profile("Mei Chan", "HK", "Asia/Hong_Kong", ("yue-HK", "en-GB"))),
    ("wei@demo.example.org", Profile("Wei Liang", "CN", "Asia/Shanghai", ("yue-CN", "cmn-CN"))),
    ("sam@demo.example.org", Profile("Sam Rivera", "US", "America/New_York", ("en-US", "es-MX"))),
)


@dataclass(frozen=True)
class DemoAccount:
    user: User
    token: str


def seed(session: Session) -> list[DemoAccount] | None:
    """Create the demo data and a token for each account; ``None`` if it exists already."""
    if services.find_organisation_by_slug(session, DEMO_SLUG) is not None:
        return None
    organisation = services.create_organisation(session, "Demo Vendor", DEMO_SLUG)
    users = [
        services.create_staff_user(
            session, ACTOR, organisation=organisation, email=email, password=DEMO_PASSWORD,
            role=role, profile=profile,
        )
        for email, role, profile in STAFF
    ]
    users += [
        services.sign_up_trainer(session, email=email, password=DEMO_PASSWORD, profile=profile)
        for email, profile in TRAINERS
    ]
    return [
        DemoAccount(user, _demo_token(session, user))
        for user in users
    ]


def _demo_token(session: Session, user: User) -> str:
    return tokens.issue_token(session, user, label="demo", lifetime=TOKEN_LIFETIME)[1]
