"""A small world for the authorization matrix and the OWASP API tests: two organisations
("A" and "B"), each with its staff, a trainer who works only for it, and one real object
of every kind a route can aim at, so that "another organisation's object" is a real row.

Objects are made with the factories, and through the API where a state machine has to
be walked (attempts, gradings, claims, flags, support cases, check-ins, appeals), so
they are the objects the product itself makes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import time_machine
from sqlalchemy import Connection, MetaData, select
from sqlalchemy.orm import Session

from tests import factories
from tests.authz_policy import TEMPLATE_FIELD
from tests.client import ApiClient
from tests.factories import (
    PASSWORD,
    AssessmentFactory,
    AssessmentVersionFactory,
    MemberFactory,
    ProjectFactory,
    QualificationFactory,
    QuestionFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    consenting,
    earned,
    free_text_question,
    grant,
    hourly_project,
    logged_time,
    paid_out,
    payout_account,
    token_for,
    wellbeing_policy,
    worked_task,
)
from workforce import clock
from workforce.accounts import services as accounts
from workforce.accounts import tokens
from workforce.accounts.models import ApiToken, Organisation, Role, User
from workforce.billing.models import JournalEntry, PayoutRun
from workforce.db import Base, Database
from workforce.integrations import endpoints as webhook_endpoints
from workforce.integrations import keys
from workforce.integrations.catalogue import EventType
from workforce.integrations.events import emit
from workforce.integrations.scopes import Scope
from workforce.notifications.services import tell
from workforce.privacy import exports as privacy_exports
from workforce.projects.models import (
    AssignmentState,
    ContentCategory,
    ProjectRequirement,
    Sensitivity,
)
from workforce.results import quality_rules
from workforce.uploads.models import Upload, UploadState

API = "/api/v1"
STAFF_ROLES = (Role.ADMIN, Role.VENDOR_MANAGER, Role.REVIEWER, Role.FINANCE)
# Markers that must never reach a caller who is not meant to see them.
GOLD_MARKER = "gold-answer-never-shown"
ANSWER_KEY_MARKER = "answer-key-never-shown"


@dataclass
class Side:
    """One organisation's corner of the world: people and one object of each kind."""

    label: str
    organisation: Organisation
    people: dict[Role, User]
    objects: dict[str, uuid.UUID] = field(default_factory=dict)
    # Everything that belongs to this side (rows reachable from its organisation and
    # its trainer), for the leak checks; filled by ``World.collect_ids``.
    ids: set[str] = field(default_factory=set)
    tables: dict[str, set[str]] = field(default_factory=dict)  # table name -> its ids
    emails: set[str] = field(default_factory=set)
    # API key secrets: one key per scope (by its value), and "all" holding every scope.
    keys: dict[str, str] = field(default_factory=dict)

    def ids_except(self, tables: tuple[str, ...]) -> set[str]:
        shared = set().union(*(self.tables.get(name, set()) for name in tables))
        return self.ids - shared

    @property
    def trainer(self) -> User:
        return self.people[Role.TRAINER]


