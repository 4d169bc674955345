"""Small factories (factory-boy) for the models tests need; bound to the test's session."""

from __future__ import annotations

from datetime import timedelta

import factory
import pyotp
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import tokens
from workforce.accounts.models import (
    SECOND_FACTOR_ROLES,
    Organisation,
    Role,
    TotpFactor,
    User,
)
from workforce.accounts.passwords import hash_password
from workforce.assessments.models import (
    Assessment,
    AssessmentState,
    AssessmentVersion,
    PartialCredit,
    Qualification,
    Question,
    QuestionKind,
)
from workforce.projects.models import (
    ClientKind,
    DataUse,
    GuidelineVersion,
    MembershipOrigin,
    MembershipState,
    PayModel,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectState,
    Sensitivity,
    Task,
)

PASSWORD = "correct horse battery"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the factories' authenticators
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
    email_verified_at = factory.LazyFunction(clock.now)

    @factory.post_generation
    def second_factor(user: User, create: bool, extracted: bool | None, **_: object) -> None:
        """Finance and admin staff sign in with a second factor: theirs is enrolled (its
        secret ``TOTP_SECRET``) unless ``second_factor=False``, so that a test token
        stands for a login that gave the code."""
        if create and extracted is not False and user.role in SECOND_FACTOR_ROLES:
            session = _session()
            session.add(TotpFactor(user_id=user.id, secret=TOTP_SECRET,
                                   created_at=clock.now(), confirmed_at=clock.now()))
            session.commit()


class StaffFactory(UserFactory):
    role = Role.VENDOR_MANAGER
    organisation = factory.SubFactory(OrganisationFactory)


_hash: str | None = None


def _password_hash() -> str:
    global _hash
    if _hash is None:
        _hash = hash_password(PASSWORD)
    return _hash


def fresh_otp(user_id: object, secret: str = TOTP_SECRET) -> str:
    """A code the user's authenticator shows now (or one step either side) that their
    factor has not taken yet: a later step than its last, as a second login would."""
    factor = _session().scalars(select(TotpFactor).where(TotpFactor.user_id == user_id)).one()
    totp = pyotp.TOTP(secret)
    current = totp.timecode(clock.now())
    step = max(current - 1, (factor.last_step or 0) + 1)
    assert step <= current + 1, "three logins with codes in one 30-second step"
    return totp.generate_otp(step)


def token_for(user: User, *, lifetime: timedelta = timedelta(hours=1)) -> str:
    session = _session()
    _, raw = tokens.issue_token(session, user, label="test", lifetime=lifetime)
    session.commit()
    return raw


# --- assessments ---------------------------------------------------------------------
# Published assessments built directly, without the authoring API.


class QualificationFactory(_Base):
    class Meta:
        model = Qualification
        exclude = ("organisation",)

    organisation = factory.SubFactory(OrganisationFactory)
    organisation_id = factory.SelfAttribute("organisation.id")
    code = factory.Sequence(lambda n: f"qualification-{n}")
    name = factory.Sequence(lambda n: f"Qualification {n}")
    description = ""
    locale = "yue-HK"
    validity_days = None


class AssessmentFactory(_Base):
    class Meta:
        model = Assessment

    qualification = factory.SubFactory(QualificationFactory)
    organisation_id = factory.SelfAttribute("qualification.organisation_id")
    title = factory.Sequence(lambda n: f"Assessment {n}")
    state = AssessmentState.PUBLISHED


class AssessmentVersionFactory(_Base):
    class Meta:
        model = AssessmentVersion

    assessment = factory.SubFactory(AssessmentFactory)
    number = 1
    instructions = "Answer every question."
    time_limit_seconds = 1800
    pass_mark_percent = 70
    max_attempts = 3
    cooldown_seconds = 0
    expected_duration_seconds = 900
    stipend_amount = 0
    stipend_currency = None
    show_feedback = False
    questions_per_attempt = 20
    double_grading = False
    grading_margin_percent = 10
    published_at = factory.LazyFunction(clock.now)


class QuestionFactory(_Base):
    class Meta:
        model = Question

    version = factory.SubFactory(AssessmentVersionFactory)
    position = factory.Sequence(lambda n: n + 1)
    kind = QuestionKind.SINGLE_CHOICE
    prompt = factory.Sequence(lambda n: f"Question {n}?")
    options = factory.LazyFunction(
        lambda: [{"id": "a", "text": "Option A"}, {"id": "b", "text": "Option B"}]
    )
    answer_key = factory.LazyFunction(lambda: {"correct": ["a"]})
    partial_credit = PartialCredit.ALL_OR_NOTHING
    points = 1
    rubric = factory.LazyFunction(list)
    feedback = ""


