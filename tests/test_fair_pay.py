"""Fair pay: wage floors per country, the measured hourly rate, weekly top-ups to the
floor (exactly once, late approvals included), under-priced projects and the
pay-transparency view. Work goes through the API; the scheduler's job runs with the
clock moved (trainers live in Hong Kong, UTC+8, unless a test says otherwise)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    QualificationFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    grant,
    hourly_project,
    staff,
)
from tests.hourly_helpers import clock_at, hk, sign_in
from tests.support_helpers import flagged
from tests.task_helpers import claimed, review, submitted
from tests.test_assessments_authoring import ASSESSMENTS, LISTENING, add, new_assessment
from workforce.accounts.models import AuditEvent, Role, User
from workforce.billing import fair_pay
from workforce.billing import jobs as billing_jobs
from workforce.billing.models import EarningEvent, EarningKind, PayWeek, TopUp
from workforce.db import Database
from workforce.notifications.models import Notification
from workforce.projects.models import MembershipState, Project, ProjectRequirement, ProjectState

__all__ = ["clock_at"]  # the fixture, imported for pytest

API = "/api/v1"
FLOORS = f"{API}/organisation/wage-floors"
# Work in the week of Monday 2030-01-07 (Hong Kong) settles once the week has ended,
# the last leases could be submitted (3 h) and 7 days of review passed: the 21st.
SETTLED = hk(22, 6)


# --- helpers -------------------------------------------------------------------------


def organisation_staff() -> tuple[User, User]:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    admin = StaffFactory(role=Role.ADMIN, organisation=manager.organisation)
    return manager, admin


def set_floor(client: ApiClient, admin: User, amount: int, *, currency: str = "USD",
              country: str | None = None) -> dict:
    path = f"{FLOORS}/{currency}" + (f"/countries/{country}" if country else "")
    response = client.request("PUT", path, as_user=admin, json={"hourly_amount": amount})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def do_task(client: ApiClient, clock: time_machine.Coordinates, trainer: User,
            project: Project, at: Any, minutes: int) -> dict:
    """Claim at ``at``, submit ``minutes`` later with that much active time."""
    TaskFactory(project=project)
    clock.move_to(at)
    assignment = claimed(client, trainer, project)
    clock.move_to(at + timedelta(minutes=minutes))
    return submitted(client, trainer, assignment["id"], active_seconds=minutes * 60)


def settle(database: Database, clock: time_machine.Coordinates, at: Any = SETTLED) -> int:
    clock.move_to(at)
    return billing_jobs.settle_fair_pay(database)


def top_ups(session: Session, trainer: User) -> list[EarningEvent]:
    session.expire_all()
    return list(session.scalars(
        select(EarningEvent).where(EarningEvent.trainer_id == trainer.id,
                                   EarningEvent.kind == EarningKind.TOP_UP)
        .order_by(EarningEvent.occurred_at)
    ))


def notices(session: Session, user: User, kind: str) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ))


@pytest.fixture
def people(client: ApiClient, clock_at: time_machine.Coordinates) -> dict[str, User]:
    manager, admin = organisation_staff()
    trainer = UserFactory(country="HK", timezone="Asia/Hong_Kong")
    sign_in(client, manager, admin, trainer)
    return {"manager": manager, "admin": admin, "trainer": trainer}


def per_task(manager: User, *trainers: User, **fields: Any) -> Project:
    """2.00 USD a task, estimated at 5 minutes (24.00 an hour), approved on submission."""
    defaults = {"review_sample_percent": 0, "rate": 200, "estimated_task_seconds": 300,
                "lease_seconds": 7200}
    project = ProjectFactory(manager=manager, **{**defaults, **fields})
    staff(project, *trainers)
    return project


# --- top-ups -------------------------------------------------------------------------


def test_an_underpaid_week_is_topped_up_once_with_the_reason_shown(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates, mail,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)  # 15.00 USD an hour
    project = per_task(manager, trainer, name="Accent labelling")
    # Four tasks of 30 minutes at 2.00: 8.00 for 2 hours, 4.00 an hour.
    for day in (7, 8, 9, 13):
        do_task(client, clock_at, trainer, project, hk(day, 10), 30)

    # The week has ended but its review period has not passed: nothing yet.
    assert settle(database, clock_at, hk(15, 9)) == 0
    assert top_ups(session, trainer) == []

    assert settle(database, clock_at) == 1
    assert settle(database, clock_at) == 0  # a second run (or scheduler) posts nothing
    assert settle(database, clock_at, SETTLED + timedelta(days=1)) == 0

    [event] = top_ups(session, trainer)
    assert (event.amount, event.currency, event.project_id) == (2200, "USD", project.id)
    assert "week of 2030-01-07" in event.description
    assert "2.00 h" in event.description and "4.00 USD an hour" in event.description
    assert "15.00 USD an hour" in event.description

    mine = client.get(f"{API}/me/top-ups", as_user=trainer).get_json()["items"]
    assert len(mine) == 1
    assert {k: mine[0][k] for k in ("project_id", "week_start", "sequence", "amount",
                                    "active_seconds", "hours", "paid_amount",
                                    "measured_hourly_rate", "floor_hourly_rate",
                                    "floor_country")} == {
        "project_id": str(project.id), "week_start": "2030-01-07", "sequence": 1,
        "amount": 2200, "active_seconds": 7200, "hours": "2.00", "paid_amount": 800,
        "measured_hourly_rate": {"amount": 400, "currency": "USD"},
        "floor_hourly_rate": {"amount": 1500, "currency": "USD"}, "floor_country": None,
    }
    items = client.get(f"{API}/me/earnings/items", as_user=trainer).get_json()["items"]
    assert any(i["reason"] == event.description for i in items)
    [told] = notices(session, trainer, "pay.top_up")
    assert "$22.00" in told.title and "week of Jan 7, 2030" in told.body
    assert any("Top-up" in m.subject for m in mail.sent if m.to == trainer.email)

    # The managers are told (without the trainer's name) and the project is marked.
    [alert] = notices(session, manager, "pay.top_up_posted")
    assert trainer.display_name not in alert.body
    assert "under-priced" in alert.body
    view = client.get(f"{API}/projects/{project.id}", as_user=manager).get_json()
    # The median task takes 1800 s; at 15.00 an hour a task should pay 7.50.
    assert view["suggested_task_rate"] == 750
    assert view["measured_median_task_seconds"] == 1800
    assert view["underpriced_at"] is not None
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "pay.top_up_posted", AuditEvent.object_type == "pay_top_up")) == 1


def test_a_rate_that_meets_the_suggestion_clears_the_mark(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    project = per_task(manager, trainer)
    do_task(client, clock_at, trainer, project, hk(8, 10), 30)
    settle(database, clock_at)
    rates = f"{API}/projects/{project.id}/rates"

    low = client.post(rates, as_user=manager, json={"amount": 749, "reason": "A little more"})
    assert low.status_code == 201, low.get_data(as_text=True)
    assert client.get(f"{API}/projects/{project.id}", as_user=manager).get_json()[
        "suggested_task_rate"] == 750
    met = client.post(rates, as_user=manager, json={"amount": 750, "reason": "Meets the floor"})
    assert met.status_code == 201, met.get_data(as_text=True)
    view = client.get(f"{API}/projects/{project.id}", as_user=manager).get_json()
    assert (view["underpriced_at"], view["suggested_task_rate"]) == (None, None)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "project.underpriced_cleared",
        AuditEvent.object_id == str(project.id))) == 1


def test_a_scheduled_rate_clears_the_mark_when_it_takes_effect(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    project = per_task(manager, trainer)
    do_task(client, clock_at, trainer, project, hk(8, 10), 30)
    settle(database, clock_at)
    client.post(f"{API}/projects/{project.id}/rates", as_user=manager,
                json={"amount": 800, "reason": "Next week",
                      "effective_from": hk(24, 0).isoformat()})
    assert session.get(Project, project.id).underpriced_at is not None

    settle(database, clock_at, hk(24, 6))
    session.expire_all()
    assert session.get(Project, project.id).underpriced_at is None


def test_no_top_up_when_the_measured_rate_meets_the_floor(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    project = per_task(manager, trainer)
    # 2.00 for 8 minutes is exactly 15.00 an hour: at the floor, nothing is owed.
    for day in (7, 10):
        do_task(client, clock_at, trainer, project, hk(day, 10), 8)

    assert settle(database, clock_at) == 0
    assert top_ups(session, trainer) == []
    week = session.scalars(select(PayWeek).where(PayWeek.trainer_id == trainer.id)).one()
    assert (week.tasks, week.active_seconds, week.paid_amount) == (2, 960, 400)
    assert (week.floor_hourly_amount, week.topped_up_amount) == (1500, 0)
    assert notices(session, manager, "pay.top_up_posted") == []
    assert session.get(Project, project.id).underpriced_at is None


def test_no_top_up_without_a_floor_in_the_projects_currency(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500, currency="EUR")
    project = per_task(manager, trainer)
    do_task(client, clock_at, trainer, project, hk(8, 10), 60)
    assert settle(database, clock_at) == 0
    assert top_ups(session, trainer) == []


def test_hourly_projects_get_no_top_up(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    project = hourly_project(manager=manager, rate=1500, review_sample_percent=0,
                             lease_seconds=7200)
    staff(project, trainer)
    do_task(client, clock_at, trainer, project, hk(8, 10), 60)  # a task on an hourly project
    assert settle(database, clock_at) == 0
    assert session.scalar(select(func.count()).select_from(PayWeek).where(
        PayWeek.trainer_id == trainer.id)) == 0


def test_each_trainer_is_held_to_their_countrys_floor_else_the_default(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, in_hk = people["manager"], people["admin"], people["trainer"]
    in_ph = UserFactory(country="PH", timezone="Asia/Manila")  # same offset as Hong Kong
    no_country = UserFactory(country=None, timezone="Asia/Hong_Kong")
    sign_in(client, in_ph, no_country)
    set_floor(client, admin, 1500)                 # the default
    set_floor(client, admin, 500, country="PH")    # 5.00 an hour in the Philippines
    project = per_task(manager, in_hk, in_ph, no_country)
    for trainer in (in_hk, in_ph, no_country):     # 2.00 for an hour each
        do_task(client, clock_at, trainer, project, hk(9, 10), 60)

    assert settle(database, clock_at) == 3
    assert [e.amount for e in top_ups(session, in_hk)] == [1300]
    assert [e.amount for e in top_ups(session, in_ph)] == [300]
    assert [e.amount for e in top_ups(session, no_country)] == [1300]
    mine = client.get(f"{API}/me/top-ups", as_user=in_ph).get_json()["items"]
    assert mine[0]["floor_country"] == "PH" and "(PH)" in mine[0]["reason"]


def test_work_approved_after_settlement_tops_up_only_the_remaining_difference(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    project = per_task(manager, trainer, review_sample_percent=100)
    fast = do_task(client, clock_at, trainer, project, hk(8, 10), 10)
    slow = do_task(client, clock_at, trainer, project, hk(9, 10), 50)
    assert review(client, manager, fast["id"], "approve").status_code == 200
    rejected = review(client, manager, slow["id"], "reject", rejection_category="incorrect",
                      message="Wrong accent.")
    assert rejected.status_code == 200, rejected.get_data(as_text=True)

    # Settled: 2.00 for 10 minutes (12.00 an hour): 0.50 tops it up to 15.00.
    assert settle(database, clock_at) == 1
    assert [e.amount for e in top_ups(session, trainer)] == [50]

    # Weeks later the rejection is overturned on appeal: 4.00 for an hour now.
    clock_at.move_to(hk(28, 9))
    appeal = client.post(f"{API}/me/assignments/{slow['id']}/appeal", as_user=trainer,
                         json={"message": "It is Hong Kong Cantonese."}).get_json()
    decided = client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=manager,
                          json={"decision": "overturn", "note": "Agreed."})
    assert decided.status_code == 200, decided.get_data(as_text=True)

    assert settle(database, clock_at, hk(29, 6)) == 1
    assert settle(database, clock_at, hk(30, 6)) == 0
    # The hour owes 15.00; 4.00 was paid and 0.50 topped up: 10.50 remains.
    assert [e.amount for e in top_ups(session, trainer)] == [50, 1050]
    sequences = session.scalars(select(TopUp.sequence).where(
        TopUp.trainer_id == trainer.id).order_by(TopUp.sequence)).all()
    assert sequences == [1, 2]
    week = session.scalars(select(PayWeek).where(PayWeek.trainer_id == trainer.id)).one()
    assert (week.paid_amount, week.topped_up_amount, week.active_seconds) == (400, 1100, 3600)


def test_weeks_are_the_trainers_own(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    """Sunday 23:30 in Los Angeles is Monday in Hong Kong: the task is in the trainer's
    first week, which is settled separately from the second."""
    manager, admin = people["manager"], people["admin"]
    trainer = UserFactory(country="US", timezone="America/Los_Angeles")
    sign_in(client, trainer)
    set_floor(client, admin, 1500)
    project = per_task(manager, trainer)
    do_task(client, clock_at, trainer, project, hk(14, 15, 30), 20)  # Sun 13th, 23:30 LA
    do_task(client, clock_at, trainer, project, hk(15, 10), 20)      # Mon 14th, LA

    settle(database, clock_at, hk(23, 6))
    weeks = session.scalars(select(PayWeek.week_start).where(
        PayWeek.trainer_id == trainer.id).order_by(PayWeek.week_start)).all()
    assert [w.isoformat() for w in weeks] == ["2030-01-07"]
    settle(database, clock_at, hk(30, 6))
    weeks = session.scalars(select(PayWeek.week_start).where(
        PayWeek.trainer_id == trainer.id).order_by(PayWeek.week_start)).all()
    assert [w.isoformat() for w in weeks] == ["2030-01-07", "2030-01-14"]
    assert [e.amount for e in top_ups(session, trainer)] == [300, 300]


def test_managers_see_a_weeks_figures_only_when_enough_trainers_worked_it(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    """A top-up alert names a trainer's week, hours and rates: with fewer trainers on the
    project that week than the wellbeing policy's ``min_group_size`` (5 by default) it
    would point at one of them, so it says only that a top-up was posted."""
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    other = UserFactory(country="HK", timezone="Asia/Hong_Kong")
    sign_in(client, other)
    set_floor(client, admin, 1500)
    project = per_task(manager, trainer, other)
    do_task(client, clock_at, trainer, project, hk(8, 10), 30)  # 2.00 for 30 minutes
    assert settle(database, clock_at) == 1

    [alert] = notices(session, manager, "pay.top_up_posted")
    for figure in ("Jan 7, 2030", "0.50 h", "$4.00", "$15.00", "$5.50"):
        assert figure not in alert.body
    assert "Fewer than 5 trainers" in alert.body and "under-priced" in alert.body
    assert alert.data == {"project_id": str(project.id), "suppressed": True,
                          "underpriced": True, "suggested_task_rate": 750}

    response = client.patch(f"{API}/organisation/wellbeing-policy", as_user=admin,
                            json={"min_group_size": 2})
    assert response.status_code == 200, response.get_data(as_text=True)
    do_task(client, clock_at, trainer, project, hk(15, 10), 30)
    do_task(client, clock_at, other, project, hk(16, 10), 5)  # 24.00 an hour
    assert settle(database, clock_at, hk(29, 6)) == 1
    [_, alert] = sorted(notices(session, manager, "pay.top_up_posted"),
                        key=lambda n: n.created_at)
    for figure in ("week of Jan 14, 2030", "0.50 h", "$4.00 an hour", "$15.00", "$5.50"):
        assert figure in alert.body
    assert alert.data == {"project_id": str(project.id), "suppressed": False,
                          "week_start": "2030-01-14", "amount": 550, "currency": "USD",
                          "underpriced": True, "suggested_task_rate": 750}


# --- flagged work in the measured week -----------------------------------------------


def test_flagged_minutes_are_paid_once_when_the_task_is_then_submitted(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    # 6.00 a task estimated at 20 minutes: 18.00 an hour.
    project = per_task(manager, trainer, rate=600, estimated_task_seconds=1200)
    TaskFactory(project=project)
    clock_at.move_to(hk(8, 10))
    held = claimed(client, trainer, project)
    clock_at.move_to(hk(8, 10, 20))
    assert flagged(client, trainer, held["id"])["paid"] == {"amount": 600, "currency": "USD"}
    clock_at.move_to(hk(8, 11))
    submitted(client, trainer, held["id"], active_seconds=3600)

    assert settle(database, clock_at) == 1
    # The hour owes 15.00 at the floor; 6.00 for the piece and 6.00 for the 20 flagged
    # minutes were paid, so 3.00 tops it up (not 9.00, which paid those minutes again).
    assert [e.amount for e in top_ups(session, trainer)] == [300]
    week = session.scalars(select(PayWeek).where(PayWeek.trainer_id == trainer.id)).one()
    # The flagged minutes lie inside the claim-to-submission hour: counted once.
    assert (week.paid_amount, week.active_seconds, week.topped_up_amount) == (1200, 3600, 300)
    mine = client.get(f"{API}/me/top-ups", as_user=trainer).get_json()["items"]
    assert mine[0]["measured_hourly_rate"] == {"amount": 1200, "currency": "USD"}


def test_flagged_time_counts_toward_the_floor_whatever_became_of_the_task(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    """A week of nothing but flagged work is settled too: a floor raised after the rate
    was set leaves the flagged time's hourly equivalent under it."""
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    project = per_task(manager, trainer, rate=600, estimated_task_seconds=1200,
                       review_sample_percent=100)
    set_floor(client, admin, 2000)  # 20.00 an hour; the rate pays 18.00
    TaskFactory(project=project)
    TaskFactory(project=project)
    clock_at.move_to(hk(8, 10))
    returned = claimed(client, trainer, project)
    clock_at.move_to(hk(8, 10, 30))
    assert flagged(client, trainer, returned["id"], return_task=True)["paid"]["amount"] == 900
    clock_at.move_to(hk(9, 10))
    kept = claimed(client, trainer, project)
    clock_at.move_to(hk(9, 10, 10))
    assert flagged(client, trainer, kept["id"])["paid"]["amount"] == 300
    clock_at.move_to(hk(9, 10, 40))
    submitted(client, trainer, kept["id"], active_seconds=2400)
    rejected = review(client, manager, kept["id"], "reject", rejection_category="incorrect",
                      message="Wrong accent.")
    assert rejected.status_code == 200, rejected.get_data(as_text=True)

    assert settle(database, clock_at) == 1
    # Flagged: 30 + 10 minutes paid 12.00; the rejected rest counts in neither. At 20.00
    # an hour 40 minutes owe 13.34 (rounded up): 1.34 tops it up.
    assert [e.amount for e in top_ups(session, trainer)] == [134]
    week = session.scalars(select(PayWeek).where(PayWeek.trainer_id == trainer.id)).one()
    assert (week.tasks, week.paid_amount, week.active_seconds) == (2, 1200, 2400)


