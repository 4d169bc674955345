"""Bonuses (vendor managers, idempotent) and adjustments (finance, never below the
available payable), through the API: validation, organisations, audit, notification,
and races on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient, assert_problem
from tests.factories import (
    OrganisationFactory,
    ProjectFactory,
    StaffFactory,
    UserFactory,
    earned,
    paid_out,
    staff,
    token_for,
)
from tests.races import bearer, race
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.billing import ledger
from workforce.billing.models import (
    AccountKind,
    Adjustment,
    Bonus,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    SourceType,
)
from workforce.notifications.models import Notification
from workforce.projects.models import MembershipState, Project

API = "/api/v1"
BONUSES = f"{API}/bonuses"
ADJUSTMENTS = f"{API}/adjustments"


@pytest.fixture
def manager(session: Session) -> User:
    return StaffFactory()


@pytest.fixture
def organisation(manager: User) -> Organisation:
    return manager.organisation


@pytest.fixture
def finance(organisation: Organisation) -> User:
    return StaffFactory(role=Role.FINANCE, organisation=organisation)


@pytest.fixture
def project(manager: User) -> Project:
    return ProjectFactory(manager=manager)


@pytest.fixture
def trainer(project: Project) -> User:
    trainer = UserFactory()
    staff(project, trainer)
    return trainer


def bonus_body(trainer: User, **changes: object) -> dict:
    return {"trainer_id": str(trainer.id), "amount": 1500, "currency": "USD",
            "reason": "Excellent accuracy in March", "idempotency_key": "march-1", **changes}


def payable(session: Session, organisation: Organisation, trainer: User,
            currency: str = "USD") -> int:
    session.expire_all()
    balance = session.scalar(select(LedgerAccount.balance).where(
        LedgerAccount.organisation_id == organisation.id,
        LedgerAccount.owner_type == OwnerType.TRAINER, LedgerAccount.owner_id == trainer.id,
        LedgerAccount.kind == AccountKind.PAYABLE, LedgerAccount.currency == currency,
    ))
    return -(balance or 0)


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Bonus, Adjustment, JournalEntry, AuditEvent, Notification)
    )


def summary_row(client: ApiClient, trainer: User) -> dict:
    rows = client.get(f"{API}/me/earnings/summary", as_user=trainer).get_json()["currencies"]
    return {row["currency"]: row for row in rows}["USD"]


# --- bonuses -------------------------------------------------------------------------


def test_a_bonus_is_paid_audited_and_notified(
    client: ApiClient, session: Session, manager: User, organisation: Organisation,
    project: Project, trainer: User,
) -> None:
    response = client.post(BONUSES, as_user=manager,
                           json=bonus_body(trainer, project_id=str(project.id)))
    assert response.status_code == 201, response.get_data(as_text=True)
    bonus = response.get_json()
    assert (bonus["amount"], bonus["currency"], bonus["project_id"]) == (
        1500, "USD", str(project.id))
    assert bonus["created_by_id"] == str(manager.id)
    assert payable(session, organisation, trainer) == 1500

    entry = ledger.find_entry(session, SourceType.BONUS, uuid.UUID(bonus["id"]))
    assert entry is not None and entry.trainer_id == trainer.id
    assert entry.project_id == project.id and "Excellent accuracy" in entry.reason
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "bonus.granted")).one()
    assert (event.actor_id, event.object_id) == (manager.id, bonus["id"])
    assert event.organisation_id == organisation.id and event.after["amount"] == 1500
    notice = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "earnings.bonus")).one()
    assert "$15.00" in notice.body and "Excellent accuracy" in notice.body

    [item] = client.get(f"{API}/me/earnings/items", as_user=trainer).get_json()["items"]
    assert item["source_type"] == "bonus" and item["amount"] == 1500
    listed = client.get(BONUSES, as_user=manager).get_json()["items"]
    assert [b["id"] for b in listed] == [bonus["id"]]


def test_the_same_key_pays_once(
    client: ApiClient, session: Session, manager: User, organisation: Organisation,
    trainer: User,
) -> None:
    first = client.post(BONUSES, as_user=manager, json=bonus_body(trainer))
    assert first.status_code == 201
    before = counts(session)
    again = client.post(BONUSES, as_user=manager, json=bonus_body(trainer))
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert counts(session) == before
    assert payable(session, organisation, trainer) == 1500


@pytest.mark.parametrize("change", [
    {"amount": 1501}, {"currency": "EUR"}, {"reason": "Something else"},
    {"trainer_id": None}, {"project_id": "project"},
])
def test_the_same_key_with_other_values_is_refused(
    client: ApiClient, session: Session, manager: User, organisation: Organisation,
    project: Project, trainer: User, change: dict,
) -> None:
    assert client.post(BONUSES, as_user=manager, json=bonus_body(trainer)).status_code == 201
    if "trainer_id" in change:
        other = UserFactory()
        staff(project, other)
        change = {"trainer_id": str(other.id)}
    if "project_id" in change:
        change = {"project_id": str(project.id)}
    before = counts(session)
    response = client.post(BONUSES, as_user=manager, json=bonus_body(trainer, **change))
    body = assert_problem(response, 409, code="idempotency-key-reused")
    assert body["differs"] == sorted(change)
    assert counts(session) == before
    assert payable(session, organisation, trainer) == 1500


def test_keys_belong_to_one_organisation(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    other_manager = StaffFactory()
    staff(ProjectFactory(manager=other_manager), trainer)
    assert client.post(BONUSES, as_user=manager, json=bonus_body(trainer)).status_code == 201
    response = client.post(BONUSES, as_user=other_manager, json=bonus_body(trainer))
    assert response.status_code == 201
    assert session.scalar(select(func.count()).select_from(Bonus)) == 2


@pytest.mark.parametrize("change,field", [
    ({"amount": 12.5}, "amount"), ({"amount": "1500"}, "amount"), ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"), ({"amount": 10**12}, "amount"), ({"amount": True}, "amount"),
    ({"currency": "XYZ"}, "currency"), ({"currency": "usd dollars"}, "currency"),
    ({"reason": "  "}, "reason"), ({"reason": None}, "reason"),
    ({"idempotency_key": ""}, "idempotency_key"), ({"idempotency_key": "k" * 201},
                                                    "idempotency_key"),
    ({"trainer_id": "someone"}, "trainer_id"), ({"project_id": "p"}, "project_id"),
])
def test_bad_bonuses_are_refused_and_write_nothing(
    client: ApiClient, session: Session, manager: User, trainer: User, change: dict, field: str
) -> None:
    before = counts(session)
    response = client.post(BONUSES, as_user=manager, json=bonus_body(trainer, **change))
    body = assert_problem(response, 422, code="validation-error")
    assert field in body["errors"]
    assert counts(session) == before


def test_missing_fields_are_named(client: ApiClient, manager: User) -> None:
    body = assert_problem(client.post(BONUSES, as_user=manager, json={}), 422)
    assert set(body["errors"]) == {"trainer_id", "amount", "currency", "reason",
                                   "idempotency_key"}


def test_a_bonus_goes_only_to_a_trainer_who_worked_for_the_organisation(
    client: ApiClient, session: Session, manager: User, organisation: Organisation,
    trainer: User,
) -> None:
    stranger = UserFactory()
    elsewhere = UserFactory()
    staff(ProjectFactory(), elsewhere)  # another organisation's project
    applicant = UserFactory()
    staff(ProjectFactory(manager=manager), applicant)[0].state = MembershipState.APPLIED
    session.commit()
    colleague = StaffFactory(organisation=organisation)
    before = counts(session)
    for person in (stranger, elsewhere, applicant, colleague):
        response = client.post(BONUSES, as_user=manager,
                               json=bonus_body(person, idempotency_key=str(person.id)))
        body = assert_problem(response, 422, code="validation-error")
        assert "trainer_id" in body["errors"]
    response = client.post(BONUSES, as_user=manager,
                           json=bonus_body(trainer, trainer_id=str(uuid.uuid4())))
    assert "trainer_id" in assert_problem(response, 422)["errors"]
    assert counts(session) == before

    # Money from the organisation (an assessment stipend, say) is work for it too.
    earned(stranger, organisation.id, 100)
    response = client.post(BONUSES, as_user=manager,
                           json=bonus_body(stranger, idempotency_key="stipend"))
    assert response.status_code == 201


def test_a_bonus_names_only_a_project_of_the_organisation(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    foreign = ProjectFactory()
    for project_id in (foreign.id, uuid.uuid4()):
        response = client.post(BONUSES, as_user=manager,
                               json=bonus_body(trainer, project_id=str(project_id)))
        assert "project_id" in assert_problem(response, 422)["errors"]
    assert session.scalar(select(func.count()).select_from(Bonus)) == 0


def test_a_bonus_waits_out_the_hold_period(
    client: ApiClient, session: Session, manager: User, organisation: Organisation,
    trainer: User,
) -> None:
    organisation.payout_hold_days = 2
    session.commit()
    start = datetime(2030, 4, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        sign_in_for_days(client, manager, trainer)
        assert client.post(BONUSES, as_user=manager, json=bonus_body(trainer)).status_code == 201
        row = summary_row(client, trainer)
        assert (row["on_hold"], row["payable"]) == (1500, 0)
        assert row["next_release_at"] == (start + timedelta(days=2)).isoformat()
        traveller.shift(timedelta(days=2))
        row = summary_row(client, trainer)
        assert (row["on_hold"], row["payable"]) == (0, 1500)


def test_who_grants_and_reads_bonuses(
    client: ApiClient, session: Session, manager: User, organisation: Organisation,
    finance: User, trainer: User,
) -> None:
    for person in (trainer, finance, StaffFactory(role=Role.REVIEWER, organisation=organisation)):
        response = client.post(BONUSES, as_user=person, json=bonus_body(trainer))
        assert_problem(response, 403, code="role-forbidden")
    admin = StaffFactory(role=Role.ADMIN, organisation=organisation)
    assert client.post(BONUSES, as_user=admin, json=bonus_body(trainer)).status_code == 201
    assert len(client.get(BONUSES, as_user=finance).get_json()["items"]) == 1
    assert client.get(BONUSES, as_user=StaffFactory()).get_json()["items"] == []
    assert_problem(client.get(BONUSES, as_user=trainer), 403, code="role-forbidden")


# --- adjustments ---------------------------------------------------------------------


def adjustment(trainer: User, amount: int, **changes: object) -> dict:
    return {"trainer_id": str(trainer.id), "amount": amount, "currency": "USD",
            "reason": "Correction of the March timesheet", **changes}


def test_adjustments_move_payable_both_ways_audited_and_notified(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    response = client.post(ADJUSTMENTS, as_user=finance, json=adjustment(trainer, 700))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert payable(session, organisation, trainer) == 700
    response = client.post(ADJUSTMENTS, as_user=finance, json=adjustment(trainer, -700))
    assert response.status_code == 201
    assert response.get_json()["amount"] == -700
    assert payable(session, organisation, trainer) == 0

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "adjustment.created")
        .order_by(AuditEvent.created_at, AuditEvent.id)).all()
    assert [(e.before, e.after["payable"]) for e in events] == [
        ({"payable": 0}, 700), ({"payable": 700}, 0)]
    notices = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "earnings.adjustment")).all()
    assert sorted(n.title for n in notices) == [
        "An adjustment of $7.00", "An adjustment of -$7.00"]
    listed = client.get(ADJUSTMENTS, as_user=finance,
                        query_string={"trainer_id": str(trainer.id)}).get_json()["items"]
    assert sorted(a["amount"] for a in listed) == [-700, 700]


def test_a_negative_adjustment_never_takes_payable_below_zero(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    before = counts(session)
    body = assert_problem(client.post(ADJUSTMENTS, as_user=finance,
                                      json=adjustment(trainer, -1)), 409,
                          code="would-go-negative")
    assert body["available"] == 0
    assert counts(session) == before

    earned(trainer, organisation.id, 1000)
    paid_out(trainer, organisation.id, 600, paid=False)  # 400 left payable
    before = counts(session)
    body = assert_problem(client.post(ADJUSTMENTS, as_user=finance,
                                      json=adjustment(trainer, -401)), 409,
                          code="would-go-negative")
    assert body["available"] == 400 and "4.00 USD" in body["detail"]
    assert counts(session) == before
    assert payable(session, organisation, trainer) == 400
    assert client.post(ADJUSTMENTS, as_user=finance,
                       json=adjustment(trainer, -400)).status_code == 201
    assert payable(session, organisation, trainer) == 0


def test_money_on_hold_is_not_available_to_take_back(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    earned(trainer, organisation.id, 300)
    organisation.payout_hold_days = 5
    session.commit()
    earned(trainer, organisation.id, 1000)  # on hold
    assert_problem(client.post(ADJUSTMENTS, as_user=finance, json=adjustment(trainer, -301)),
                   409, code="would-go-negative")
    assert client.post(ADJUSTMENTS, as_user=finance,
                       json=adjustment(trainer, -300)).status_code == 201


def test_payable_with_another_organisation_is_not_this_ones_to_take(
    client: ApiClient, session: Session, finance: User, trainer: User
) -> None:
    other = OrganisationFactory()
    earned(trainer, other.id, 5000)
    assert_problem(client.post(ADJUSTMENTS, as_user=finance, json=adjustment(trainer, -1)),
                   409, code="would-go-negative")


@pytest.mark.parametrize("change,field", [
    ({"amount": 0}, "amount"), ({"amount": 1.5}, "amount"), ({"amount": "-100"}, "amount"),
    ({"amount": -10**12}, "amount"), ({"currency": "ABC"}, "currency"),
    ({"reason": ""}, "reason"), ({"trainer_id": str(uuid.UUID(int=1))}, "trainer_id"),
])
def test_bad_adjustments_are_refused_and_write_nothing(
    client: ApiClient, session: Session, finance: User, trainer: User, change: dict,
    field: str,
) -> None:
    before = counts(session)
    body = assert_problem(client.post(ADJUSTMENTS, as_user=finance,
                                      json={**adjustment(trainer, 100), **change}), 422)
    assert field in body["errors"]
    assert counts(session) == before


def test_finance_endpoints_refuse_trainers_and_managers(
    client: ApiClient, manager: User, trainer: User
) -> None:
    entry = str(uuid.uuid4())
    calls = [
        ("POST", ADJUSTMENTS, adjustment(trainer, 100)), ("GET", ADJUSTMENTS, None),
        ("GET", f"{API}/ledger/entries", None), ("GET", f"{API}/ledger/entries.csv", None),
        ("GET", f"{API}/ledger/check", None), ("GET", f"{API}/reports/costs", None),
        ("POST", f"{API}/ledger/entries/{entry}/reversal", {"reason": "x"}),
    ]
    for person in (trainer, manager):
        for method, path, body in calls:
            response = client.request(method, path, as_user=person, json=body)
            assert_problem(response, 403, code="role-forbidden")


# --- races (PostgreSQL) ----------------------------------------------------------------


@pytest.fixture
def live_people(live_session: Session) -> dict:
    manager = StaffFactory()
    finance = StaffFactory(role=Role.FINANCE, organisation=manager.organisation)
    trainer = UserFactory()
    staff(ProjectFactory(manager=manager), trainer)
    return {"manager": manager, "finance": finance, "trainer": trainer,
            "organisation": manager.organisation}


def test_racing_requests_with_one_key_grant_one_bonus(
    live_app: Flask, live_session: Session, live_people: dict
) -> None:
    manager, trainer = live_people["manager"], live_people["trainer"]
    body = bonus_body(trainer, idempotency_key=f"race-{uuid.uuid4()}")
    # A token each: requests sharing one would queue on its row (its last use is saved).
    tokens = [bearer(token_for(manager)) for _ in range(8)]

    results = race(live_app, [
        lambda c, headers=headers: c.post(BONUSES, json=body, headers=headers)
        for headers in tokens
    ])

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 7 + [201], [r.get_data(as_text=True) for r in results]
    assert len({r.get_json()["id"] for r in results}) == 1
    live_session.expire_all()
    organisation = live_people["organisation"]
    assert live_session.scalar(select(func.count()).select_from(Bonus).where(
        Bonus.organisation_id == organisation.id)) == 1
    assert live_session.scalar(select(func.count()).select_from(JournalEntry).where(
        JournalEntry.organisation_id == organisation.id)) == 1
    assert payable(live_session, organisation, trainer) == 1500


def test_racing_negative_adjustments_never_overdraw(
    live_app: Flask, live_session: Session, live_people: dict
) -> None:
    finance, trainer = live_people["finance"], live_people["trainer"]
    organisation = live_people["organisation"]
    earned(trainer, organisation.id, 1000)
    tokens = [bearer(token_for(finance)) for _ in range(6)]

    results = race(live_app, [
        lambda c, headers=headers: c.post(ADJUSTMENTS, json=adjustment(trainer, -300),
                                          headers=headers)
        for headers in tokens
    ])

    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * 3 + [409] * 3, [r.get_data(as_text=True) for r in results]
    assert payable(live_session, organisation, trainer) == 100