@dataclass
class World:
    a: Side
    b: Side

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def build_side(client: ApiClient, session: Session, label: str) -> Side:
    organisation = Organisation(name=f"Vendor {label} {uuid.uuid4().hex[:6]}",
                                slug=f"vendor-{label.lower()}-{uuid.uuid4().hex[:8]}")
    session.add(organisation)
    session.commit()
    people: dict[Role, User] = {
        role: StaffFactory(role=role, organisation=organisation,
                           email=f"{role.value}-{label.lower()}-{uuid.uuid4().hex[:6]}@example.org")
        for role in STAFF_ROLES
    }
    trainer = UserFactory(email=f"trainer-{label.lower()}-{uuid.uuid4().hex[:6]}@example.org")
    people[Role.TRAINER] = trainer
    side = Side(label, organisation, people)
    o = side.objects
    for user in people.values():  # tokens that outlive anything the tests do
        raw = client._tokens[user.id] = token_for(user, lifetime=timedelta(days=30))
        o[f"api_token_{user.role.value}"] = session.scalars(select(ApiToken.id).where(
            ApiToken.token_hash == tokens.hash_secret(raw))).one()
    manager, reviewer = people[Role.VENDOR_MANAGER], people[Role.REVIEWER]
    admin = people[Role.ADMIN]
    o["organisation"] = organisation.id
    # The reviewer is the wellbeing contact: support cases are theirs and the admins'.
    wellbeing_policy(organisation.id, wellbeing_contact_id=reviewer.id)

    # --- an assessment: a trainer's attempt, graded by the reviewer ------------------
    qualification = QualificationFactory(organisation=organisation)
    o["qualification"] = qualification.id
    assessment = AssessmentFactory(qualification=qualification)
    version = AssessmentVersionFactory(assessment=assessment, questions_per_attempt=2)
    QuestionFactory(version=version, answer_key={"correct": ["a"], "note": ANSWER_KEY_MARKER})
    question = free_text_question(version)
    o["assessment"], o["question"] = assessment.id, question.id
    attempt = _ok(client.post(f"{API}/me/assessments/{assessment.id}/attempts",
                              as_user=trainer), 201)
    for asked in attempt["questions"]:
        body = {"option_id": "a"} if asked["kind"] == "single_choice" else {"text": "Clear."}
        _ok(client.request("PUT", f"{API}/me/attempts/{attempt['id']}/answers/{asked['id']}",
                           as_user=trainer, json=body))
    _ok(client.post(f"{API}/me/attempts/{attempt['id']}/submit", as_user=trainer))
    o["attempt"] = uuid.UUID(attempt["id"])
    grading = _ok(client.post(f"{API}/grading/attempts/{attempt['id']}/claim",
                              as_user=reviewer), 201)
    o["grading"] = uuid.UUID(grading["id"])
    grant(trainer, qualification)

    # --- a per-task project with sensitive content ------------------------------------
    consenting(trainer, ContentCategory.VIOLENCE.value)
    project = ProjectFactory(
        manager=manager, sensitivity=Sensitivity.SENSITIVE,
        content_categories=[ContentCategory.VIOLENCE.value], estimated_task_seconds=600,
        rate=300, review_sample_percent=100,
    )
    session.add(ProjectRequirement(project_id=project.id, qualification_id=qualification.id))
    session.commit()
    o["project"] = project.id
    o["membership"] = MemberFactory(project=project, trainer=trainer).id
    for n in range(3):
        TaskFactory(project=project, priority=n, gold_answer={"label": GOLD_MARKER})
    leased = _ok(client.post(f"{API}/projects/{project.id}/claims", as_user=trainer), 201)
    o["assignment"] = uuid.UUID(leased["id"])
    submitted = worked_task(project, trainer, submitted_at=clock.now() - timedelta(hours=2))
    o["submitted_assignment"] = submitted.id
    o["upload"] = _upload(client, session, project, trainer, submitted.id)
    # A quality rule that the submitted work (300 s, under a day) catches: the trainer
    # is restricted on the project, and still holds the lease above. Made before the
    # work: a rule judges only work submitted since.
    with time_machine.travel(clock.now() - timedelta(hours=3), tick=False):
        rule = _ok(client.post(f"{API}/projects/{project.id}/quality-rules",
                               as_user=manager, json={
                                   "kind": "fast_submissions", "sample_size": 1,
                                   "max_fast": 0, "min_seconds": 86400}), 201)
    o["quality_rule"] = uuid.UUID(rule["id"])
    (restriction,) = quality_rules.after_submission(session, submitted, clock.now())
    o["quality_restriction"] = restriction.id
    session.commit()
    rejected = worked_task(project, trainer, submitted_at=clock.now() - timedelta(hours=3),
                           state=AssignmentState.REJECTED,
                           reviewed_at=clock.now() - timedelta(hours=1))
    o["rejected_assignment"] = rejected.id
    appeal = _ok(client.post(f"{API}/me/assignments/{rejected.id}/appeal", as_user=trainer,
                             json={"message": "The clip is Hong Kong Cantonese."}), 201)
    o["appeal"] = uuid.UUID(appeal["id"])
    flagged = worked_task(project, trainer, submitted_at=None)
    receipt = _ok(client.post(
        f"{API}/me/assignments/{flagged.id}/flag", as_user=trainer,
        json={"category": "violence", "severity": "low", "note": "Hard to watch.",
              "need_support": True, "support_message": "Could someone call me?"}), 201)
    o["flag"] = uuid.UUID(receipt["flag"]["id"])
    o["case"] = uuid.UUID(receipt["support_case_id"])
    _ok(client.post(f"{API}/me/check-ins", as_user=trainer, json={"mood": 4}), 201)

    # --- an hourly project: a running session, a manual entry, a timesheet -----------
    hourly = hourly_project(manager=manager)
    session.add(ProjectRequirement(project_id=hourly.id, qualification_id=qualification.id))
    o["hourly_project"] = hourly.id
    o["hourly_membership"] = MemberFactory(project=hourly, trainer=trainer).id
    _ok(client.request("PUT", f"{API}/projects/{hourly.id}/template", as_user=manager,
                       json={"fields": [TEMPLATE_FIELD]}), 201)
    yesterday = clock.now() - timedelta(days=1)
    entry = logged_time(hourly, trainer, started_at=yesterday - timedelta(hours=2),
                        ended_at=yesterday - timedelta(hours=1))
    o["timesheet"] = entry.timesheet_id
    manual = _ok(client.post(
        f"{API}/projects/{hourly.id}/time-entries", as_user=trainer,
        json={"started_at": (yesterday - timedelta(hours=4)).isoformat(),
              "ended_at": (yesterday - timedelta(hours=3)).isoformat(),
              "note": "Offline review of transcripts."}), 201)
    o["time_entry"] = uuid.UUID(manual["id"])
    running = logged_time(hourly, trainer, started_at=clock.now() - timedelta(minutes=5),
                          ended_at=None)
    o["session"] = running.id

    # --- money: earnings, a paid payout item, a payout account -----------------------
    o["payout_account"] = payout_account(trainer).id  # type: ignore[attr-defined]
    _ok(client.request("PUT", f"{API}/organisation/wage-floors/USD/countries/PH",
                       as_user=people[Role.FINANCE], json={"hourly_amount": 100}))
    event = earned(trainer, organisation.id, 5000, project=project)
    o["ledger_entry"] = session.scalars(select(JournalEntry.id).where(
        JournalEntry.source_id == event.source_id)).one()  # type: ignore[attr-defined]
    item = paid_out(trainer, organisation.id, 1000)
    o["payout_item"], o["payout_run"] = item.id, item.run_id
    o["payout_schedule"] = session.get(PayoutRun, item.run_id).schedule_id  # type: ignore[union-attr]

    # --- the trainer's own data: a ready export, an erasure in its grace period --------
    o["data_export"] = uuid.UUID(_ok(client.post(f"{API}/me/data-exports", as_user=trainer),
                                     202)["id"])
    services = client.client.application.extensions["workforce"]
    privacy_exports.prepare_requested_exports(
        session, services.export_store, now=clock.now(),
        lifetime=services.settings.data_export_lifetime, limit=10, files=services.files.store)
    _ok(client.post(f"{API}/me/erasure", as_user=trainer, json={"password": PASSWORD}), 202)

    # --- the inbox and the staff invitation ------------------------------------------
    for user in people.values():
        o[f"notification_{user.role.value}"] = tell(session, user.id,
                                                    "account.email_verified", {})
    issued = accounts.invite_staff(
        session, admin, email=f"newcomer-{label.lower()}-{uuid.uuid4().hex[:6]}@example.org",
        role=Role.REVIEWER, lifetime=timedelta(days=7), base_url="http://test")
    o["invitation"] = issued.invitation.id
    _add_api_keys(session, side)

    # --- webhooks out: an endpoint and an event ----------------------------------------
    o["webhook_endpoint"] = webhook_endpoints.create_endpoint(
        session, admin, url=f"https://hooks-{label.lower()}.example.com/in",
        event_types=["import.finished"]).endpoint.id
    o["webhook_event"] = emit(session, organisation.id, EventType.IMPORT_FINISHED,
                              {"world": label})

    # --- an account action with notice, not yet in effect ----------------------------
    action = _ok(client.post(f"{API}/account-actions", as_user=manager, json={
        "trainer_id": str(trainer.id), "kind": "restrict", "reason": "inactivity",
        "explanation": "No work for months."}), 201)
    o["account_action"] = uuid.UUID(action["id"])
    session.commit()
    return side