# --- the top-up, exactly: property-based ----------------------------------------------


@given(floor=st.integers(1, 10_000_000), seconds=st.integers(0, 7 * 24 * 3600),
       paid=st.integers(0, 10_000_000))
def test_a_top_up_brings_pay_to_the_floor_to_the_minor_unit(
    floor: int, seconds: int, paid: int
) -> None:
    top_up = fair_pay.top_up_due(floor, seconds, paid)
    assert top_up >= 0
    # Pay and top-up meet the floor for the time worked (exact, in integers) ...
    assert (paid + top_up) * 3600 >= floor * seconds
    # ... and rounding favours the trainer by less than one minor unit.
    if top_up > 0:
        assert (paid + top_up - 1) * 3600 < floor * seconds


@given(work=st.lists(st.tuples(st.integers(0, 7200), st.integers(1, 5000)), max_size=30),
       floor=st.integers(1, 100_000))
def test_the_measured_week_and_its_top_up_agree(work: list[tuple[int, int]], floor: int) -> None:
    items = [fair_pay.WorkDone(uuid.uuid4(), hk(7, 9), s, p) for s, p in work]
    measure = fair_pay.Measure.of(items, "USD")
    top_up = fair_pay.top_up_due(floor, measure.active_seconds, measure.paid)
    under = measure.paid * 3600 < floor * measure.active_seconds
    assert (top_up > 0) == under
    if measure.hourly is not None and not under:
        assert measure.hourly.amount >= floor