def free_text_question(version: AssessmentVersion, **kwargs: object) -> Question:
    """A free-text question with a two-criterion rubric (5 + 5 points)."""
    rubric = [
        {"id": crit, "name": crit.title(), "max_points": 5,
         "levels": [{"points": 0, "descriptor": "Missing"}, {"points": 5, "descriptor": "Full"}]}
        for crit in ("accuracy", "clarity")
    ]
    defaults: dict[str, object] = {
        "kind": QuestionKind.FREE_TEXT, "options": [], "answer_key": {}, "points": 0,
        "rubric": rubric, "prompt": "Describe what you hear.",
    }
    return QuestionFactory(version=version, **{**defaults, **kwargs})


# --- projects ------------------------------------------------------------------------
# Projects built directly, without the API: active, with a rate and guidelines.


class ProjectFactory(_Base):
    class Meta:
        model = Project
        exclude = ("manager",)

    manager = factory.SubFactory(StaffFactory)
    organisation_id = factory.SelfAttribute("manager.organisation_id")
    created_by_id = factory.SelfAttribute("manager.id")
    name = factory.Sequence(lambda n: f"Project {n}")
    description = "Label Cantonese speech clips."
    state = ProjectState.ACTIVE
    capacity = 10
    sensitivity = Sensitivity.NONE
    content_categories = factory.LazyFunction(list)
    auto_approve_days = 7
    review_sample_percent = 100
    lease_seconds = 3600
    pay_model = PayModel.PER_TASK
    currency = "USD"
    estimated_task_seconds = 300
    daily_cap_minutes = None
    weekly_cap_minutes = None
    idle_timeout_seconds = 900
    activated_at = factory.LazyFunction(clock.now)
    # What the work is for (required before activation): plain model training.
    client_kind = ClientKind.AI_LAB
    data_uses = factory.LazyFunction(lambda: [DataUse.TRAINING.value])
    restricted_uses = factory.LazyFunction(list)
    answer_retention_days = 365

    @factory.post_generation
    def rate(project: Project, create: bool, extracted: int | None, **_: object) -> None:
        """``rate=...`` (minor units) sets the first rate version (default 200 per task,
        2000 per hour); ``rate=0`` creates none."""
        amount = extracted if extracted is not None else (
            2000 if project.pay_model is PayModel.HOURLY else 200
        )
        session = _session()
        session.add(GuidelineVersion(
            project_id=project.id, number=1, body="Listen, then label the accent.",
            created_by_id=project.created_by_id, created_at=clock.now(),
        ))
        if amount:
            session.add(ProjectRate(
                project_id=project.id, number=1, amount=amount, currency=project.currency,
                effective_from=clock.now() - timedelta(days=30),
                created_by_id=project.created_by_id, created_at=clock.now(),
            ))
        session.commit()


def hourly_project(**kwargs: object) -> Project:
    defaults: dict[str, object] = {
        "pay_model": PayModel.HOURLY, "estimated_task_seconds": None,
        "daily_cap_minutes": 480, "weekly_cap_minutes": 2400,
    }
    return ProjectFactory(**{**defaults, **kwargs})


class MemberFactory(_Base):
    class Meta:
        model = ProjectMember

    project = factory.SubFactory(ProjectFactory)
    trainer = factory.SubFactory(UserFactory)
    state = MembershipState.ACTIVE
    origin = MembershipOrigin.APPLICATION
    message = ""
    joined_at = factory.LazyFunction(clock.now)


def staff(project: Project, *trainers: User) -> list[ProjectMember]:
    """Make each trainer an active member of the project."""
    return [MemberFactory(project=project, trainer=trainer) for trainer in trainers]


class TaskFactory(_Base):
    class Meta:
        model = Task

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"task-{n}")
    payload = factory.LazyFunction(lambda: {"prompt": "Which accent is this?"})
    redundancy = 1
    priority = 0
    gold_answer = None
    open_slots = factory.SelfAttribute("redundancy")


# --- pause, suspension and reports (tests/test_project_states.py and friends) --------
# Past work inserted directly: a task assignment at a given time and state, a time
# entry with its timesheet.

from datetime import datetime  # noqa: E402  (appended section: the top is shared)


