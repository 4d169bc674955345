"""Work sessions and manual entries through the API: starting, heartbeats, stopping,
the idle job, caps (in the trainer's time zone, across local midnight), overlaps, and
every refusal writing nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem, declare_use
from tests.factories import ProjectFactory, StaffFactory, UserFactory, hourly_project, staff
from tests.hourly_helpers import (
    ME,
    beat,
    clock_at,
    counts,
    hk,
    iso,
    logged,
    manual,
    sign_in,
    start,
    started,
    stop,
)
from workforce import clock
from workforce.accounts.models import AuditEvent, User
from workforce.notifications.models import Notification
from workforce.projects import hourly
from workforce.projects.models import (
    EntryEndReason,
    Project,
    ProjectRate,
    ProjectState,
    Suspension,
    TimeEntry,
    Timesheet,
    TimesheetState,
)

__all__ = ["clock_at"]  # the fixture, imported for pytest

LONG_IDLE = 24 * 3600  # heartbeats may be far apart in tests that are about caps


@pytest.fixture
def trainer(session: Session, clock_at: time_machine.Coordinates, client: ApiClient):
    trainer = UserFactory(timezone="Asia/Hong_Kong", display_name="Chan Tai Man")
    sign_in(client, trainer)
    return trainer


def entry_row(session: Session, entry_id: str) -> TimeEntry:
    entry = session.get(TimeEntry, uuid.UUID(entry_id))
    assert entry is not None
    return entry


# --- sessions ------------------------------------------------------------------------


def test_a_session_from_start_through_heartbeats_to_stop(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(daily_cap_minutes=480, weekly_cap_minutes=2400)
    staff(project, trainer)
    clock_at.move_to(hk(7, 9))

    body = started(client, trainer, project)
    assert body["running"] is True and body["ended_at"] is None and body["seconds"] is None
    assert body["source"] == "session" and body["project_id"] == str(project.id)
    assert datetime.fromisoformat(body["started_at"]) == hk(7, 9)
    # Working on from now, the daily cap (8 h) would close it at 17:00.
    assert body["cap"]["kind"] == "daily"
    assert datetime.fromisoformat(body["cap"]["at"]) == hk(7, 17)
    assert datetime.fromisoformat(body["cap"]["resets_at"]) == hk(8, 0)

    for minute in (10, 20, 30):
        clock_at.move_to(hk(7, 9, minute))
        response = beat(client, trainer, body["id"])
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["running"] is True
        assert datetime.fromisoformat(response.get_json()["last_heartbeat_at"]) == hk(7, 9, minute)

    clock_at.move_to(hk(7, 9, 40, 30))
    response = stop(client, trainer, body["id"])
    assert response.status_code == 200
    stopped = response.get_json()
    assert stopped["running"] is False and stopped["end_reason"] == "stopped"
    assert stopped["seconds"] == 40 * 60 + 30
    # Stopping again changes nothing.
    clock_at.move_to(hk(7, 10))
    again = stop(client, trainer, body["id"]).get_json()
    assert again["ended_at"] == stopped["ended_at"] and again["end_reason"] == "stopped"
    # A heartbeat on a stopped session is refused.
    assert_problem(beat(client, trainer, body["id"]), 409, code="session-closed")

    entry = entry_row(session, body["id"])
    sheet = session.get(Timesheet, entry.timesheet_id)
    assert sheet is not None and sheet.week_start.isoformat() == "2030-01-07"
    assert sheet.state is TimesheetState.OPEN and sheet.currency == "USD"
    listed = client.get(f"{ME}/time-entries", as_user=trainer).get_json()["items"]
    assert [item["id"] for item in listed] == [body["id"]]


def test_only_one_running_session_across_all_projects(
    client: ApiClient, session: Session, trainer
) -> None:
    first, second = hourly_project(), hourly_project()
    staff(first, trainer)
    staff(second, trainer)
    running = started(client, trainer, first)
    before = counts(session)

    for project in (first, second):
        body = assert_problem(start(client, trainer, project), 409, code="session-running")
        assert body["entry_id"] == running["id"]
        assert body["project_id"] == str(first.id)
    assert counts(session) == before


def test_refusals_to_start_write_nothing(client: ApiClient, session: Session, trainer) -> None:
    unstaffed = hourly_project()
    per_task = ProjectFactory()
    paused = hourly_project(state=ProjectState.PAUSED, pause_reason="No audio queued.",
                            expected_resume_at=hk(14, 9).astimezone(UTC))
    draft = hourly_project(state=ProjectState.DRAFT)
    staff(per_task, trainer)
    staff(paused, trainer)
    staff(draft, trainer)

    assert_problem(start(client, trainer, unstaffed), 403, code="not-staffed")
    assert_problem(start(client, trainer, per_task), 409, code="not-hourly")
    body = assert_problem(start(client, trainer, paused), 409, code="project-paused")
    assert body["pause_reason"] == "No audio queued."
    assert_problem(start(client, trainer, draft), 404, code="not-found")
    manager = StaffFactory()
    assert_problem(start(client, manager, unstaffed), 403, code="role-forbidden")
    assert counts(session) == (0, 0)


def test_a_session_without_heartbeats_is_closed_at_the_last_one_by_the_job(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(idle_timeout_seconds=900)
    staff(project, trainer)
    other = UserFactory()
    staff(project, other)
    sign_in(client, other)
    clock_at.move_to(hk(7, 9))
    idle = started(client, trainer, project)
    clock_at.move_to(hk(7, 9, 5))
    assert beat(client, trainer, idle["id"]).status_code == 200
    busy = started(client, other, project)

    # 15 minutes after the last heartbeat it is not idle yet.
    clock_at.move_to(hk(7, 9, 20))
    assert beat(client, other, busy["id"]).status_code == 200
    assert hourly.close_idle_sessions(session, now=clock.now(), limit=50) == 0

    clock_at.move_to(hk(7, 9, 20, 1))
    assert hourly.close_idle_sessions(session, now=clock.now(), limit=50) == 1
    session.commit()
    entry = entry_row(session, idle["id"])
    assert entry.ended_at == hk(7, 9, 5) and entry.end_reason is EntryEndReason.IDLE
    assert entry_row(session, busy["id"]).ended_at is None
    notice = session.scalars(
        select(Notification).where(Notification.user_id == trainer.id)
    ).one()
    assert notice.kind == "session.closed" and notice.data["end_reason"] == "idle"
    # Run again: nothing more to do; the closed session takes no heartbeat.
    assert hourly.close_idle_sessions(session, now=clock.now(), limit=50) == 0
    body = assert_problem(beat(client, trainer, idle["id"]), 409, code="session-closed")
    assert body["end_reason"] == "idle"
    # The trainer may start again.
    assert start(client, trainer, project).status_code == 201


def test_a_late_heartbeat_does_not_revive_an_idle_session(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(idle_timeout_seconds=600)
    staff(project, trainer)
    clock_at.move_to(hk(7, 9))
    body = started(client, trainer, project)
    clock_at.move_to(hk(7, 10))  # the idle job has not run

    problem = assert_problem(beat(client, trainer, body["id"]), 409, code="session-closed")
    assert problem["end_reason"] == "idle"
    # The close stands although the heartbeat was refused: paid to its start, nothing more.
    entry = entry_row(session, body["id"])
    assert entry.ended_at == hk(7, 9) and entry.end_reason is EntryEndReason.IDLE
    # Stopping a lapsed session closes it the same way.
    again = started(client, trainer, project)
    clock_at.move_to(hk(7, 11))
    stopped = stop(client, trainer, again["id"]).get_json()
    assert stopped["end_reason"] == "idle"
    assert datetime.fromisoformat(stopped["ended_at"]) == hk(7, 10)


def test_a_cap_reached_during_a_session_closes_it_at_that_moment(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(daily_cap_minutes=90, weekly_cap_minutes=2400,
                             idle_timeout_seconds=LONG_IDLE)
    staff(project, trainer)
    logged(client, trainer, project, hk(7, 7), hk(7, 7, 30))  # 30 of the 90 minutes
    clock_at.move_to(hk(7, 9))
    body = started(client, trainer, project)
    assert datetime.fromisoformat(body["cap"]["at"]) == hk(7, 10)

    clock_at.move_to(hk(7, 9, 50))
    assert beat(client, trainer, body["id"]).get_json()["running"] is True
    clock_at.move_to(hk(7, 10, 20))
    closed = beat(client, trainer, body["id"])
    assert closed.status_code == 200
    closed_body = closed.get_json()
    assert closed_body["running"] is False and closed_body["end_reason"] == "cap"
    assert datetime.fromisoformat(closed_body["ended_at"]) == hk(7, 10)
    assert closed_body["seconds"] == 3600
    assert closed_body["cap"]["kind"] == "daily"
    assert datetime.fromisoformat(closed_body["cap"]["resets_at"]) == hk(8, 0)

    before = counts(session)
    problem = assert_problem(start(client, trainer, project), 409, code="daily-cap-reached")
    assert problem["cap"] == "daily" and problem["cap_minutes"] == 90
    assert datetime.fromisoformat(problem["resets_at"]) == hk(8, 0)
    assert counts(session) == before
    # The next local day starts afresh.
    clock_at.move_to(hk(8, 0))
    assert start(client, trainer, project).status_code == 201


def test_stop_and_the_idle_job_never_pay_past_a_cap(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(daily_cap_minutes=60, idle_timeout_seconds=LONG_IDLE)
    staff(project, trainer)
    clock_at.move_to(hk(7, 9))
    first = started(client, trainer, project)
    clock_at.move_to(hk(7, 12))
    stopped = stop(client, trainer, first["id"]).get_json()
    assert stopped["end_reason"] == "cap"
    assert datetime.fromisoformat(stopped["ended_at"]) == hk(7, 10)

    # Next day: heartbeats stop after the cap moment; the job closes at the cap moment.
    clock_at.move_to(hk(8, 9))
    second = started(client, trainer, project)
    clock_at.move_to(hk(8, 10, 30))
    assert beat(client, trainer, second["id"]).get_json()["end_reason"] == "cap"

    clock_at.move_to(hk(9, 9))
    third = started(client, trainer, project)
    clock_at.move_to(hk(9, 9, 40))
    assert beat(client, trainer, third["id"]).status_code == 200
    clock_at.move_to(hk(10, 12))  # a day later than the idle timeout
    assert hourly.close_idle_sessions(session, now=clock.now(), limit=50) == 1
    session.commit()
    entry = entry_row(session, third["id"])
    assert entry.end_reason is EntryEndReason.IDLE and entry.ended_at == hk(9, 9, 40)

    # A manager lowers the cap below what a running session has done since its last
    # heartbeat; the session then goes silent: the job closes it at the new cap moment.
    clock_at.move_to(hk(10, 13))
    fourth = started(client, trainer, project)
    clock_at.move_to(hk(10, 13, 50))
    assert beat(client, trainer, fourth["id"]).get_json()["running"] is True
    project.daily_cap_minutes = 30
    session.commit()
    clock_at.move_to(hk(11, 16))
    assert hourly.close_idle_sessions(session, now=clock.now(), limit=50) == 1
    session.commit()
    entry = entry_row(session, fourth["id"])
    assert entry.end_reason is EntryEndReason.CAP and entry.ended_at == hk(10, 13, 30)


def test_caps_count_local_days_of_the_trainer_split_at_midnight(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(daily_cap_minutes=60, weekly_cap_minutes=None,
                             idle_timeout_seconds=LONG_IDLE)
    staff(project, trainer)
    clock_at.move_to(hk(8, 12))
    # 23:30 to 00:30 in Hong Kong: 30 minutes on Monday, 30 on Tuesday.
    logged(client, trainer, project, hk(7, 23, 30), hk(8, 0, 30))
    logged(client, trainer, project, hk(7, 22), hk(7, 22, 30))  # Monday is full
    problem = assert_problem(
        manual(client, trainer, project, hk(7, 21), hk(7, 21, 1)), 409, code="daily-cap-reached"
    )
    assert datetime.fromisoformat(problem["resets_at"]) == hk(8, 0)
    logged(client, trainer, project, hk(8, 8), hk(8, 8, 30))  # Tuesday is full
    assert_problem(
        manual(client, trainer, project, hk(8, 9), hk(8, 9, 1)), 409, code="daily-cap-reached"
    )
    # Sunday has its own hour: an entry of 61 minutes does not fit, one of 60 does.
    assert_problem(
        manual(client, trainer, project, hk(6, 2), hk(6, 3, 1)), 409, code="daily-cap-reached"
    )
    assert manual(client, trainer, project, hk(6, 2), hk(6, 3)).status_code == 201

    # The same hour is all Monday for a trainer in London (15:30-16:30 UTC).
    londoner = UserFactory(timezone="Europe/London")
    staff(project, londoner)
    sign_in(client, londoner)
    logged(client, londoner, project, hk(7, 23, 30), hk(8, 0, 30))
    assert_problem(  # Monday 10:00 in London
        manual(client, londoner, project, hk(7, 18), hk(7, 18, 1)), 409, code="daily-cap-reached"
    )
    # Tuesday 01:00 in London
    assert manual(client, londoner, project, hk(8, 9), hk(8, 10)).status_code == 201


def test_a_session_across_local_midnight_draws_on_each_days_cap(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(daily_cap_minutes=60, weekly_cap_minutes=None,
                             idle_timeout_seconds=LONG_IDLE)
    staff(project, trainer)
    clock_at.move_to(hk(7, 23, 45))
    logged(client, trainer, project, hk(7, 23), hk(7, 23, 40))  # 40 of Monday's 60
    body = started(client, trainer, project)
    # Monday's 20 minutes would last past midnight; Tuesday's hour ends at 01:00.
    assert datetime.fromisoformat(body["cap"]["at"]) == hk(8, 1)
    clock_at.move_to(hk(8, 0, 30))
    assert beat(client, trainer, body["id"]).get_json()["running"] is True
    clock_at.move_to(hk(8, 1, 10))
    closed = beat(client, trainer, body["id"]).get_json()
    assert closed["end_reason"] == "cap"
    assert datetime.fromisoformat(closed["ended_at"]) == hk(8, 1)
    assert datetime.fromisoformat(closed["cap"]["resets_at"]) == hk(9, 0)
    # Both days belong to the week it started in.
    assert entry_row(session, body["id"]).timesheet_id == session.scalars(
        select(Timesheet.id)
    ).one()


def test_the_weekly_cap_counts_the_local_week_from_monday(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(daily_cap_minutes=480, weekly_cap_minutes=120)
    staff(project, trainer)
    clock_at.move_to(hk(9, 9))
    logged(client, trainer, project, hk(7, 9), hk(7, 10))
    logged(client, trainer, project, hk(8, 9), hk(8, 10))
    before = counts(session)
    problem = assert_problem(start(client, trainer, project), 409, code="weekly-cap-reached")
    assert datetime.fromisoformat(problem["resets_at"]) == hk(14, 0)
    assert_problem(
        manual(client, trainer, project, hk(9, 7), hk(9, 7, 1)), 409, code="weekly-cap-reached"
    )
    assert counts(session) == before
    # Sunday 6 January is last week: its own cap.
    assert manual(client, trainer, project, hk(6, 9), hk(6, 10)).status_code == 201
    clock_at.move_to(hk(14, 0))
    assert start(client, trainer, project).status_code == 201


# --- rates and session starts: one precision (whole seconds) -------------------------


def test_a_session_started_in_the_second_of_a_new_rate_is_paid_at_it(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(rate=2000)
    staff(project, trainer)
    manager = session.get(User, project.created_by_id)
    sign_in(client, manager)
    clock_at.move_to(hk(7, 9) + timedelta(microseconds=300_000))
    rate = client.post(f"/api/v1/projects/{project.id}/rates", as_user=manager,
                       json={"amount": 2600, "reason": "More for nights."})
    assert rate.status_code == 201, rate.get_json()
    assert datetime.fromisoformat(rate.get_json()["effective_from"]) == hk(7, 9)

    clock_at.move_to(hk(7, 9) + timedelta(microseconds=800_000))
    body = started(client, trainer, project)

    assert entry_row(session, body["id"]).rate_id == uuid.UUID(rate.get_json()["id"])


def test_a_projects_first_rate_pays_a_session_started_in_its_first_second(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    manager = StaffFactory()
    sign_in(client, manager)
    clock_at.move_to(hk(7, 9) + timedelta(microseconds=700_000))
    created = client.post("/api/v1/projects", as_user=manager, json={
        "name": "Red teaming", "capacity": 3, "pay_model": "hourly", "currency": "USD",
        "rate": 2500, "guidelines": "Be careful.",
    }).get_json()
    project_id = uuid.UUID(created["id"])
    declare_use(client, manager, project_id)
    assert client.post(f"/api/v1/projects/{project_id}/activate",
                       as_user=manager).status_code == 200
    project = session.get(Project, project_id)
    staff(project, trainer)

    clock_at.move_to(hk(7, 9) + timedelta(microseconds=900_000))
    body = started(client, trainer, project)

    assert datetime.fromisoformat(body["started_at"]) == hk(7, 9)
    [rate] = session.scalars(select(ProjectRate).where(ProjectRate.project_id == project_id))
    assert rate.effective_from == hk(7, 9)
    assert entry_row(session, body["id"]).rate_id == rate.id


def test_a_scheduled_rate_starts_at_a_whole_second(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project(rate=2000)
    manager = session.get(User, project.created_by_id)
    sign_in(client, manager)
    later = hk(8, 9, 30) + timedelta(microseconds=250_000)

    response = client.post(f"/api/v1/projects/{project.id}/rates", as_user=manager,
                           json={"amount": 2600, "reason": "Tomorrow.",
                                 "effective_from": iso(later)})

    assert response.status_code == 201, response.get_json()
    assert datetime.fromisoformat(response.get_json()["effective_from"]) == hk(8, 9, 30)
    # A manual entry started in that second is paid at it.
    staff(project, trainer)
    clock_at.move_to(hk(8, 12))
    entry = manual(client, trainer, project, hk(8, 9, 30), hk(8, 10, 30))
    assert entry.status_code == 201, entry.get_json()
    assert entry_row(session, entry.get_json()["id"]).rate_id == uuid.UUID(
        response.get_json()["id"])


# --- manual entries --------------------------------------------------------------------


def test_a_manual_entry_is_logged_with_its_note_and_audited(
    client: ApiClient, session: Session, trainer
) -> None:
    project = hourly_project()
    staff(project, trainer)
    response = manual(client, trainer, project, hk(6, 14), hk(6, 15, 30), note="  QA pass  ")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == "manual" and body["note"] == "QA pass"
    assert body["seconds"] == 5400 and body["running"] is False
    # Sunday the 6th belongs to the week of Monday the 31st of December.
    sheet = session.get(Timesheet, uuid.UUID(body["timesheet_id"]))
    assert sheet is not None and sheet.week_start.isoformat() == "2029-12-31"
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "time_entry.added")
    ).one()
    assert event.object_id == body["id"] and event.after["seconds"] == 5400
    assert event.organisation_id == project.organisation_id


@pytest.mark.parametrize(
    ("started_at", "ended_at", "field"),
    [
        (hk(7, 7), hk(7, 8, 0, 1), "ended_at"),      # ends in the future
        (hk(7, 7), hk(7, 6), "ended_at"),            # ends before it starts
        (hk(7, 7), hk(7, 7), "ended_at"),            # empty
        (hk(5, 6), hk(6, 7), "ended_at"),            # more than 24 hours
        (hk(7, 7) - timedelta(days=15), hk(7, 7) - timedelta(days=15) + timedelta(hours=1),
         "started_at"),                              # older than 14 days
    ],
)
def test_manual_entries_breaking_a_time_rule_are_refused(
    client: ApiClient, session: Session, trainer, started_at, ended_at, field
) -> None:
    project = hourly_project()
    staff(project, trainer)
    body = assert_problem(
        manual(client, trainer, project, started_at, ended_at), 422, code="validation-error"
    )
    assert field in body["errors"]
    assert counts(session) == (0, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"note": ""},
        {"note": None},
        {"started_at": "2030-01-07T06:00:00"},   # no offset
        {"ended_at": 1767225600},
        {"started_at": "yesterday"},
    ],
)
def test_manual_entry_bodies_are_checked(
    client: ApiClient, session: Session, trainer, change
) -> None:
    project = hourly_project()
    staff(project, trainer)
    payload = {"started_at": iso(hk(7, 6)), "ended_at": iso(hk(7, 7)), "note": "Labels"}
    response = client.post(
        f"/api/v1/projects/{project.id}/time-entries", as_user=trainer,
        json={**payload, **change},
    )
    body = assert_problem(response, 422)
    assert set(change) <= set(body["errors"])
    assert counts(session) == (0, 0)


def test_entries_never_overlap_across_projects(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    first = hourly_project(idle_timeout_seconds=LONG_IDLE)
    second = hourly_project()
    staff(first, trainer)
    staff(second, trainer)
    kept = logged(client, trainer, first, hk(7, 6), hk(7, 7))
    before = counts(session)

    for start_at, end_at in ((hk(7, 6, 30), hk(7, 7, 30)), (hk(7, 5), hk(7, 8)),
                             (hk(7, 6, 10), hk(7, 6, 20))):
        body = assert_problem(
            manual(client, trainer, second, start_at, end_at), 409, code="entry-overlap"
        )
        assert body["entry_id"] == kept["id"] and body["project_id"] == str(first.id)
    assert counts(session) == before
    # Touching is not overlapping.
    assert manual(client, trainer, second, hk(7, 7), hk(7, 7, 30)).status_code == 201

    # A running session reaches into the future: nothing after its start may be logged.
    clock_at.move_to(hk(7, 9))
    running = started(client, trainer, first)
    clock_at.move_to(hk(7, 10))
    assert beat(client, trainer, running["id"]).status_code == 200
    body = assert_problem(
        manual(client, trainer, second, hk(7, 8, 30), hk(7, 9, 1)), 409, code="entry-overlap"
    )
    assert body["entry_id"] == running["id"] and body["ended_at"] is None
    assert manual(client, trainer, second, hk(7, 8, 30), hk(7, 9)).status_code == 201


def test_a_submitted_week_takes_no_more_work(
    client: ApiClient, session: Session, trainer, clock_at: time_machine.Coordinates
) -> None:
    project = hourly_project()
    staff(project, trainer)
    entry = logged(client, trainer, project, hk(7, 6), hk(7, 7))
    submitted = client.post(f"{ME}/timesheets/{entry['timesheet_id']}/submit", as_user=trainer)
    assert submitted.status_code == 200
    before = counts(session)

    body = assert_problem(
        manual(client, trainer, project, hk(7, 7), hk(7, 7, 30)), 409, code="timesheet-submitted"
    )
    assert body["timesheet_id"] == entry["timesheet_id"]
    assert_problem(start(client, trainer, project), 409, code="timesheet-submitted")
    assert_problem(
        client.delete(f"{ME}/time-entries/{entry['id']}", as_user=trainer), 409,
        code="timesheet-submitted",
    )
    assert counts(session) == before
    # Next week is a new timesheet.
    clock_at.move_to(hk(14, 9))
    assert start(client, trainer, project).status_code == 201


def test_manual_entries_on_paused_suspended_and_per_task_projects(
    client: ApiClient, session: Session, trainer
) -> None:
    paused = hourly_project(state=ProjectState.PAUSED, pause_reason="Waiting for data.")
    suspended = hourly_project(state=ProjectState.SUSPENDED, suspension_effective_at=hk(7, 0))
    per_task = ProjectFactory()
    unstaffed = hourly_project()
    for project in (paused, suspended, per_task):
        staff(project, trainer)
    session.add(Suspension(
        project_id=suspended.id, reason="Client cancelled.", announced_at=hk(1, 9),
        effective_at=hk(7, 0), notice_days=7, created_by_id=suspended.created_by_id,
        applied_at=hk(7, 0),
    ))
    session.commit()

    assert manual(client, trainer, paused, hk(6, 9), hk(6, 10)).status_code == 201
    # Before the suspension took effect: still loggable. After: refused.
    assert manual(client, trainer, suspended, hk(6, 20), hk(6, 21)).status_code == 201
    before = counts(session)
    body = assert_problem(
        manual(client, trainer, suspended, hk(6, 23, 30), hk(7, 0, 30)), 409,
        code="project-suspended",
    )
    assert datetime.fromisoformat(body["work_stopped_at"]) == hk(7, 0)
    assert_problem(manual(client, trainer, per_task, hk(6, 1), hk(6, 2)), 409, code="not-hourly")
    assert_problem(
        manual(client, trainer, unstaffed, hk(6, 1), hk(6, 2)), 403, code="not-staffed"
    )
    assert counts(session) == before


def test_deleting_a_manual_entry(client: ApiClient, session: Session, trainer) -> None:
    project = hourly_project()
    staff(project, trainer)
    entry = logged(client, trainer, project, hk(7, 6), hk(7, 7))
    running = started(client, trainer, project)
    other = UserFactory()
    sign_in(client, other)

    path = f"{ME}/time-entries/{entry['id']}"
    assert_problem(client.delete(path, as_user=other), 404, code="not-found")
    assert_problem(
        client.delete(f"{ME}/time-entries/{running['id']}", as_user=trainer), 409,
        code="not-manual",
    )
    assert client.delete(path, as_user=trainer).status_code == 204
    assert session.get(TimeEntry, uuid.UUID(entry["id"])) is None
    assert_problem(client.delete(path, as_user=trainer), 404, code="not-found")
    assert session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == "time_entry.deleted")
    ) == 1


def test_listing_entries_by_project_and_time(
    client: ApiClient, session: Session, trainer
) -> None:
    first, second = hourly_project(), hourly_project()
    staff(first, trainer)
    staff(second, trainer)
    a = logged(client, trainer, first, hk(5, 9), hk(5, 10))
    b = logged(client, trainer, second, hk(6, 9), hk(6, 10))
    c = logged(client, trainer, first, hk(7, 6), hk(7, 7))
    someone = UserFactory()
    staff(first, someone)
    sign_in(client, someone)
    logged(client, someone, first, hk(7, 6), hk(7, 7))

    def ids(**query: str) -> list[str]:
        response = client.get(f"{ME}/time-entries", as_user=trainer, query_string=query)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids() == [c["id"], b["id"], a["id"]]
    assert ids(project_id=str(first.id)) == [c["id"], a["id"]]
    assert ids(**{"from": iso(hk(6, 0)), "to": iso(hk(7, 6))}) == [b["id"]]
    page = client.get(
        f"{ME}/time-entries", as_user=trainer, query_string={"limit": 2}
    ).get_json()
    assert [item["id"] for item in page["items"]] == [c["id"], b["id"]]
    rest = client.get(
        f"{ME}/time-entries", as_user=trainer,
        query_string={"limit": 2, "cursor": page["next_cursor"]},
    ).get_json()
    assert [item["id"] for item in rest["items"]] == [a["id"]] and rest["next_cursor"] is None
    body = assert_problem(
        client.get(f"{ME}/time-entries", as_user=trainer, query_string={"from": "monday"}), 422
    )
    assert "from" in body["errors"]


def test_sessions_and_entries_of_others_are_not_found(
    client: ApiClient, session: Session, trainer
) -> None:
    project = hourly_project()
    staff(project, trainer)
    body = started(client, trainer, project)
    intruder = UserFactory()
    sign_in(client, intruder)
    for call in (beat, stop):
        assert_problem(call(client, intruder, body["id"]), 404, code="not-found")
    assert entry_row(session, body["id"]).ended_at is None