_assignment = st.fixed_dictionaries({
    "window": st.integers(0, 3 * 3600),      # claim to submission
    "active": st.integers(0, 4 * 3600),      # as reported; bounded by the window
    "approval": st.one_of(st.none(), st.integers(1, 5000)),
    "flagged": st.one_of(st.none(), st.tuples(st.floats(0, 1), st.integers(0, 5000))),
})


@given(assignments=st.lists(_assignment, max_size=20), floor=st.integers(1, 100_000))
def test_flagged_and_approved_work_meet_the_floor_exactly_once(
    assignments: list[dict[str, Any]], floor: int
) -> None:
    """A week of approved and flagged work: every payment counts, each assignment's
    time is counted once (within its claim-to-submission span when approved), and the
    top-up plus all pay is exactly what the floor requires for that time (rounded up),
    unless the pay alone is more."""
    claimed = hk(7, 9)
    items, held, at_least = [], 0, 0
    for a in assignments:
        piece, flag = a["approval"], a["flagged"]
        # The flagged span runs from the claim and ends by the submission.
        flagged_seconds = int(flag[0] * a["window"]) if flag else None
        items.append(fair_pay.WorkDone.of(
            uuid.uuid4(), claimed, claimed + timedelta(seconds=a["window"]), a["active"],
            approval=piece, flagged_seconds=flagged_seconds,
            flagged_pay=flag[1] if flag else None))
        approved = min(a["active"], a["window"]) if piece is not None else 0
        held += a["window"] if piece is not None else (flagged_seconds or 0)
        at_least += max(approved, flagged_seconds or 0)
    measure = fair_pay.Measure.of(items, "USD")
    paid = sum((a["approval"] or 0) + (a["flagged"][1] if a["flagged"] else 0)
               for a in assignments)
    assert measure.paid == paid
    assert at_least <= measure.active_seconds <= held

    top_up = fair_pay.top_up_due(floor, measure.active_seconds, measure.paid)
    required = -(-floor * measure.active_seconds // 3600)
    assert measure.paid + top_up == max(measure.paid, required)


# --- wage floors ---------------------------------------------------------------------


def test_country_floors_are_listed_beside_the_default(
    client: ApiClient, session: Session, people: dict[str, User]
) -> None:
    admin, manager = people["admin"], people["manager"]
    finance = StaffFactory(role=Role.FINANCE, organisation=admin.organisation)
    assert set_floor(client, admin, 1500) == {"currency": "USD", "hourly_amount": 1500}
    assert set_floor(client, finance, 400, country="ph") == {
        "currency": "USD", "country": "PH", "hourly_amount": 400}
    assert set_floor(client, admin, 450, country="PH")["hourly_amount"] == 450
    set_floor(client, admin, 2000, currency="EUR", country="DE")
    set_floor(client, admin, 1800, currency="EUR")

    listed = client.get(FLOORS, as_user=manager).get_json()["items"]
    assert listed == [
        {"currency": "EUR", "hourly_amount": 1800},
        {"currency": "EUR", "country": "DE", "hourly_amount": 2000},
        {"currency": "USD", "hourly_amount": 1500},
        {"currency": "USD", "country": "PH", "hourly_amount": 450},
    ]
    # The defaults (no country: NULL) page in their place too.
    assert client.every_item(FLOORS, as_user=manager, limit=1) == listed
    gone = client.delete(f"{FLOORS}/USD/countries/PH", as_user=admin)
    assert gone.status_code == 204
    assert_problem(client.delete(f"{FLOORS}/USD/countries/PH", as_user=admin), 404)
    assert len(client.get(FLOORS, as_user=manager).get_json()["items"]) == 3
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.organisation_id == admin.organisation_id,
        AuditEvent.object_type == "wage_floor")).all()
    assert sorted(actions).count("organisation.wage_floor_set") == 5
    assert "organisation.wage_floor_removed" in actions


