"""Kill fees: a suspension at short notice owes every active trainer their average
daily earnings on the project over the 14 days before the announcement, times the
days of notice missed (rounded up); recorded as an earning and shown only to them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    UserFactory,
    hourly_project,
    logged_time,
    staff,
    worked_task,
)
from workforce.accounts.models import AuditEvent, Organisation, User
from workforce.billing.models import EarningEvent, EarningKind
from workforce.notifications.models import Notification
from workforce.projects import project_states
from workforce.projects.models import (
    AssignmentState,
    KillFee,
    MembershipState,
    Project,
    ProjectRate,
)

API = "/api/v1/projects"
T0 = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False):
        yield


def manager_of(session: Session, project: Project) -> User:
    return session.get(User, project.created_by_id)


def rate_of(session: Session, project: Project) -> ProjectRate:
    return session.scalars(select(ProjectRate).where(ProjectRate.project_id == project.id)
                           .order_by(ProjectRate.number)).first()


def add_rate(session: Session, project: Project, amount: int, since: datetime) -> ProjectRate:
    rate = ProjectRate(project_id=project.id, number=2, amount=amount, currency=project.currency,
                       effective_from=since, created_by_id=project.created_by_id, created_at=since)
    session.add(rate)
    session.commit()
    return rate


def suspend(client: ApiClient, project: Project, manager: User, effective_at: datetime) -> dict:
    response = client.post(f"{API}/{project.id}/suspension", as_user=manager, json={
        "reason": "Budget withdrawn.", "effective_at": effective_at.isoformat(),
    })
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fees_by_trainer(session: Session, project: Project) -> dict:
    return {
        f.trainer_id: f for f in session.scalars(
            select(KillFee).where(KillFee.project_id == project.id))
    }


# --- the worked example --------------------------------------------------------------


def test_short_notice_owes_each_active_trainer_their_average_times_days_missed(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory(rate=700)
    rate = rate_of(session, project)
    manager = manager_of(session, project)
    worker, newcomer, former = UserFactory(), UserFactory(), UserFactory()
    staff(project, worker, newcomer)
    MemberFactory(project=project, trainer=former, state=MembershipState.LEFT)
    # Fourteen tasks worth 700 each in the fortnight before the announcement: 700 a day.
    kinds = [AssignmentState.SUBMITTED, AssignmentState.APPROVED,
             AssignmentState.REVISION_REQUESTED]
    for i in range(14):
        worked_task(project, worker, submitted_at=T0 - timedelta(days=13, hours=20) + i * DAY,
                    state=kinds[i % 3], rate=rate if i % 2 else None)
    # None of these count: rejected, older than 14 days, not submitted, another project,
    # and the work of someone no longer a member.
    worked_task(project, worker, submitted_at=T0 - 2 * DAY, state=AssignmentState.REJECTED,
                rate=rate)
    worked_task(project, worker, submitted_at=T0 - 14 * DAY - timedelta(seconds=1),
                state=AssignmentState.APPROVED, rate=rate)
    worked_task(project, worker, submitted_at=None)
    worked_task(ProjectFactory(rate=700), worker, submitted_at=T0 - DAY)
    worked_task(project, former, submitted_at=T0 - DAY, rate=rate)

    # Three days' notice of seven: four days missed.
    body = suspend(client, project, manager, T0 + 3 * DAY)

    assert (body["notice_days"], body["days_missed"], body["status"]) == (7, 4, "pending")
    assert body["kill_fees_total"] == 2800
    fees = fees_by_trainer(session, project)
    assert set(fees) == {worker.id, newcomer.id}
    paid, unpaid = fees[worker.id], fees[newcomer.id]
    assert (paid.average_daily_amount, paid.days_missed, paid.amount, paid.currency) == (
        700, 4, 2800, "USD")
    assert (unpaid.average_daily_amount, unpaid.days_missed, unpaid.amount) == (0, 4, 0)

    [earning] = session.scalars(select(EarningEvent).where(
        EarningEvent.kind == EarningKind.KILL_FEE))
    assert (earning.trainer_id, earning.amount, earning.currency) == (worker.id, 2800, "USD")
    assert (earning.source_type, earning.source_id) == ("project_kill_fee", paid.id)
    assert earning.project_id == project.id
    assert earning.organisation_id == project.organisation_id

    [note] = session.scalars(select(Notification).where(
        Notification.user_id == worker.id, Notification.kind == "project.suspension_announced"))
    assert note.data["kill_fee"] == {"amount": 2800, "currency": "USD", "days_missed": 4,
                                     "average_daily_amount": 700}
    assert "$28.00" in note.body and "Budget withdrawn." in note.body
    [note] = session.scalars(select(Notification).where(Notification.user_id == newcomer.id))
    assert note.data["kill_fee"]["amount"] == 0
    assert session.scalars(select(Notification).where(
        Notification.user_id == former.id)).all() == []

    [event] = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "project.suspension_announced"))
    assert event.after["kill_fees_total"] == 2800
    assert event.after["days_missed"] == 4
    assert {f["trainer_id"]: f["amount"] for f in event.after["kill_fees"]} == {
        str(worker.id): 2800, str(newcomer.id): 0}


def test_trainers_see_only_their_own_kill_fees(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(rate=700, name="Cantonese accents")
    rate = rate_of(session, project)
    worker, other = UserFactory(), UserFactory()
    staff(project, worker, other)
    for i in range(2):
        worked_task(project, worker, submitted_at=T0 - (i + 1) * DAY, rate=rate)
    worked_task(project, other, submitted_at=T0 - DAY, rate=rate)
    suspend(client, project, manager_of(session, project), T0 + 5 * DAY)

    # 1400 / 14 = 100 a day, 2 days missed; the other trainer's 50 a day.
    mine = client.get("/api/v1/me/kill-fees", as_user=worker).get_json()["items"]
    assert len(mine) == 1
    assert {k: mine[0][k] for k in ("amount", "currency", "days_missed", "average_daily_amount",
                                    "project_name", "reason", "notice_days")} == {
        "amount": 200, "currency": "USD", "days_missed": 2, "average_daily_amount": 100,
        "project_name": "Cantonese accents", "reason": "Budget withdrawn.", "notice_days": 7}
    assert mine[0]["project_id"] == str(project.id)
    theirs = client.get("/api/v1/me/kill-fees", as_user=other).get_json()["items"]
    assert [f["amount"] for f in theirs] == [100]

    view = client.get(f"/api/v1/me/projects/{project.id}", as_user=worker).get_json()
    assert [f["amount"] for f in view["kill_fees"]] == [200]
    assert [f["id"] for f in view["kill_fees"]] == [mine[0]["id"]]
    listed = client.get("/api/v1/me/projects", as_user=other).get_json()["items"]
    assert [[f["amount"] for f in p["kill_fees"]] for p in listed] == [[100]]
    assert client.get("/api/v1/me/kill-fees", as_user=UserFactory()).get_json()["items"] == []


# --- what counts, and at which rate --------------------------------------------------


def test_task_work_counts_at_its_rate_version_or_the_rate_then(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory(rate=500)
    first = rate_of(session, project)
    add_rate(session, project, 900, T0 - 7 * DAY)
    trainer = UserFactory()
    staff(project, trainer)
    worked_task(project, trainer, submitted_at=T0 - 10 * DAY)  # no rate recorded: 500 then
    worked_task(project, trainer, submitted_at=T0 - 3 * DAY)  # no rate recorded: 900 then
    worked_task(project, trainer, submitted_at=T0 - 3 * DAY, rate=first)  # its own: 500

    suspend(client, project, manager_of(session, project), T0 + 6 * DAY)

    fee = fees_by_trainer(session, project)[trainer.id]
    # 1900 / 14 = 135.71... -> 136 a day, one day missed.
    assert (fee.average_daily_amount, fee.days_missed, fee.amount) == (136, 1, 136)


def test_hourly_work_counts_closed_entries_at_their_rate(
    client: ApiClient, session: Session
) -> None:
    project = hourly_project(rate=2000)
    first = rate_of(session, project)
    second = add_rate(session, project, 3000, T0 - 5 * DAY)
    trainer = UserFactory()
    staff(project, trainer)
    start = T0 - 10 * DAY
    logged_time(project, trainer, started_at=start, ended_at=start + timedelta(hours=3),
                rate=first)
    start = T0 - 2 * DAY
    logged_time(project, trainer, started_at=start, ended_at=start + timedelta(hours=2),
                rate=second)
    # Not counted: an entry started before the window, and the one still running.
    start = T0 - 15 * DAY
    logged_time(project, trainer, started_at=start, ended_at=start + timedelta(hours=5),
                rate=first)
    running = logged_time(project, trainer, started_at=T0 - timedelta(hours=1), ended_at=None,
                          rate=second)
    # Nor tasks done on an hourly project: their time is what is paid.
    worked_task(project, trainer, submitted_at=T0 - DAY, rate=second)

    # Notice an hour short of seven days: one day missed, rounded up.
    body = suspend(client, project, manager_of(session, project),
                   T0 + 7 * DAY - timedelta(hours=1))

    assert body["days_missed"] == 1
    fee = fees_by_trainer(session, project)[trainer.id]
    # 3 h at 20.00 + 2 h at 30.00 = 120.00; / 14 = 8.5714... -> 857 cents a day.
    assert (fee.average_daily_amount, fee.amount) == (857, 857)
    # The running session is untouched until the suspension takes effect.
    session.refresh(running)
    assert running.ended_at is None


@pytest.mark.parametrize("rate, average", [(1001, 72), (1015, 72), (1029, 74), (13, 1)])
def test_the_average_is_rounded_once_half_even(
    client: ApiClient, session: Session, rate: int, average: int
) -> None:
    project = ProjectFactory(rate=rate)
    trainer = UserFactory()
    staff(project, trainer)
    worked_task(project, trainer, submitted_at=T0 - DAY, rate=rate_of(session, project))
    suspend(client, project, manager_of(session, project), T0 + 5 * DAY)
    fee = fees_by_trainer(session, project)[trainer.id]
    assert (fee.average_daily_amount, fee.amount) == (average, 2 * average)


def test_a_currency_without_minor_units(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(rate=1000, currency="JPY")
    trainer = UserFactory()
    staff(project, trainer)
    for i in range(3):
        worked_task(project, trainer, submitted_at=T0 - (i + 1) * DAY,
                    rate=rate_of(session, project))
    suspend(client, project, manager_of(session, project), T0)
    fee = fees_by_trainer(session, project)[trainer.id]
    # 3000 yen / 14 = 214.28 -> 214 yen a day, seven days missed.
    assert (fee.average_daily_amount, fee.amount, fee.currency) == (214, 1498, "JPY")


# --- notice --------------------------------------------------------------------------


def test_enough_notice_owes_nothing(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(rate=700)
    trainer = UserFactory()
    staff(project, trainer)
    worked_task(project, trainer, submitted_at=T0 - DAY, rate=rate_of(session, project))
    # Seven days less a few seconds of request travel still counts as seven.
    body = suspend(client, project, manager_of(session, project),
                   T0 + 7 * DAY - timedelta(seconds=20))
    assert (body["days_missed"], body["kill_fees"]) == (0, [])
    assert session.scalars(select(EarningEvent)).all() == []


@pytest.mark.parametrize("notice_days, missed", [(0, 0), (14, 14), (1, 1)])
def test_the_organisations_notice_period_applies(
    client: ApiClient, session: Session, notice_days: int, missed: int
) -> None:
    project = ProjectFactory(rate=1400)
    session.get(Organisation, project.organisation_id).notice_period_days = notice_days
    session.commit()
    trainer = UserFactory()
    staff(project, trainer)
    worked_task(project, trainer, submitted_at=T0 - DAY, rate=rate_of(session, project))
    body = suspend(client, project, manager_of(session, project), T0)
    assert (body["notice_days"], body["days_missed"]) == (notice_days, missed)
    assert body["kill_fees_total"] == 100 * missed


def test_a_kill_fee_stands_when_the_suspension_is_cancelled(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory(rate=1400)
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    worked_task(project, trainer, submitted_at=T0 - DAY, rate=rate_of(session, project))
    suspend(client, project, manager, T0 + 2 * DAY)
    client.post(f"{API}/{project.id}/pause", as_user=manager, json={"reason": "Rethink."})
    client.post(f"{API}/{project.id}/resume", as_user=manager)
    [earning] = session.scalars(select(EarningEvent)).all()
    assert earning.amount == 500
    fees = client.get("/api/v1/me/kill-fees", as_user=trainer).get_json()["items"]
    assert [f["amount"] for f in fees] == [500]


@given(
    notice_days=st.integers(min_value=0, max_value=60),
    given_seconds=st.integers(min_value=0, max_value=90 * 86400),
)
def test_days_missed_round_the_shortfall_up(notice_days: int, given_seconds: int) -> None:
    effective = T0 + timedelta(seconds=given_seconds)
    missed = project_states.days_missed(notice_days, T0, effective)
    owed = notice_days * 86400
    slack = project_states.TOLERANCE.total_seconds()
    assert 0 <= missed <= notice_days
    # Days missed plus notice given cover the notice owed (less the slack)...
    assert given_seconds + missed * 86400 + slack >= owed
    # ...and one day fewer would not.
    if missed:
        assert given_seconds + (missed - 1) * 86400 + slack < owed
    assert missed == max(0, math.ceil((owed - given_seconds - slack) / 86400))