def _upload(client: ApiClient, session: Session, project: Any, trainer: User,
            assignment_id: uuid.UUID) -> uuid.UUID:
    """A recording policy the trainer consented to, and a recording in the store."""
    _ok(client.request("PUT", f"{API}/projects/{project.id}/recording-policy",
                       as_user=session.get_one(User, project.created_by_id),
                       json={"what_is_recorded": "Voice.", "purpose": "ASR.",
                             "retention_days": 30}))
    _ok(client.request("PUT", f"{API}/projects/{project.id}/recording-consent",
                       as_user=trainer))
    clip = b"RIFF-world-clip"
    now = clock.now()
    upload = Upload(project_id=project.id, assignment_id=assignment_id,
                    trainer_id=trainer.id, field="reading", kind="recording",
                    state=UploadState.ATTACHED, declared_size=len(clip),
                    declared_sha256=hashlib.sha256(clip).hexdigest(), created_at=now,
                    expires_at=now, content_type="audio/wav", size_bytes=len(clip),
                    uploaded_at=now, attached_at=now)
    session.add(upload)
    session.flush()
    upload.storage_key = f"uploads/{project.id}/{upload.id}"
    services = client.client.application.extensions["workforce"]
    services.files.store.write(upload.storage_key, clip, content_type="audio/wav")
    return upload.id