@pytest.mark.parametrize("path, body, field", [
    ("USD", {"hourly_amount": 1500.0}, "hourly_amount"),
    ("USD", {"hourly_amount": 1500.5}, "hourly_amount"),
    ("USD", {"hourly_amount": "1500"}, "hourly_amount"),
    ("USD/countries/PH", {"hourly_amount": 400.0}, "hourly_amount"),
    ("USD/countries/XX", {"hourly_amount": 400}, "country"),
    ("USD/countries/PHL", {"hourly_amount": 400}, "country"),
    ("XYZ/countries/PH", {"hourly_amount": 400}, "currency"),
    ("USD/countries/PH", {"hourly_amount": 0}, "hourly_amount"),
])
def test_bad_floors_are_refused_and_write_nothing(
    client: ApiClient, session: Session, people: dict[str, User], path: str, body: dict,
    field: str,
) -> None:
    admin = people["admin"]
    problem = assert_problem(client.request("PUT", f"{FLOORS}/{path}", as_user=admin,
                                            json=body), 422)
    assert field in problem["errors"]
    assert client.get(FLOORS, as_user=admin).get_json()["items"] == []


def test_only_admins_and_finance_set_floors(
    client: ApiClient, people: dict[str, User]
) -> None:
    assert_problem(client.request("PUT", f"{FLOORS}/USD/countries/PH", as_user=people["manager"],
                                  json={"hourly_amount": 400}), 403)
    assert_problem(client.request("PUT", f"{FLOORS}/USD/countries/PH", as_user=people["trainer"],
                                  json={"hourly_amount": 400}), 403)


