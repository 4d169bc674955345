"""Weekly timesheets through the API: roll-up, submission, approval (in full and
adjusted, with the reason the trainer sees), the exact amount per rate version, one
earning per timesheet, auto-approval, organisation isolation, and races on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, UserFactory, hourly_project, staff, token_for
from tests.hourly_helpers import (
    ME,
    beat,
    clock_at,
    hk,
    iso,
    logged,
    sign_in,
    started,
    stop,
)
from tests.races import bearer, race
from workforce import clock
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.billing.models import EarningEvent, EarningKind
from workforce.money import Money, rate_for
from workforce.notifications.models import Notification
from workforce.projects import timesheets
from workforce.projects.models import (
    Project,
    ProjectRate,
    ProjectState,
    TimeEntry,
    Timesheet,
    TimesheetState,
)
from workforce.projects.timesheets import amount_for, split_by_rate

__all__ = ["clock_at"]  # the fixture, imported for pytest


def manager_of(session: Session, project: Project, role: Role = Role.VENDOR_MANAGER) -> User:
    organisation = session.get(Organisation, project.organisation_id)
    assert organisation is not None
    return StaffFactory(role=role, organisation=organisation)


def new_rate(session: Session, project: Project, amount: int, effective_from) -> ProjectRate:
    number = (session.scalar(
        select(func.max(ProjectRate.number)).where(ProjectRate.project_id == project.id)
    ) or 0) + 1
    rate = ProjectRate(
        project_id=project.id, number=number, amount=amount, currency=project.currency,
        effective_from=effective_from, created_by_id=project.created_by_id,
        created_at=clock.now(), reason="New budget",
    )
    session.add(rate)
    session.commit()
    return rate


def earnings(session: Session, timesheet_id: str) -> list[EarningEvent]:
    return list(session.scalars(
        select(EarningEvent).where(EarningEvent.source_id == uuid.UUID(timesheet_id))
    ))


def submit(client: ApiClient, trainer: User, timesheet_id: str):
    return client.post(f"{ME}/timesheets/{timesheet_id}/submit", as_user=trainer)


def approve(client: ApiClient, manager: User, timesheet_id: str, **body):
    return client.post(f"/api/v1/timesheets/{timesheet_id}/approve", as_user=manager, json=body)


@pytest.fixture
def trainer(session: Session, clock_at: time_machine.Coordinates, client: ApiClient) -> User:
    trainer = UserFactory(timezone="Asia/Hong_Kong", display_name="Chan Tai Man")
    sign_in(client, trainer)
    return trainer


# --- from sessions to paid ---------------------------------------------------------------


def test_sessions_and_a_manual_entry_to_an_approved_and_paid_timesheet(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(rate=2000, name="Cantonese call centre audio")  # 20.00 USD/h
    staff(project, trainer)
    manager = manager_of(session, project)
    sign_in(client, manager)

    clock_at.move_to(hk(7, 9))
    running = started(client, trainer, project)
    for minutes in range(10, 90, 10):
        clock_at.move_to(hk(7, 9) + timedelta(minutes=minutes))
        assert beat(client, trainer, running["id"]).status_code == 200
    clock_at.move_to(hk(7, 10, 30))
    assert stop(client, trainer, running["id"]).get_json()["seconds"] == 5400
    clock_at.move_to(hk(8, 18))
    entry = logged(client, trainer, project, hk(8, 14), hk(8, 15, 15, 1))  # 4501 s
    sheet_id = entry["timesheet_id"]
    assert running_sheet(session, running["id"]) == sheet_id

    # 9901 seconds at 20.00 an hour: 55.00555... USD, rounded once to 55.01.
    mine = client.get(f"{ME}/timesheets", as_user=trainer).get_json()["items"]
    assert [(s["id"], s["state"], s["logged_seconds"]) for s in mine] == [
        (sheet_id, "open", 9901)
    ]
    assert mine[0]["amount"] == {"amount": 5501, "currency": "USD"}
    assert mine[0]["amount_is_final"] is False
    assert mine[0]["week_start"] == "2030-01-07" and mine[0]["week_end"] == "2030-01-13"

    response = submit(client, trainer, sheet_id)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "submitted" and body["logged_seconds"] == 9901
    assert [e["id"] for e in body["entries"]] == [running["id"], entry["id"]]
    assert_problem(submit(client, trainer, sheet_id), 409, code="illegal-transition")

    queue = client.get(
        f"/api/v1/projects/{project.id}/timesheets", as_user=manager,
        query_string={"state": "submitted"},
    ).get_json()["items"]
    assert [s["id"] for s in queue] == [sheet_id]
    assert queue[0]["trainer"]["display_name"] == "Chan Tai Man"
    detail = client.get(f"/api/v1/timesheets/{sheet_id}", as_user=manager).get_json()
    assert len(detail["entries"]) == 2 and detail["amount"]["amount"] == 5501

    clock_at.move_to(hk(9, 10))
    response = approve(client, manager, sheet_id)
    assert response.status_code == 200, response.get_json()
    approved = response.get_json()
    assert approved["state"] == "approved" and approved["approved_seconds"] == 9901
    assert approved["amount"] == {"amount": 5501, "currency": "USD"}
    assert approved["amount_is_final"] is True and approved["auto_approved"] is False
    assert approved["adjustment_reason"] is None

    [earning] = earnings(session, sheet_id)
    assert earning.kind is EarningKind.TIMESHEET and earning.source_type == "timesheet"
    assert (earning.amount, earning.currency) == (5501, "USD")
    assert earning.trainer_id == trainer.id and earning.project_id == project.id
    assert earning.organisation_id == project.organisation_id
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "timesheet.approved")
    ).one()
    assert event.actor_id == manager.id and event.object_id == sheet_id
    assert event.before["seconds"] == 9901 and event.after["amount"] == 5501
    notice = session.scalars(
        select(Notification).where(Notification.user_id == trainer.id)
    ).one()
    assert notice.kind == "timesheet.approved" and "$55.01" in notice.body

    # Approving again pays nothing more.
    assert_problem(approve(client, manager, sheet_id), 409, code="illegal-transition")
    assert len(earnings(session, sheet_id)) == 1
    seen = client.get(f"{ME}/timesheets/{sheet_id}", as_user=trainer).get_json()
    assert seen["state"] == "approved" and seen["amount"]["amount"] == 5501


def running_sheet(session: Session, entry_id: str) -> str:
    entry = session.get(TimeEntry, uuid.UUID(entry_id))
    assert entry is not None
    return str(entry.timesheet_id)


def test_a_rate_change_mid_week_pays_each_entry_at_its_own_rate(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(rate=2000)
    staff(project, trainer)
    manager = manager_of(session, project)
    sign_in(client, manager)
    raised = new_rate(session, project, 3000, hk(9, 0))
    clock_at.move_to(hk(9, 12))
    logged(client, trainer, project, hk(7, 9), hk(7, 11))        # 2 h at 20.00
    logged(client, trainer, project, hk(8, 23, 30), hk(9, 0, 30))  # started at 20.00
    last = logged(client, trainer, project, hk(9, 10), hk(9, 11, 30))  # 1.5 h at 30.00
    sheet_id = last["timesheet_id"]
    assert submit(client, trainer, sheet_id).status_code == 200

    body = approve(client, manager, sheet_id).get_json()
    # 3 h at 20.00 + 1.5 h at 30.00
    assert body["amount"] == {"amount": 6000 + 4500, "currency": "USD"}
    parts = {part["rate_id"]: part for part in body["parts"]}
    assert parts[str(raised.id)]["seconds"] == 5400
    assert parts[str(raised.id)]["hourly_rate"] == {"amount": 3000, "currency": "USD"}
    assert sorted(part["seconds"] for part in body["parts"]) == [5400, 10800]
    assert [e.amount for e in earnings(session, sheet_id)] == [10500]


def test_an_adjustment_needs_a_reason_and_the_trainer_sees_it(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(rate=2000)
    staff(project, trainer)
    reviewer = manager_of(session, project, Role.REVIEWER)
    sign_in(client, reviewer)
    new_rate(session, project, 3000, hk(9, 0))
    clock_at.move_to(hk(9, 12))
    logged(client, trainer, project, hk(7, 9), hk(7, 11))           # 7200 s at 20.00
    sheet_id = logged(client, trainer, project, hk(9, 9), hk(9, 10, 30))["timesheet_id"]
    assert submit(client, trainer, sheet_id).get_json()["logged_seconds"] == 12600

    for body, field in (({"approved_seconds": 9000}, "reason"),
                        ({"approved_seconds": 9000, "reason": "   "}, "reason"),
                        ({"approved_seconds": 12601}, "approved_seconds"),
                        ({"approved_seconds": -1}, "approved_seconds"),
                        ({"approved_seconds": 12.5}, "approved_seconds"),
                        ({"approved_seconds": "9000"}, "approved_seconds")):
        problem = assert_problem(approve(client, reviewer, sheet_id, **body), 422)
        assert field in problem["errors"], (body, problem)
    assert session.get(Timesheet, uuid.UUID(sheet_id)).state is TimesheetState.SUBMITTED
    assert earnings(session, sheet_id) == []

    reason = "The 9 January entry overlaps a team meeting; 30 minutes removed."
    response = approve(client, reviewer, sheet_id, approved_seconds=9000, reason=reason)
    assert response.status_code == 200, response.get_json()
    # Chronological: the first 7200 s at 20.00, then 1800 s at 30.00.
    assert response.get_json()["amount"]["amount"] == 4000 + 1500

    seen = client.get(f"{ME}/timesheets/{sheet_id}", as_user=trainer).get_json()
    assert seen["adjustment_reason"] == reason
    assert (seen["logged_seconds"], seen["approved_seconds"]) == (12600, 9000)
    assert seen["amount"] == {"amount": 5500, "currency": "USD"}
    listed = client.get(f"{ME}/timesheets", as_user=trainer,
                        query_string={"state": "approved"}).get_json()["items"]
    assert [s["adjustment_reason"] for s in listed] == [reason]
    notice = session.scalars(
        select(Notification).where(Notification.user_id == trainer.id)
    ).one()
    assert reason in notice.body and notice.data["adjustment_reason"] == reason
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "timesheet.approved")
    ).one()
    assert (event.before["seconds"], event.before["amount"]) == (12600, 4000 + 4500)
    assert (event.after["seconds"], event.after["amount"]) == (9000, 5500)
    assert event.after["adjustment_reason"] == reason
    assert [e.amount for e in earnings(session, sheet_id)] == [5500]


def test_approving_nothing_pays_nothing(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project()
    staff(project, trainer)
    manager = manager_of(session, project)
    sign_in(client, manager)
    sheet_id = logged(client, trainer, project, hk(7, 6), hk(7, 7))["timesheet_id"]
    submit(client, trainer, sheet_id)
    response = approve(client, manager, sheet_id, approved_seconds=0, reason="Not our work.")
    assert response.status_code == 200
    assert response.get_json()["amount"]["amount"] == 0
    assert earnings(session, sheet_id) == []


# --- submission --------------------------------------------------------------------------


def test_submission_needs_stopped_sessions_and_some_work(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project()
    staff(project, trainer)
    running = started(client, trainer, project)
    sheet_id = running_sheet(session, running["id"])
    problem = assert_problem(submit(client, trainer, sheet_id), 409, code="session-running")
    assert problem["entry_id"] == running["id"]
    assert session.get(Timesheet, uuid.UUID(sheet_id)).state is TimesheetState.OPEN
    clock_at.move_to(hk(7, 8, 10))
    stop(client, trainer, running["id"])
    assert submit(client, trainer, sheet_id).status_code == 200

    # A week whose only entry was deleted has nothing to submit.
    entry = logged(client, trainer, project, hk(6, 9), hk(6, 10))
    assert client.delete(f"{ME}/time-entries/{entry['id']}", as_user=trainer).status_code == 204
    assert_problem(submit(client, trainer, entry["timesheet_id"]), 409, code="timesheet-empty")


def test_closed_projects_still_settle(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project()
    staff(project, trainer)
    manager = manager_of(session, project)
    sign_in(client, manager)
    sheet_id = logged(client, trainer, project, hk(7, 6), hk(7, 7))["timesheet_id"]
    project.state = ProjectState.CLOSED
    session.commit()
    assert submit(client, trainer, sheet_id).status_code == 200
    assert approve(client, manager, sheet_id).get_json()["amount"]["amount"] == 2000


def test_weeks_follow_the_trainers_time_zone(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    first, second = hourly_project(), hourly_project()
    staff(first, trainer)
    staff(second, trainer)
    sunday = logged(client, trainer, first, hk(6, 23, 30), hk(6, 23, 59))
    monday = logged(client, trainer, first, hk(7, 0, 30), hk(7, 1))
    other = logged(client, trainer, second, hk(7, 2), hk(7, 3))
    assert len({sunday["timesheet_id"], monday["timesheet_id"], other["timesheet_id"]}) == 3

    def weeks(**query: str) -> list[tuple[str, str]]:
        response = client.get(f"{ME}/timesheets", as_user=trainer, query_string=query)
        return sorted((s["week_start"], s["project_id"]) for s in response.get_json()["items"])

    assert weeks(project_id=str(first.id)) == [("2029-12-31", str(first.id)),
                                               ("2030-01-07", str(first.id))]
    submit(client, trainer, other["timesheet_id"])
    assert weeks(state="submitted") == [("2030-01-07", str(second.id))]


# --- who sees what -----------------------------------------------------------------------


def test_timesheets_of_another_organisation_or_trainer_are_not_found(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = hourly_project()
    staff(project, trainer)
    sheet_id = logged(client, trainer, project, hk(7, 6), hk(7, 7))["timesheet_id"]
    submit(client, trainer, sheet_id)
    outsider = StaffFactory(role=Role.ADMIN)
    other_trainer = UserFactory()
    finance = manager_of(session, project, Role.FINANCE)
    for user in (outsider, other_trainer, finance):
        sign_in(client, user)

    assert_problem(client.get(f"/api/v1/timesheets/{sheet_id}", as_user=outsider), 404)
    assert_problem(approve(client, outsider, sheet_id), 404, code="not-found")
    assert_problem(
        client.get(f"/api/v1/projects/{project.id}/timesheets", as_user=outsider), 404
    )
    assert_problem(client.get(f"{ME}/timesheets/{sheet_id}", as_user=other_trainer), 404)
    assert_problem(submit(client, other_trainer, sheet_id), 404)
    assert client.get(f"{ME}/timesheets", as_user=other_trainer).get_json()["items"] == []
    assert_problem(approve(client, finance, sheet_id), 403, code="role-forbidden")
    assert session.get(Timesheet, uuid.UUID(sheet_id)).state is TimesheetState.SUBMITTED
    assert earnings(session, sheet_id) == []


# --- auto-approval -------------------------------------------------------------------------


def test_timesheets_are_auto_approved_after_the_review_period_once(
    client: ApiClient, session: Session, trainer: User, clock_at: time_machine.Coordinates
) -> None:
    quick = hourly_project(auto_approve_days=3)
    slow = hourly_project(auto_approve_days=7)
    staff(quick, trainer)
    staff(slow, trainer)
    clock_at.move_to(hk(7, 12))
    quick_id = logged(client, trainer, quick, hk(7, 6), hk(7, 7, 30))["timesheet_id"]
    slow_id = logged(client, trainer, slow, hk(7, 8), hk(7, 9))["timesheet_id"]
    open_id = logged(client, trainer, slow, hk(6, 8), hk(6, 9))["timesheet_id"]
    submit(client, trainer, quick_id)
    submit(client, trainer, slow_id)

    def run() -> int:
        handled = timesheets.auto_approve_timesheets(session, now=clock.now(), limit=50)
        session.commit()
        return handled

    clock_at.move_to(hk(10, 11, 59))
    assert run() == 0
    clock_at.move_to(hk(10, 12))
    assert run() == 1
    sheet = session.get(Timesheet, uuid.UUID(quick_id))
    assert sheet.state is TimesheetState.APPROVED and sheet.auto_approved
    assert sheet.approved_seconds == 5400 and sheet.amount == 3000
    assert sheet.reviewed_by_id is None
    assert run() == 0
    assert [e.amount for e in earnings(session, quick_id)] == [3000]
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == quick_id)
    ).one()
    assert event.actor_label == "scheduler" and event.after["auto_approved"] is True

    clock_at.move_to(hk(14, 12))
    assert run() == 1
    assert run() == 0
    assert [e.amount for e in earnings(session, slow_id)] == [2000]
    # An open timesheet is never approved by the scheduler.
    assert session.get(Timesheet, uuid.UUID(open_id)).state is TimesheetState.OPEN
    seen = client.get(f"{ME}/timesheets/{quick_id}", as_user=trainer).get_json()
    assert seen["auto_approved"] is True and seen["amount"]["amount"] == 3000


def test_auto_approval_handles_a_batch_at_a_time(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(auto_approve_days=1)
    trainers = [UserFactory(timezone="Asia/Hong_Kong") for _ in range(3)]
    staff(project, *trainers)
    sign_in(client, *trainers)
    for trainer in trainers:
        sheet_id = logged(client, trainer, project, hk(7, 6), hk(7, 7))["timesheet_id"]
        submit(client, trainer, sheet_id)
    clock_at.move_to(hk(9, 0))
    assert timesheets.auto_approve_timesheets(session, now=clock.now(), limit=2) == 2
    assert timesheets.auto_approve_timesheets(session, now=clock.now(), limit=2) == 1
    assert timesheets.auto_approve_timesheets(session, now=clock.now(), limit=2) == 0
    session.commit()
    assert session.scalar(
        select(func.count()).select_from(EarningEvent)
        .where(EarningEvent.kind == EarningKind.TIMESHEET)
    ) == 3


# --- the amount, as a property -----------------------------------------------------------

_CURRENCIES = st.sampled_from(["USD", "JPY", "BHD"])
_RATE_IDS = [uuid.UUID(int=n) for n in range(1, 5)]


@given(
    currency=_CURRENCIES,
    amounts=st.lists(st.integers(1, 1_000_000), min_size=4, max_size=4),
    entries=st.lists(
        st.tuples(st.sampled_from(_RATE_IDS), st.integers(0, 86_400)), max_size=30
    ),
    approved=st.integers(0, 30 * 86_400),
)
def test_the_amount_is_the_rounded_sum_of_its_parts(
    currency: str, amounts: list[int], entries: list[tuple[uuid.UUID, int]], approved: int
) -> None:
    hourly = {rate_id: Money(amount, currency) for rate_id, amount in zip(_RATE_IDS, amounts,
                                                                          strict=True)}
    parts = split_by_rate(entries, approved)
    paid_seconds = min(approved, sum(seconds for _, seconds in entries))
    assert sum(seconds for _, seconds in parts) == paid_seconds
    assert len({rate_id for rate_id, _ in parts}) == len(parts)

    amount = amount_for([(hourly[r], s) for r, s in parts], currency)
    exact = sum(
        (hourly[r].to_decimal() * Decimal(s) / 3600 for r, s in parts), Decimal(0)
    )
    assert amount == Money.from_decimal(exact, currency)  # rounded once
    used = [hourly[r] for r, _ in parts] or [Money(1, currency)]
    assert amount <= rate_for(max(used), paid_seconds)
    assert amount >= rate_for(min(used), paid_seconds)
    per_part = sum(rate_for(hourly[r], s).amount for r, s in parts)
    assert 2 * abs(amount.amount - per_part) <= len(parts) + 1
    if len(parts) == 1:
        assert amount == rate_for(hourly[parts[0][0]], parts[0][1])
    # Approving more never pays less.
    more = split_by_rate(entries, approved + 3600)
    assert amount_for([(hourly[r], s) for r, s in more], currency) >= amount


def test_parts_follow_the_chronological_order_up_to_the_approved_total() -> None:
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    entries = [(a, 3600), (b, 1800), (a, 600)]
    assert split_by_rate(entries, 10_000) == [(a, 4200), (b, 1800)]
    assert split_by_rate(entries, 4000) == [(a, 3600), (b, 400)]
    assert split_by_rate(entries, 0) == []
    assert amount_for([], "USD") == Money(0, "USD")


# --- races on PostgreSQL -------------------------------------------------------------------


def test_parallel_session_starts_leave_one_running_session(
    live_app: Flask, live_session: Session
) -> None:
    project = hourly_project()
    other_project = hourly_project()
    trainer = UserFactory()
    staff(project, trainer)
    staff(other_project, trainer)
    headers = bearer(token_for(trainer))
    paths = [f"/api/v1/projects/{p.id}/sessions" for p in (project, other_project)] * 5

    results = race(live_app, [
        lambda client, path=path: client.post(path, headers=headers) for path in paths
    ])

    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 9, [r.get_json() for r in results]
    running = next(r.get_json() for r in results if r.status_code == 201)
    for refused in (r.get_json() for r in results if r.status_code == 409):
        assert refused["type"].endswith("session-running")
        assert refused["entry_id"] == running["id"]
    live_session.expire_all()
    assert live_session.scalar(
        select(func.count()).select_from(TimeEntry).where(TimeEntry.trainer_id == trainer.id)
    ) == 1


def test_parallel_manual_entries_for_the_same_hour_log_it_once(
    live_app: Flask, live_session: Session
) -> None:
    projects = [hourly_project(), hourly_project()]
    trainer = UserFactory()
    staff(projects[0], trainer)
    staff(projects[1], trainer)
    headers = bearer(token_for(trainer))
    end = clock.now().replace(microsecond=0) - timedelta(hours=1)
    body = {"started_at": iso(end - timedelta(hours=1)), "ended_at": iso(end), "note": "Labels"}

    results = race(live_app, [
        lambda client, p=p: client.post(
            f"/api/v1/projects/{p.id}/time-entries", headers=headers, json=body
        )
        for p in projects * 4
    ])

    assert sorted(r.status_code for r in results) == [201] + [409] * 7
    live_session.expire_all()
    assert live_session.scalar(
        select(func.count()).select_from(TimeEntry).where(TimeEntry.trainer_id == trainer.id)
    ) == 1


def test_parallel_approvals_pay_once(live_app: Flask, live_session: Session) -> None:
    project = hourly_project(auto_approve_days=1)
    trainer = UserFactory()
    staff(project, trainer)
    managers = [manager_of(live_session, project) for _ in range(6)]
    trainer_headers = bearer(token_for(trainer))
    client = live_app.test_client()
    end = clock.now().replace(microsecond=0) - timedelta(hours=1)
    entry = client.post(
        f"/api/v1/projects/{project.id}/time-entries", headers=trainer_headers,
        json={"started_at": iso(end - timedelta(hours=1)), "ended_at": iso(end), "note": "x"},
    ).get_json()
    sheet_id = entry["timesheet_id"]
    assert client.post(f"{ME}/timesheets/{sheet_id}/submit",
                       headers=trainer_headers).status_code == 200
    tokens = [bearer(token_for(manager)) for manager in managers]
    calls = [
        lambda c, h=h: c.post(f"/api/v1/timesheets/{sheet_id}/approve", headers=h, json={})
        for h in tokens
    ]

    results = race(live_app, calls)

    assert sorted(r.status_code for r in results) == [200] + [409] * 5
    live_session.expire_all()
    assert [e.amount for e in earnings(live_session, sheet_id)] == [2000]
    assert live_session.get(Timesheet, uuid.UUID(sheet_id)).state is TimesheetState.APPROVED