def worked_task(
    project: Project,
    trainer: User,
    *,
    submitted_at: datetime | None,
    state: object = None,
    rate: object = None,
    reviewed_at: datetime | None = None,
    claimed_at: datetime | None = None,
) -> object:
    """An assignment of a fresh task, its content shown at the claim: leased
    (``submitted_at=None``) or submitted at ``submitted_at`` and in ``state`` (default
    submitted), paid at ``rate`` (a ``ProjectRate``; default none recorded)."""
    from workforce.projects.models import Assignment, AssignmentState

    task = TaskFactory(project=project, open_slots=0)
    claimed = claimed_at or (submitted_at or clock.now()) - timedelta(minutes=10)
    assignment = Assignment(
        task_id=task.id, project_id=project.id, trainer_id=trainer.id,
        state=state or (AssignmentState.SUBMITTED if submitted_at else AssignmentState.LEASED),
        claimed_at=claimed, revealed_at=claimed, lease_expires_at=claimed + timedelta(hours=1),
        submitted_at=submitted_at, answer={"label": "hk"} if submitted_at else None,
        active_seconds=300 if submitted_at else None,
        rate_id=getattr(rate, "id", None), reviewed_at=reviewed_at,
    )
    session = _session()
    session.add(assignment)
    session.commit()
    return assignment


def logged_time(
    project: Project, trainer: User, *, started_at: datetime, ended_at: datetime | None,
    rate: object = None,
) -> object:
    """A session time entry (running when ``ended_at`` is None), with its timesheet."""
    from sqlalchemy import select

    from workforce.projects.models import EntrySource, TimeEntry, Timesheet

    session = _session()
    week_start = (started_at - timedelta(days=started_at.weekday())).date()
    sheet = session.scalars(select(Timesheet).where(
        Timesheet.project_id == project.id, Timesheet.trainer_id == trainer.id,
        Timesheet.week_start == week_start,
    )).one_or_none()
    if sheet is None:
        sheet = Timesheet(project_id=project.id, trainer_id=trainer.id, week_start=week_start,
                          currency=project.currency)
        session.add(sheet)
        session.flush()
    if rate is None:
        rate = session.scalars(select(ProjectRate).where(
            ProjectRate.project_id == project.id).order_by(ProjectRate.number)).first()
    entry = TimeEntry(
        project_id=project.id, trainer_id=trainer.id, timesheet_id=sheet.id,
        source=EntrySource.SESSION, started_at=started_at, ended_at=ended_at,
        last_heartbeat_at=ended_at or started_at, rate_id=rate.id,
    )
    session.add(entry)
    session.commit()
    return entry


# --- staffing (tests/test_staffing*.py, tests/test_projects*.py) ---------------------


def grant(
    trainer: User,
    qualification: Qualification,
    *,
    score: object = "90",
    expires_at: datetime | None = None,
    status: object = None,
) -> object:
    """The trainer's standing in a qualification (granted with ``score`` percent by
    default; ``score=None`` is a manual grant without a score)."""
    from decimal import Decimal

    from workforce.assessments.models import (
        QualificationSource,
        QualificationStatus,
        TrainerQualification,
    )

    record = TrainerQualification(
        qualification_id=qualification.id, trainer_id=trainer.id,
        status=status or QualificationStatus.GRANTED,
        score_percent=None if score is None else Decimal(str(score)),
        granted_at=clock.now(), expires_at=expires_at, source=QualificationSource.MANUAL,
    )
    session = _session()
    session.add(record)
    session.commit()
    return record


# --- payout accounts (billing) ---------------------------------------------------------


def payout_account(
    trainer: User,
    *,
    method: object = "manual",
    ready: bool = True,
    stripe_account_id: str | None = None,
    hold_until: datetime | None = None,
) -> object:
    """A trainer's payout account, written directly: manual bank details (ready), or a
    Stripe account (``stripe_account_id``; ``ready`` sets ``payouts_enabled``)."""
    from workforce.billing.models import PayoutAccount, PayoutMethod

    method = PayoutMethod(method)
    manual = method is PayoutMethod.MANUAL
    account = PayoutAccount(
        trainer_id=trainer.id, method=method,
        stripe_account_id=None if manual else stripe_account_id or f"acct_{trainer.id.hex[:16]}",
        payouts_enabled=ready,
        requirements={} if ready or manual else {"currently_due": ["external_account"]},
        bank_details={"holder_name": trainer.display_name, "bank_name": "Test Bank",
                      "country": "DE", "iban": "DE89370400440532013000"}
        if manual and ready else {},
        details_changed_at=clock.now(), hold_until=hold_until,
    )
    session = _session()
    session.add(account)
    session.commit()
    return account


# --- earnings and the ledger (tests/test_ledger*.py, test_earnings*.py, test_bonuses*.py) -
# Money recorded directly through the billing services, and a payout item with its
# ledger movements made the way the payout runs make them.