def test_rates_any_trainer_may_take_must_meet_the_highest_floor(
    client: ApiClient, session: Session, people: dict[str, User]
) -> None:
    manager, admin = people["manager"], people["admin"]
    set_floor(client, admin, 1500)
    set_floor(client, admin, 3000, country="CH")  # 30.00 an hour in Switzerland
    project = per_task(manager)  # 5 minutes a task: at least 2.50 a task
    response = client.post(f"{API}/projects/{project.id}/rates", as_user=manager,
                           json={"amount": 249, "reason": "Cheaper"})
    problem = assert_problem(response, 422, code="below-wage-floor")
    assert problem["minimum_amount"] == 250 and problem["floor_country"] == "CH"
    assert "for trainers in CH" in problem["detail"]
    ok = client.post(f"{API}/projects/{project.id}/rates", as_user=manager,
                     json={"amount": 250, "reason": "At the floor"})
    assert ok.status_code == 201, ok.get_data(as_text=True)


def test_stipends_any_trainer_may_take_must_meet_the_highest_floor(
    client: ApiClient, people: dict[str, User]
) -> None:
    manager, admin = people["manager"], people["admin"]
    set_floor(client, admin, 1500)
    set_floor(client, admin, 3000, country="CH")
    # 20 minutes: 5.00 meets the default, 10.00 the Swiss floor.
    assessment = new_assessment(client, manager, stipend_amount=500, stipend_currency="USD")
    add(client, manager, assessment["id"], LISTENING)
    url = f"{ASSESSMENTS}/{assessment['id']}"
    problem = assert_problem(client.post(f"{url}/publish", as_user=manager), 422,
                             code="below-wage-floor")
    assert (problem["minimum_amount"], problem["floor_country"]) == (1000, "CH")
    client.patch(url, json={"stipend_amount": 1000}, as_user=manager)
    assert client.post(f"{url}/publish", as_user=manager).status_code == 200


