"""Demo data for ``make run``: one organisation, its staff and three trainers, a paid
listening test, two active projects (per task and hourly) with Mei staffed on both, a
weekly payout schedule, Mei's bank details and a bonus waiting to be paid to her, and a
graphic red-teaming project under a wellbeing policy with a 24/7 support line (joining
it needs consent to its content), and three projects with task templates and gold tasks:
a Cantonese voice naturalness test, a chatbot answer comparison and rubric writing; and
a Cantonese read-aloud project whose task asks for a recording."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy.orm import Session

from workforce.accounts import mfa, services, tokens, verification
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import Role, User
from workforce.accounts.services import Profile
from workforce.assessments import services as assessments
from workforce.assessments.models import MediaKind, Qualification, QuestionKind
from workforce.billing import corrections, floors, payout_accounts, payouts
from workforce.pagination import PageRequest
from workforce.projects import declared_use, imports, staffing
from workforce.projects import services as projects
from workforce.projects.models import (
    ClientKind,
    ContentCategory,
    DataUse,
    MembershipState,
    PayModel,
    RestrictedUse,
    Sensitivity,
)
from workforce.results import templates
from workforce.uploads import consent
from workforce.wellbeing import policies

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
    # Finance and admin sign in with a second factor: the demo enrols theirs, and this
    # is the secret to type into an authenticator app for later logins.
    totp_secret: str | None = None


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
    users += [_demo_trainer(session, email, profile) for email, profile in TRAINERS]
    qualification = _listening_test(session, admin=users[0], manager=users[1])
    _projects(session, manager=users[1], qualification=qualification, trainers=users[3:])
    _payouts(session, manager=users[1], finance=users[2], mei=users[3])
    _wellbeing(session, admin=users[0], manager=users[1])
    _templated_projects(session, manager=users[1], mei=users[3])
    _recording_project(session, manager=users[1], mei=users[3])
    return [
        DemoAccount(user, _demo_token(session, user), _demo_second_factor(session, user))
        for user in users
    ]


def _demo_second_factor(session: Session, user: User) -> str | None:
    if not mfa.required_for(user):
        return None
    enrolment = mfa.start_enrolment(session, user)
    mfa.confirm_enrolment(session, user, pyotp.TOTP(enrolment.secret).now())
    return enrolment.secret


def _demo_trainer(session: Session, email: str, profile: Profile) -> User:
    # The demo's addresses are its own: no verification e-mail, verified at once.
    trainer = services.sign_up_trainer(session, email=email, password=DEMO_PASSWORD,
                                       profile=profile, verification=None)
    verification.mark_verified(trainer)
    return trainer


def _demo_token(session: Session, user: User) -> str:
    return tokens.issue_token(session, user, label="demo", lifetime=TOKEN_LIFETIME)[1]


CLIPS = (
    ("https://media.example.org/demo/clip-01.ogg", "hk"),
    ("https://media.example.org/demo/clip-02.ogg", "gz"),
    ("https://media.example.org/demo/clip-03.ogg", "hk"),
    ("https://media.example.org/demo/clip-04.ogg", "gz"),
)


def _listening_test(session: Session, *, admin: User, manager: User) -> Qualification:
    """A paid Cantonese listening test, published, under a 15 USD/hour wage floor."""
    floors.set_floor(session, admin, currency="USD", hourly_amount=1500)
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
    return qualification


def _projects(
    session: Session, *, manager: User, qualification: Qualification, trainers: list[User]
) -> None:
    """A per-task labelling project with queued clips and an hourly review project;
    Mei holds the listening qualification and is staffed on both."""
    mei = trainers[0]
    assessments.grant_qualification(
        session, manager, qualification.id, trainer_id=mei.id,
        reason="Demo: passed the listening test in an earlier pilot.",
    )
    requirement = projects.RequirementInput(qualification.id, min_score_percent=0,
                                            locale="yue-HK")
    labelling = projects.create_project(
        session, manager, name="Hong Kong or Guangzhou? Accent labelling",
        description="Listen to short clips and label the speaker's accent.",
        capacity=25, pay_model=PayModel.PER_TASK, currency="USD",
        estimated_task_seconds=90, rate=40, review_sample_percent=20,
        guidelines="Use headphones. Label 'hk' or 'gz'; skip nothing.",
        requirements=[requirement],
    )
    review = projects.create_project(
        session, manager, name="Cantonese transcript review (hourly)",
        description="Check machine transcripts of Cantonese speech against the audio.",
        capacity=5, pay_model=PayModel.HOURLY, currency="USD", rate=1800,
        daily_cap_minutes=240, weekly_cap_minutes=1200,
        guidelines="Correct the transcript; mark unclear words with [?].",
        requirements=[requirement],
    )
    for project in (labelling, review):
        _declare_use(session, manager, project.id, [DataUse.TRAINING, DataUse.EVALUATION])
        projects.activate_project(session, manager, project.id)
        staffing.invite(session, manager, project.id, trainer_ids=[mei.id],
                        message="Your listening results were excellent.")
        invitation = staffing.list_my_memberships(session, mei, PageRequest(limit=10)).items[0]
        staffing.accept_invitation(session, mei, invitation.id)
    imports.import_tasks(session, manager, labelling.id, io.BytesIO(_clips_jsonl()),
                         fmt=imports.ImportFormat.JSONL)


def _payouts(session: Session, *, manager: User, finance: User, mei: User) -> None:
    """Weekly payouts on Monday 02:00 Dublin time that finance approves, Mei's bank
    details for the manual method, and a bonus of 5.00 USD owed to her."""
    payouts.create_schedule(
        session, finance, name="Weekly", weekday=0, hour=2, timezone="Europe/Dublin",
        minimums={"USD": 1000},
    )
    payout_accounts.set_manual_details(session, mei, {
        "holder_name": "Mei Chan", "bank_name": "Demo Bank Hong Kong", "country": "HK",
        "account_number": "012345678901", "bank_code": "004",
    }, hold=timedelta(0))
    corrections.create_bonus(
        session, manager, trainer_id=mei.id, amount=500, currency="USD",
        reason="Welcome to the accent-labelling pilot", idempotency_key="demo-welcome-mei",
    )


def _wellbeing(session: Session, *, admin: User, manager: User) -> None:
    """A graphic red-teaming project (violence, self-harm) that trainers may join only
    after opting in, under a policy naming the manager as wellbeing contact."""
    policies.update_policy(session, admin, {
        "support_line": "+852 2389 2222 (Samaritan Befrienders Hong Kong, 24/7)",
        "support_links": [{"label": "Find a helpline", "url": "https://findahelpline.com"}],
        "wellbeing_contact_id": manager.id,
        "counselling_after_minutes": 600, "counselling_amount": 4000,
        "counselling_currency": "USD",
    })
    red_team = projects.create_project(
        session, manager, name="Red-team replies: violent and self-harm prompts",
        description="Rate a model's replies to prompts about violence and self-harm.",
        capacity=10, pay_model=PayModel.HOURLY, currency="USD", rate=2200,
        sensitivity=Sensitivity.GRAPHIC,
        content_categories=[ContentCategory.VIOLENCE, ContentCategory.SELF_HARM],
        daily_cap_minutes=180, weekly_cap_minutes=900,
        guidelines="Stop whenever you need to. Flag anything that stays with you.",
    )
    _declare_use(session, manager, red_team.id, [DataUse.RED_TEAMING, DataUse.SAFETY])
    projects.activate_project(session, manager, red_team.id)


# --- task templates (issue 15) ---------------------------------------------------------

NATURALNESS_FIELDS = [
    {"name": "naturalness", "label": "How natural does this voice sound?",
     "help": "Mean opinion score: listen to the whole clip once, then rate it.",
     "kind": "rating",
     "settings": {"min": 1, "max": 5, "step": 1, "min_label": "Clearly synthetic",
                  "max_label": "Like a native speaker", "gold_tolerance": 1}},
    {"name": "accent", "label": "Which Cantonese accent do you hear?",
     "help": "Hong Kong or Guangzhou; 'other' for anything else (Macau, Taishanese...).",
     "kind": "single_choice",
     "settings": {"options": [{"value": "yue-HK", "label": "Hong Kong"},
                              {"value": "yue-CN", "label": "Guangzhou"},
                              {"value": "other", "label": "Other"}]}},
]
COMPARISON_FIELDS = [
    {"name": "preference", "label": "Which answer is better?",
     "help": "A is the first response, B the second. Judge accuracy first, then clarity.",
     "kind": "pairwise",
     "settings": {"allow_tie": True,
                  "strength": {"min": 1, "max": 3, "min_label": "Slightly",
                               "max_label": "Much"},
                  "reason_required": True, "reason_min_length": 20}},
]
RUBRIC_FIELDS = [
    {"name": "criteria", "label": "Grading criteria",
     "help": "At least 20 criteria a grader can check an essay against, each with a "
     "source.", "kind": "rubric",
     "settings": {"min_criteria": 20, "max_criteria": 40, "scoring": "points",
                  "min_citations": 1, "citation_hosts": []}},
]


def _templated_projects(session: Session, *, manager: User, mei: User) -> None:
    """Three projects with task templates, Mei staffed on each, a few gold tasks in each:
    a Cantonese voice naturalness test (a 1-5 rating and the accent, on audio), a chatbot
    answer comparison (which of two answers is better, and why) and rubric writing for a
    humanities question (20 or more criteria, each with a source)."""
    for name, description, fields, rows in (
        ("Cantonese voice naturalness (MOS)",
         "Listen to synthetic Cantonese speech: rate how natural it sounds and name the "
         "accent.", NATURALNESS_FIELDS, _voice_rows()),
        ("Chatbot answers: which is better?",
         "Read a question and two chatbot answers; pick the better one and say why.",
         COMPARISON_FIELDS, _comparison_rows()),
        ("Rubric writing: humanities essay questions",
         "Write the criteria a grader would use for an essay question, with sources.",
         RUBRIC_FIELDS, _rubric_rows()),
    ):
        project = projects.create_project(
            session, manager, name=name, description=description, capacity=20,
            pay_model=PayModel.PER_TASK, currency="USD", estimated_task_seconds=240,
            rate=150, review_sample_percent=20,
            guidelines="Follow the field help; ask the manager when in doubt.",
        )
        templates.publish(session, manager, project.id, fields=fields,
                          change_note="First version.")
        _declare_use(session, manager, project.id, [DataUse.TRAINING, DataUse.EVALUATION])
        _activate_with_mei(session, manager, project.id, mei,
                           "A new kind of task, with a form to fill in.")
        imports.import_tasks(session, manager, project.id, io.BytesIO(_jsonl(rows)),
                             fmt=imports.ImportFormat.JSONL)


def _activate_with_mei(session: Session, manager: User, project_id: uuid.UUID, mei: User,
                       message: str) -> None:
    """Activate the project, and invite Mei, who accepts."""
    projects.activate_project(session, manager, project_id)
    staffing.invite(session, manager, project_id, trainer_ids=[mei.id], message=message)
    invitation = staffing.list_my_memberships(
        session, mei, PageRequest(limit=1), state=MembershipState.INVITED).items[0]
    staffing.accept_invitation(session, mei, invitation.id)


READING_FIELDS = [
    {"name": "reading", "label": "Read the five sentences aloud, in one recording",
     "help": "A quiet room, your own accent, about 30 cm from the microphone.",
     "kind": "recording",
     "settings": {"types": ["wav", "flac", "ogg"], "min_seconds": 5, "max_seconds": 120,
                  "min_sample_rate": 16_000, "max_bytes": 20_000_000}},
]
# Written Cantonese with its own (full-width) punctuation.
FIVE_SENTENCES = [
    "今日天氣好好，我哋去行山啦。",
    "唔該你講慢少少。",
    "我住喺旺角，返工要搭地鐵。",
    "呢間茶餐廳嘅奶茶好出名。",
    "聽日記得帶遮，天文台話會落雨。",
]


def _recording_project(session: Session, *, manager: User, mei: User) -> None:
    """Cantonese voice recordings (issue 17): a "read these five sentences" task, a
    recording policy shown before trainers apply, and Mei's consent to it. A project of
    its own, since a template is the project's: the naturalness test's clips are
    answered with a rating, this task with a recording."""
    project = projects.create_project(
        session, manager, name="Cantonese voice recordings: read aloud",
        description="Read short Cantonese sentences aloud in your own accent; the "
        "recordings train a speech recogniser.", capacity=20, pay_model=PayModel.PER_TASK,
        currency="USD", estimated_task_seconds=180, rate=120, review_sample_percent=100,
        guidelines="Read each sentence once, in order, with a short pause between them.")
    templates.publish(session, manager, project.id, fields=READING_FIELDS,
                      change_note="First version.")
    _declare_use(session, manager, project.id, [DataUse.TRAINING])
    consent.set_policy(session, manager, project.id,
                       what_is_recorded="Your voice reading the task's sentences aloud.",
                       purpose="Training and testing a Cantonese speech recogniser.",
                       retention_days=365)
    _activate_with_mei(session, manager, project.id, mei,
                       "Your accent is just what this recogniser needs.")
    consent.give_consent(session, mei, project.id)
    row = {"external_id": "read-aloud-01",
           "payload": {"prompt": "Read these five sentences aloud: "
                       + " ".join(FIVE_SENTENCES),
                       "instructions": "One recording, all five sentences, in order."}}
    imports.import_tasks(session, manager, project.id, io.BytesIO(_jsonl([row])),
                         fmt=imports.ImportFormat.JSONL)


def _voice_rows() -> list[dict[str, Any]]:
    # Two gold clips: one a trained listener rates natural Hong Kong speech, one a
    # clearly synthetic Guangzhou voice.
    gold = {1: {"naturalness": 5, "accent": "yue-HK"}, 2: {"naturalness": 2, "accent": "yue-CN"}}
    return [
        {"external_id": f"voice-{n:02d}", "priority": 1 if n in gold else 0,
         "gold_answer": gold.get(n),
         "payload": {"prompt": "How natural does this Cantonese voice sound, and which "
                     "accent is it?",
                     "media_urls": [f"https://media.example.org/demo/voice-{n:02d}.ogg"],
                     "instructions": "Use headphones; play the clip once before rating."}}
        for n in range(1, 9)
    ]


QUESTIONS = (
    ("Why is Victoria Harbour called a harbour and not a river?",
     "It is an inlet of the South China Sea between Hong Kong Island and Kowloon, with "
     "salt water and tides; no river flows through it.",
     "Because it is very wide."),
    ("What does 'dim sum' literally mean?",
     "It means 'touch the heart': small dishes meant to lift the spirits, not to fill up.",
     "It means 'touch the heart', from the idea of a small snack."),
    ("When was the Star Ferry founded?",
     "The Star Ferry began in 1888, founded by Dorabjee Naorojee Mithaiwala.",
     "The Star Ferry began in 1960 when the tunnels opened."),
    ("What language is mostly spoken in Guangzhou at home?",
     "Cantonese and Mandarin are both common; many families speak Cantonese.",
     "Only English."),
)


def _comparison_rows() -> list[dict[str, Any]]:
    gold = {
        1: {"preference": {"choice": "A", "strength": 3,
                           "reason": "A explains the inlet and tides; B gives no reason."}},
        2: {"preference": {"choice": "tie",
                           "reason": "Both give the literal meaning correctly and clearly."}},
    }
    return [
        {"external_id": f"compare-{n:02d}", "priority": 1 if n in gold else 0,
         "gold_answer": gold.get(n),
         # Ids name the responses (one score each across the project), so each
         # task's two are its own.
         "payload": {"prompt": question,
                     "responses": [{"id": f"compare-{n:02d}-a", "text": a},
                                   {"id": f"compare-{n:02d}-b", "text": b}],
                     "instructions": "Judge accuracy first, then clarity."}}
        for n, (question, a, b) in enumerate(QUESTIONS, start=1)
    ]


RUBRIC_TOPICS = (
    "thesis", "historical context", "primary sources", "secondary sources", "chronology",
    "causation", "continuity and change", "comparison", "perspective", "evidence",
    "counter-argument", "periodisation", "terminology", "geography", "economy",
    "society", "religion", "culture", "conclusion", "citation practice",
)


def _rubric_rows() -> list[dict[str, Any]]:
    # A gold rubric a person compares with the trainer's: rubrics are never scored
    # automatically, so every gold task here goes to review.
    gold = {"criteria": [
        {"title": f"Addresses {topic}", "points": 5,
         "description": f"The essay deals with {topic} as it bears on the question.",
         "justification": f"Graders of the question expect {topic} to be covered.",
         "citations": [{"url": "https://en.wikipedia.org/wiki/Opium_War",
                        "title": "First Opium War"}]}
        for topic in RUBRIC_TOPICS
    ]}
    questions = (
        "How did the First Opium War change Hong Kong's place in the world?",
        "Why did Cantonese opera flourish in 1950s Hong Kong?",
        "What did the Canton System mean for trade in Guangzhou?",
    )
    return [
        {"external_id": f"rubric-{n:02d}", "priority": 1 if n == 1 else 0,
         "gold_answer": gold if n == 1 else None,
         "payload": {"prompt": question,
                     "instructions": "Write at least 20 criteria, each citing a source."}}
        for n, question in enumerate(questions, start=1)
    ]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _clips_jsonl() -> bytes:
    rows = (
        {"external_id": f"clip-{n:03d}", "priority": 1 if n <= 3 else 0,
         "payload": {"prompt": "Which region is this speaker from?",
                     "media_urls": [f"https://media.example.org/demo/task-{n:03d}.ogg"],
                     "instructions": "Answer 'hk' or 'gz'."}}
        for n in range(1, 13)
    )
    return _jsonl(list(rows))


def _declare_use(
    session: Session, manager: User, project_id: uuid.UUID, uses: list[DataUse]
) -> None:
    """What the demo's work is for: an AI lab's models, no restricted use, a year."""
    declared_use.declare(
        session, manager, project_id, client_kind=ClientKind.AI_LAB, data_uses=uses,
        restricted_uses={u.value: False for u in RestrictedUse}, answer_retention_days=365,
    )