def earned(
    trainer: User,
    organisation_id: object,
    amount: int,
    *,
    currency: str = "USD",
    project: Project | None = None,
    description: str = "Task approved",
) -> object:
    """A task-approval earning (a fresh source) recorded and posted to the ledger."""
    import uuid

    from workforce.billing.models import EarningKind
    from workforce.billing.services import record_earning
    from workforce.money import Money

    session = _session()
    event = record_earning(
        session, kind=EarningKind.TASK_APPROVAL, trainer_id=trainer.id,
        organisation_id=organisation_id, money=Money(amount, currency),
        source_type="test", source_id=uuid.uuid4(), description=description,
        project_id=project.id if project is not None else None,
    )
    session.commit()
    return event


def paid_out(
    trainer: User,
    organisation_id: object,
    amount: int,
    *,
    currency: str = "USD",
    paid: bool = True,
) -> object:
    """A payout item of ``amount``: approved (payable -> in transit) and, if ``paid``,
    paid (in transit -> paid)."""
    from sqlalchemy import select

    from workforce.billing import ledger
    from workforce.billing.models import (
        AccountKind,
        ItemState,
        PayoutAccount,
        PayoutItem,
        PayoutMethod,
        PayoutRun,
        PayoutSchedule,
        RunState,
        SourceType,
    )

    session = _session()
    account = session.scalars(
        select(PayoutAccount).where(PayoutAccount.trainer_id == trainer.id)
    ).one_or_none()
    if account is None:
        account = PayoutAccount(trainer_id=trainer.id, method=PayoutMethod.MANUAL,
                                payouts_enabled=True)
        session.add(account)
    schedule = PayoutSchedule(organisation_id=organisation_id, name="Weekly", weekday=0,
                              hour=2, timezone="UTC")
    session.add(schedule)
    session.flush()
    run = PayoutRun(schedule_id=schedule.id, organisation_id=organisation_id,
                    period_end=clock.now(), state=RunState.APPROVED)
    session.add(run)
    session.flush()
    item = PayoutItem(
        run_id=run.id, organisation_id=organisation_id, trainer_id=trainer.id,
        payout_account_id=account.id, method=PayoutMethod.MANUAL, amount=amount,
        currency=currency, state=ItemState.PAID if paid else ItemState.APPROVED,
        paid_at=clock.now() if paid else None,
    )
    session.add(item)
    session.flush()

    def trainer_account(kind: AccountKind):
        return ledger.trainer_account(session, organisation_id, trainer.id, kind, currency)

    payable, transit = trainer_account(AccountKind.PAYABLE), trainer_account(AccountKind.IN_TRANSIT)
    ledger.post(session, source_type=SourceType.PAYOUT_APPROVED, source_id=item.id,
                reason="Payout approved", organisation_id=organisation_id,
                trainer_id=trainer.id, legs=[ledger.Leg(payable, amount),
                                             ledger.Leg(transit, -amount)])
    if paid:
        paid_account = trainer_account(AccountKind.PAID)
        ledger.post(session, source_type=SourceType.PAYOUT_PAID, source_id=item.id,
                    reason="Payout paid", organisation_id=organisation_id,
                    trainer_id=trainer.id, legs=[ledger.Leg(transit, amount),
                                                 ledger.Leg(paid_account, -amount)])
    session.commit()
    return item


# --- wellbeing: consent and limits (tests/test_consent.py, test_exposure_limits.py) ----


def consenting(trainer: User, *categories: str) -> None:
    """The trainer attested being 18 or over and consents to the categories."""
    from workforce.projects.models import ContentCategory
    from workforce.wellbeing.models import AgeAttestation, ContentConsent

    session = _session()
    if session.get(AgeAttestation, trainer.id) is None:
        session.add(AgeAttestation(trainer_id=trainer.id, attested_at=clock.now()))
    from sqlalchemy import select

    live = set(session.scalars(select(ContentConsent.category).where(
        ContentConsent.trainer_id == trainer.id, ContentConsent.withdrawn_at.is_(None))))
    for category in dict.fromkeys(ContentCategory(c) for c in categories):
        if category not in live:
            session.add(ContentConsent(trainer_id=trainer.id, category=category,
                                       given_at=clock.now()))
    session.commit()


def wellbeing_policy(organisation_id: object, **fields: object) -> object:
    """The organisation's wellbeing policy row with ``fields`` changed from the defaults."""
    from workforce.wellbeing import policies

    session = _session()
    policy = policies.policy_for(session, organisation_id)
    for name, value in fields.items():
        setattr(policy, name, value)
    session.add(policy)
    session.commit()
    return policy