# --- the pay-transparency view --------------------------------------------------------


def transparency(client: ApiClient, user: User, project: Project):
    return client.get(f"{API}/projects/{project.id}/pay-transparency", as_user=user)


def test_staff_and_eligible_trainers_see_how_a_project_pays(
    client: ApiClient, session: Session, people: dict[str, User]
) -> None:
    manager, admin, trainer = people["manager"], people["admin"], people["trainer"]
    set_floor(client, admin, 1500)
    set_floor(client, admin, 1000, country="HK")
    client.patch(f"{API}/organisation/pay-policy", as_user=admin,
                 json={"payout_hold_days": 3, "notice_period_days": 14})
    project = per_task(manager, auto_approve_days=5, review_sample_percent=20)

    seen = transparency(client, trainer, project)
    assert seen.status_code == 200, seen.get_data(as_text=True)
    body = seen.get_json()
    assert body["pay_model"] == "per_task"
    assert body["rate"] == {"amount": 200, "currency": "USD"}
    assert body["estimated_task_seconds"] == 300
    assert body["estimated_hourly_rate"] == {"amount": 2400, "currency": "USD"}
    assert body["review_policy"] == {"auto_approve_days": 5, "review_sample_percent": 20}
    assert (body["payout_hold_days"], body["notice_period_days"]) == (3, 14)
    assert body["wage_floor"] == {"hourly_rate": {"amount": 1000, "currency": "USD"},
                                  "country": "HK"}
    assert body["measured"]["suppressed"] is True
    assert body["measured"]["median_hourly_rate"] is None
    assert body["underpriced"] is None

    as_staff = transparency(client, manager, project).get_json()
    assert as_staff["wage_floor"] == {"hourly_rate": {"amount": 1500, "currency": "USD"},
                                      "country": None}
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    assert transparency(client, reviewer, project).status_code == 200