def _add_api_keys(session: Session, side: Side) -> None:
    admin = side.people[Role.ADMIN]
    for name, scopes in [(scope.value, [scope]) for scope in Scope] + [("all", list(Scope))]:
        issued = keys.create_key(session, admin, name=f"{side.label} {name}", scopes=scopes,
                                 expires_at=None)
        side.keys[name] = issued.secret
    side.objects["api_key"] = issued.key.id


@contextmanager
def isolated(database: Database) -> Iterator[tuple[Connection, Session]]:
    """A connection in a transaction that is rolled back at the end, with the
    application's sessions joining it through savepoints (as conftest does per test),
    for a module that builds its world once."""
    connection = database.engine.connect()
    transaction = connection.begin()
    saved = dict(database.session_factory.kw)
    database.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = database.session()
    factories.bind(session)
    try:
        yield connection, session
    finally:
        factories.bind(None)
        session.close()
        transaction.rollback()
        connection.close()
        database.session_factory.kw = saved


def build(client: ApiClient, session: Session) -> World:
    world = World(build_side(client, session, "A"), build_side(client, session, "B"))
    collect_ids(session, world)
    return world


def collect_ids(session: Session, world: World) -> None:
    """Every row id that belongs to each side: its organisation, its people, and (to a
    fixed point) every row that refers to one of those by a foreign key."""
    metadata: MetaData = Base.metadata
    tables = [t for t in metadata.sorted_tables if "id" in t.c]
    for side in (world.a, world.b):
        owned = {str(side.organisation.id)} | {str(u.id) for u in side.people.values()}
        side.emails = {u.email for u in side.people.values()}
        changed = True
        while changed:
            changed = False
            for table in tables:
                refs = [c for c in table.c if c.foreign_keys or c.name.endswith("_id")]
                if not refs:
                    continue
                for row in session.execute(select(table)).mappings():
                    row_id = str(row["id"])
                    if row_id in owned:
                        continue
                    if any(row[c.name] is not None and str(row[c.name]) in owned
                           for c in refs):
                        owned.add(row_id)
                        side.tables.setdefault(table.name, set()).add(row_id)
                        changed = True
        side.tables.setdefault("organisations", set()).add(str(side.organisation.id))
        side.ids = owned
    overlap = world.a.ids & world.b.ids
    assert not overlap, f"the two sides share rows: {sorted(overlap)[:5]}"
