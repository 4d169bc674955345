"""Demo data for ``make run``: one organisation, its staff and three trainers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from workforce.accounts import services, tokens
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import Role, User
from workforce.accounts.services import Profile
from workforce.assessments import services as assessments
from workforce.assessments.models import MediaKind, QuestionKind

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
    _listening_test(session, admin=users[0], manager=users[1])
    return [
        DemoAccount(user, _demo_token(session, user))
        for user in users
    ]


def _demo_token(session: Session, user: User) -> str:
    return tokens.issue_token(session, user, label="demo", lifetime=TOKEN_LIFETIME)[1]


CLIPS = (
    ("https://media.example.org/demo/clip-01.ogg", "hk"),
    ("https://media.example.org/demo/clip-02.ogg", "gz"),
    ("https://media.example.org/demo/clip-03.ogg", "hk"),
    ("https://media.example.org/demo/clip-04.ogg", "gz"),
)


def _listening_test(session: Session, *, admin: User, manager: User) -> None:
    """A paid Cantonese listening test, published, under a 15 USD/hour wage floor."""
    assessments.set_wage_floor(session, admin, currency="USD", hourly_amount=1500)
    qualification = assessments.create_qualification(
        session, manager, code="yue-hk-listening", name="Hong Kong Cantonese listening",
        description="Tells Hong Kong from Guangzhou Cantonese by ear.", locale="yue-HK",
        validity_days=365,
    )
    assessment = assessments.create_assessment(
        session, manager, title="Cantonese listening: Hong Kong or Guangzhou?",
        qualification_id=qualification.id,
        instructions="Use headphones. Each clip plays a short sentence; say where the "
        "speaker is from.",
        time_limit_seconds=1800, pass_mark_percent=75, max_attempts=3, cooldown_seconds=86400,
        expected_duration_seconds=1200, stipend_amount=500, stipend_currency="USD",
        show_feedback=True, questions_per_attempt=4,
    )
    for url, region in CLIPS:
        assessments.add_question(
            session, manager, assessment.id, kind=QuestionKind.SINGLE_CHOICE,
            prompt="Which region is this speaker from?", media_url=url,
            media_kind=MediaKind.AUDIO,
            options=[{"id": "hk", "text": "Hong Kong"}, {"id": "gz", "text": "Guangzhou"}],
            answer_key={"correct": [region]}, points=1,
        )
    assessments.publish(session, manager, assessment.id)