def test_others_get_404(client: ApiClient, session: Session, people: dict[str, User]) -> None:
    manager, trainer = people["manager"], people["trainer"]
    qualification = QualificationFactory(organisation=manager.organisation, locale=None)
    guarded = per_task(manager)
    session.add(ProjectRequirement(project_id=guarded.id, qualification_id=qualification.id,
                                   min_score_percent=80))
    session.commit()
    draft = per_task(manager, state=ProjectState.DRAFT)
    paused = per_task(manager, state=ProjectState.PAUSED)
    outsider = StaffFactory(role=Role.ADMIN)

    assert_problem(transparency(client, trainer, guarded), 404)   # not eligible
    assert_problem(transparency(client, trainer, draft), 404)
    assert_problem(transparency(client, trainer, paused), 404)    # not active, never on it
    assert_problem(transparency(client, outsider, guarded), 404)  # another organisation
    assert_problem(client.get(f"{API}/projects/{uuid.uuid4()}/pay-transparency",
                              as_user=trainer), 404)

    grant(trainer, qualification, score="85")
    assert transparency(client, trainer, guarded).status_code == 200
    # Someone who worked on a project keeps seeing it, paused or not.
    MemberFactory(project=paused, trainer=trainer, state=MembershipState.LEFT)
    assert transparency(client, trainer, paused).status_code == 200


def test_the_measured_median_shows_only_for_enough_trainers(
    client: ApiClient, session: Session, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, first = people["manager"], people["admin"], people["trainer"]
    second, third = UserFactory(), UserFactory()
    sign_in(client, second, third)
    client.patch(f"{API}/organisation/wellbeing-policy", as_user=admin,
                 json={"min_group_size": 3})
    project = per_task(manager, first, second, third)
    # Weekly rates: 12.00, 6.00 and (two tasks) 8.00 an hour; the third only next week.
    do_task(client, clock_at, first, project, hk(7, 10), 10)
    do_task(client, clock_at, second, project, hk(8, 10), 20)
    do_task(client, clock_at, first, project, hk(9, 10), 10)

    clock_at.move_to(hk(15, 9))
    measured = transparency(client, manager, project).get_json()["measured"]
    assert measured["suppressed"] is True and measured["trainers"] is None

    do_task(client, clock_at, third, project, hk(15, 10), 15)  # 8.00 an hour
    clock_at.move_to(hk(22, 9))
    measured = transparency(client, first, project).get_json()["measured"]
    assert measured["suppressed"] is False and measured["trainers"] == 3
    # Trainer-weeks: 12.00 (first), 6.00 (second), 8.00 (third): the median is 8.00.
    assert measured["median_hourly_rate"] == {"amount": 800, "currency": "USD"}

    hourly = hourly_project(manager=manager)
    body = transparency(client, manager, hourly).get_json()
    assert body["measured"] is None and body["estimated_hourly_rate"] is None
    assert body["rate"] == {"amount": 2000, "currency": "USD"}


def test_one_slow_trainer_is_topped_up_without_marking_the_project(
    client: ApiClient, session: Session, database: Database, people: dict[str, User],
    clock_at: time_machine.Coordinates,
) -> None:
    manager, admin, slow = people["manager"], people["admin"], people["trainer"]
    fast = UserFactory()
    sign_in(client, fast)
    set_floor(client, admin, 1500)
    project = per_task(manager, slow, fast)
    for day in (7, 8, 9):
        do_task(client, clock_at, fast, project, hk(day, 10), 5)  # 24.00 an hour
    do_task(client, clock_at, slow, project, hk(8, 14), 30)       # 4.00 an hour

    assert settle(database, clock_at) == 1
    assert [e.amount for e in top_ups(session, slow)] == [550]
    assert top_ups(session, fast) == []
    [alert] = notices(session, manager, "pay.top_up_posted")
    assert "under-priced" not in alert.body
    # The median task takes 5 minutes: 2.00 a task meets 15.00 an hour.
    assert session.get(Project, project.id).underpriced_at is None
