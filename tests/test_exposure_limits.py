"""Exposure limits enforced through the API with an injected clock: claims and session
starts refused over a limit (and writing nothing), across local midnight in two time
zones, breaks, the graphic cut-off hour, leases bounded by the time left, sessions
stopped (and paid) at the moment a limit is reached, rotation, and the trainer's own
exposure figures."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    consenting,
    hourly_project,
    staff,
    wellbeing_policy,
    worked_task,
)
from tests.hourly_helpers import beat, sign_in, start, started, stop
from tests.task_helpers import claim, claimed, revealed, working
from workforce.accounts.models import Organisation, User
from workforce.billing.models import EarningEvent
from workforce.notifications.models import Notification
from workforce.projects import tasks
from workforce.projects.models import (
    Assignment,
    ContentCategory,
    EntryEndReason,
    Project,
    Sensitivity,
    TimeEntry,
)
from workforce.wellbeing import jobs as wellbeing_jobs
from workforce.wellbeing import limits, sessions

API = "/api/v1"
HK = ZoneInfo("Asia/Hong_Kong")
NY = ZoneInfo("America/New_York")
VIOLENCE = ContentCategory.VIOLENCE.value


def local(zone: ZoneInfo, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in January 2030 (the 7th is a Monday) in ``zone``."""
    return datetime(2030, 1, day, hour, minute, tzinfo=zone)


@pytest.fixture
def travel() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(local(HK, 8, 9), tick=False) as traveller:
        yield traveller


def graphic(**fields: Any) -> Project:
    return ProjectFactory(sensitivity=Sensitivity.GRAPHIC, content_categories=[VIOLENCE],
                          **fields)


def sensitive(**fields: Any) -> Project:
    return ProjectFactory(sensitivity=Sensitivity.SENSITIVE, content_categories=[VIOLENCE],
                          **fields)


def trainer_on(*projects: Project, zone: str = "Asia/Hong_Kong") -> User:
    trainer = UserFactory(timezone=zone)
    consenting(trainer, VIOLENCE)
    for project in projects:
        staff(project, trainer)
    return trainer


def with_tasks(project: Project, count: int = 2, **fields: Any) -> Project:
    for _ in range(count):
        TaskFactory(project=project, **fields)
    return project


def worked(project: Project, trainer: User, start_at: datetime, minutes: int) -> None:
    """A task of the project held from ``start_at`` for ``minutes`` (at most its hour
    of lease) and submitted."""
    worked_task(project, trainer, claimed_at=start_at,
                submitted_at=start_at + timedelta(minutes=minutes))


def assignments(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Assignment)) or 0


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- claims over a limit -----------------------------------------------------------------


@pytest.mark.parametrize("zone", [HK, NY])
def test_the_daily_graphic_limit_holds_until_local_midnight_and_plain_work_stays_open(
    client: ApiClient, session: Session, travel: time_machine.Coordinates, zone: ZoneInfo
) -> None:
    travel.move_to(local(zone, 8, 23, 30))
    project = with_tasks(graphic())
    plain = with_tasks(ProjectFactory())
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=60)
    trainer = trainer_on(project, plain, zone=zone.key)
    sign_in(client, trainer)
    worked(project, trainer, local(zone, 8, 21), 60)
    before = assignments(session)

    problem = assert_problem(claim(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "graphic_daily"
    assert when(problem["resets_at"]) == local(zone, 9, 0)
    assert "60 minutes of graphic work" in problem["detail"]
    assert assignments(session) == before
    # Ordinary work is still open.
    assert claimed(client, trainer, plain)["content_warning"] == {
        "sensitivity": "none", "content_categories": []}

    travel.move_to(local(zone, 9, 0, 1))
    body = claimed(client, trainer, project)
    assert body["content_warning"] == {"sensitivity": "graphic",
                                       "content_categories": [VIOLENCE]}


def test_a_break_is_due_after_an_hour_in_a_row(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    project = with_tasks(sensitive())
    trainer = trainer_on(project)
    sign_in(client, trainer)
    # 35 + 25 minutes with a 5-minute gap: one run of 65 minutes, ended 2 minutes ago.
    worked(project, trainer, now - timedelta(minutes=67), 35)
    worked(project, trainer, now - timedelta(minutes=27), 25)
    before = assignments(session)

    problem = assert_problem(claim(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "break"
    assert when(problem["resets_at"]) == now + timedelta(minutes=8)
    assert assignments(session) == before

    travel.move_to(now + timedelta(minutes=7, seconds=59))
    assert_problem(claim(client, trainer, project), 409, code="exposure-limit-reached")
    travel.move_to(now + timedelta(minutes=8))
    claimed(client, trainer, project)


def test_a_pause_shorter_than_the_break_counts_and_the_break_is_due_at_the_claim(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    """55 minutes of graphic work and a 6-minute pause: the pause is part of the run
    (shorter than the 10-minute break), so the run is 61 minutes and a break is due.
    The claim is refused and hands out nothing (it once gave a lease that ended as it
    was handed out, with the payload)."""
    now = local(HK, 8, 9)
    project = with_tasks(graphic())
    trainer = trainer_on(project)
    sign_in(client, trainer)
    worked(project, trainer, now - timedelta(minutes=61), 55)
    before = assignments(session)

    problem = assert_problem(claim(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "break" and "payload" not in problem
    assert when(problem["resets_at"]) == now + timedelta(minutes=4)
    assert assignments(session) == before
    body = client.get(f"{API}/me/exposure", as_user=trainer).get_json()
    assert when(body["break_due_until"]) == now + timedelta(minutes=4)
    assert body["continuous_seconds"] == 61 * 60
    [mine] = body["organisations"]
    assert {lv["level"]: lv["blocked"]["limit"] for lv in mine["levels"]} == {
        "sensitive": "break", "graphic": "break"}

    travel.move_to(now + timedelta(minutes=4))
    lease = claimed(client, trainer, project)
    assert when(lease["lease_expires_at"]) == now + timedelta(minutes=64)


@pytest.mark.parametrize(("pause", "lease"), [
    (0, 300), (240, 60), (299, 1), (300, None), (599, None), (600, 3600),
])
def test_the_claim_and_the_lease_bound_follow_one_break_rule(
    client: ApiClient, session: Session, travel: time_machine.Coordinates,
    pause: int, lease: int | None,
) -> None:
    """Whatever the pause (seconds) after 55 minutes in a row, the claim is refused
    exactly when the break is due, and otherwise the lease, once the task is revealed,
    runs until the run reaches 60 minutes (pauses shorter than the break count): never
    a lease already ended."""
    now = local(HK, 8, 9)
    project = with_tasks(graphic(lease_seconds=3600))
    trainer = trainer_on(project)
    sign_in(client, trainer)
    worked_task(project, trainer, claimed_at=now - timedelta(minutes=55, seconds=pause),
                submitted_at=now - timedelta(seconds=pause))
    response = claim(client, trainer, project)
    if lease is None:
        assert assert_problem(response, 409, code="exposure-limit-reached")["limit"] == "break"
        return
    assert response.status_code == 201, response.get_json()
    shown = revealed(client, trainer, response.get_json()["id"])
    assert when(shown["lease_expires_at"]) == now + timedelta(seconds=lease)


def test_the_cut_off_hour_ends_graphic_work_and_bounds_the_lease(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    london = ZoneInfo("Europe/London")
    travel.move_to(local(london, 8, 19, 30))
    project = with_tasks(graphic(lease_seconds=3600), count=3)
    other = with_tasks(sensitive())
    wellbeing_policy(project.organisation_id, graphic_cutoff_hour=20)
    wellbeing_policy(other.organisation_id, graphic_cutoff_hour=20)
    trainer = trainer_on(project, other, zone="Europe/London")
    sign_in(client, trainer)

    lease = working(client, trainer, project)
    # The lease would run past 20:00; it ends at the cut-off instead.
    assert when(lease["lease_expires_at"]) == local(london, 8, 20)
    client.post(f"{API}/me/assignments/{lease['id']}/release", as_user=trainer)

    travel.move_to(local(london, 8, 20))
    problem = assert_problem(claim(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "graphic_cutoff"
    assert when(problem["resets_at"]) == local(london, 9, 0)
    # The cut-off is for graphic work only.
    claimed(client, trainer, other)


def test_an_extension_never_passes_the_limit(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    project = with_tasks(graphic(lease_seconds=600))
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=60,
                     break_after_minutes=600)
    trainer = trainer_on(project)
    sign_in(client, trainer)
    worked(project, trainer, now - timedelta(hours=2), 45)  # 15 minutes left today

    lease = working(client, trainer, project)
    assert when(lease["lease_expires_at"]) == now + timedelta(minutes=10)
    travel.move_to(now + timedelta(minutes=8))
    extended = client.post(f"{API}/me/assignments/{lease['id']}/extend", as_user=trainer)
    assert extended.status_code == 200, extended.get_json()
    assert when(extended.get_json()["lease_expires_at"]) == now + timedelta(minutes=15)
    travel.move_to(now + timedelta(minutes=12))
    problem = assert_problem(
        client.post(f"{API}/me/assignments/{lease['id']}/extend", as_user=trainer), 409,
        code="exposure-limit-reached")
    assert problem["limit"] == "graphic_daily"


def test_a_claim_skips_tasks_the_trainer_may_not_take_now(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    project = ProjectFactory()  # ordinary, with single graphic and self-harm items
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=30)
    gory = TaskFactory(project=project, priority=10, sensitivity=Sensitivity.GRAPHIC,
                       content_categories=[VIOLENCE])
    harm = TaskFactory(project=project, priority=5, sensitivity=Sensitivity.SENSITIVE,
                       content_categories=[ContentCategory.SELF_HARM.value])
    calm = TaskFactory(project=project, priority=0)
    trainer = trainer_on(project)
    sign_in(client, trainer)
    worked(graphic(), trainer, now - timedelta(hours=3), 30)  # today's graphic used up

    first = claimed(client, trainer, project)
    assert first["task_id"] == str(calm.id)
    client.post(f"{API}/me/assignments/{first['id']}/submit", as_user=trainer,
                json={"answer": "ok", "active_seconds": 60})

    # Only the graphic and the self-harm items are left: the first is over the limit.
    before = assignments(session)
    problem = assert_problem(claim(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "graphic_daily"
    assert assignments(session) == before

    # The next day the graphic item is allowed; self-harm still needs consent.
    travel.move_to(local(HK, 9, 9))
    second = working(client, trainer, project)
    assert second["task_id"] == str(gory.id)
    assert second["content_warning"] == {"sensitivity": "graphic",
                                         "content_categories": [VIOLENCE]}
    client.post(f"{API}/me/assignments/{second['id']}/submit", as_user=trainer,
                json={"answer": "ok", "active_seconds": 60})
    problem = assert_problem(claim(client, trainer, project), 409, code="consent-required")
    assert problem["missing_categories"] == ["self_harm"]
    assert problem["age_attested"] is True
    consenting(trainer, "self_harm")
    assert claimed(client, trainer, project)["task_id"] == str(harm.id)


def test_assignment_views_carry_the_tasks_warning(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    project = ProjectFactory()
    TaskFactory(project=project, sensitivity=Sensitivity.GRAPHIC,
                content_categories=[VIOLENCE])
    trainer = trainer_on(project)
    lease = claimed(client, trainer, project)
    warning = {"sensitivity": "graphic", "content_categories": [VIOLENCE]}
    assert lease["content_warning"] == warning and lease["rotation"] is None
    one = client.get(f"{API}/me/assignments/{lease['id']}", as_user=trainer).get_json()
    assert one["content_warning"] == warning
    [listed] = client.get(f"{API}/me/assignments", as_user=trainer).get_json()["items"]
    assert listed["content_warning"] == warning


def test_a_plain_claim_skips_the_limits_only_while_no_sensitive_task_is_open(
    client: ApiClient, session: Session, monkeypatch: pytest.MonkeyPatch,
    travel: time_machine.Coordinates,
) -> None:
    """On a plain project the claim measures the trainer's exposure and consent only
    when a task there is sensitive on its own. A sensitive task the first look missed
    (imported between the claim's first query and its next) is still held back by the
    trainer's consent, and handed out once they consent."""
    project = ProjectFactory()
    TaskFactory(project=project, priority=0)
    gory = TaskFactory(project=project, priority=9, sensitivity=Sensitivity.GRAPHIC,
                       content_categories=[VIOLENCE])
    trainer = UserFactory(timezone="Asia/Hong_Kong")
    staff(project, trainer)
    measured: list[uuid.UUID] = []
    gate_for = limits.gate_for

    def counting_gate_for(session: Session, trainer: User, *args: Any, **kwargs: Any):
        measured.append(trainer.id)
        return gate_for(session, trainer, *args, **kwargs)

    monkeypatch.setattr(limits, "gate_for", counting_gate_for)
    # The graphic task is open: the claim measures, and skips it for want of consent.
    first = claimed(client, trainer, project)
    assert first["task_id"] != str(gory.id) and measured == [trainer.id]
    submitted = client.post(f"{API}/me/assignments/{first['id']}/submit", as_user=trainer,
                            json={"answer": "ok", "active_seconds": 5})
    assert submitted.status_code == 200
    # Pretend the claim's first look saw no sensitive task (the race: it was imported
    # just after): only the graphic task is left, so the claim looks again with the
    # trainer's consent and refuses.
    locked_for_claim = tasks._lock_for_claim
    monkeypatch.setattr(tasks, "_lock_for_claim", lambda *args: dataclasses.replace(
        locked_for_claim(*args), sensitive_open=False))
    measured.clear()
    before = assignments(session)
    problem = assert_problem(claim(client, trainer, project), 409, code="consent-required")
    assert problem["missing_categories"] == [VIOLENCE] and measured == [trainer.id]
    assert assignments(session) == before
    consenting(trainer, VIOLENCE)
    assert claimed(client, trainer, project)["task_id"] == str(gory.id)


def test_a_plain_claim_with_only_plain_work_does_not_measure_exposure(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch, travel: time_machine.Coordinates,
) -> None:
    project = ProjectFactory()
    TaskFactory(project=project)
    TaskFactory(project=project, sensitivity=Sensitivity.NONE)
    trainer = UserFactory()
    staff(project, trainer)

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a claim of plain work measured exposure")

    monkeypatch.setattr(limits, "gate_for", refuse)
    for _ in range(2):
        lease = claimed(client, trainer, project)
        assert lease["content_warning"]["sensitivity"] == "none"
        assert client.post(f"{API}/me/assignments/{lease['id']}/submit", as_user=trainer,
                           json={"answer": "ok", "active_seconds": 5}).status_code == 200
    # Nothing left, and nothing sensitive: an empty queue, still without measuring.
    assert_problem(claim(client, trainer, project), 409, code="no-task-available")


# --- sessions ------------------------------------------------------------------------


def hourly_graphic(**fields: Any) -> Project:
    return hourly_project(sensitivity=Sensitivity.GRAPHIC, content_categories=[VIOLENCE],
                          idle_timeout_seconds=7200, **fields)


def on_graphic_hours(client: ApiClient, travel: time_machine.Coordinates,
                     now: datetime) -> tuple[Project, User]:
    """At ``now``, an hourly graphic project without caps and a trainer on it."""
    travel.move_to(now)
    project = hourly_graphic(daily_cap_minutes=None, weekly_cap_minutes=None)
    trainer = trainer_on(project)
    sign_in(client, trainer)
    return project, trainer


def test_a_session_does_not_start_over_a_limit(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    project = hourly_graphic()
    plain = hourly_project()
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=60)
    trainer = trainer_on(project, plain)
    sign_in(client, trainer)
    worked(graphic(), trainer, now - timedelta(hours=3), 60)
    entries = session.scalar(select(func.count()).select_from(TimeEntry))

    problem = assert_problem(start(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "graphic_daily"
    assert when(problem["resets_at"]) == local(HK, 9, 0)
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == entries
    body = started(client, trainer, plain)
    assert body["exposure_limit"] is None


def test_a_session_running_into_the_limit_is_stopped_then_and_paid_to_that_moment(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 10)
    travel.move_to(now)
    project = hourly_graphic(daily_cap_minutes=None, weekly_cap_minutes=None)
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=90,
                     break_after_minutes=600)
    manager = StaffFactory(organisation=session.get(Organisation, project.organisation_id))
    trainer = trainer_on(project)
    sign_in(client, trainer, manager)
    worked(graphic(), trainer, local(HK, 8, 8), 30)  # 60 minutes left today

    body = started(client, trainer, project)
    assert body["exposure_limit"]["limit"] == "graphic_daily"
    assert when(body["exposure_limit"]["at"]) == now + timedelta(minutes=60)
    travel.move_to(now + timedelta(minutes=30))
    assert beat(client, trainer, body["id"]).get_json()["running"] is True

    travel.move_to(now + timedelta(minutes=80))
    closed = beat(client, trainer, body["id"]).get_json()
    assert closed["running"] is False and closed["end_reason"] == "exposure_limit"
    assert when(closed["ended_at"]) == now + timedelta(minutes=60)
    assert closed["seconds"] == 3600
    # Stopped: a heartbeat now is refused, and a new session too, until midnight.
    assert_problem(beat(client, trainer, body["id"]), 409, code="session-closed")
    assert_problem(start(client, trainer, project), 409, code="exposure-limit-reached")

    # Paid to that moment: one hour at 20.00 an hour.
    sheet_id = closed["timesheet_id"]
    travel.move_to(local(HK, 14, 9))
    assert client.post(f"{API}/me/timesheets/{sheet_id}/submit",
                       as_user=trainer).status_code == 200
    approved = client.post(f"{API}/timesheets/{sheet_id}/approve", as_user=manager, json={})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["approved_seconds"] == 3600
    earning = session.scalars(select(EarningEvent).where(
        EarningEvent.trainer_id == trainer.id)).one()
    assert (earning.amount, earning.currency) == (2000, "USD")


def test_a_stop_after_the_limit_ends_the_session_at_the_limit(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 10)
    project, trainer = on_graphic_hours(client, travel, now)
    # The default break rule: 60 minutes in a row; 20 were worked just before.
    worked(graphic(), trainer, now - timedelta(minutes=25), 20)

    body = started(client, trainer, project)
    assert body["exposure_limit"]["limit"] == "break"
    # The 5-minute gap is shorter than the break: the run is 25 minutes long at start.
    assert when(body["exposure_limit"]["at"]) == now + timedelta(minutes=35)
    travel.move_to(now + timedelta(minutes=50))
    stopped = stop(client, trainer, body["id"]).get_json()
    assert stopped["end_reason"] == "exposure_limit"
    assert when(stopped["ended_at"]) == now + timedelta(minutes=35)
    assert stopped["exposure_limit"]["limit"] == "break"


def test_the_scheduler_stops_a_silent_session_at_the_limit(
    client: ApiClient, session: Session, app, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 10)
    travel.move_to(now)
    project = hourly_graphic(daily_cap_minutes=None, weekly_cap_minutes=None)
    plain = hourly_project(idle_timeout_seconds=7200)
    wellbeing_policy(project.organisation_id, weekly_exposure_minutes=90,
                     break_after_minutes=600)
    trainer, other = trainer_on(project), trainer_on(plain)
    sign_in(client, trainer, other)
    worked(graphic(), trainer, local(HK, 7, 9), 60)  # Monday: 30 minutes left this week
    body = started(client, trainer, project)
    started(client, other, plain)

    travel.move_to(now + timedelta(minutes=20))
    batch = sessions.close_sessions_at_limits(session, now=now + timedelta(minutes=20),
                                              limit=50)
    assert (batch.examined, batch.closed) == (1, 0)  # the plain session is not looked at
    travel.move_to(now + timedelta(minutes=45))
    assert wellbeing_jobs.close_sessions_at_limits(app.extensions["workforce"].database) == 1
    session.expire_all()
    entry = session.get(TimeEntry, uuid.UUID(body["id"]))
    assert entry.end_reason is EntryEndReason.EXPOSURE_LIMIT
    assert entry.ended_at == now + timedelta(minutes=30)
    notice = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "session.exposure_limit")).one()
    assert "week" in notice.body and notice.data["limit"] == "weekly_exposure"
    # A second pass finds nothing more to do.
    assert wellbeing_jobs.close_sessions_at_limits(app.extensions["workforce"].database) == 0


def test_a_session_does_not_start_when_a_short_pause_left_the_break_due(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 10)
    project, trainer = on_graphic_hours(client, travel, now)
    worked(graphic(), trainer, now - timedelta(minutes=61), 55)
    entries = session.scalar(select(func.count()).select_from(TimeEntry))

    problem = assert_problem(start(client, trainer, project), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "break"
    assert when(problem["resets_at"]) == now + timedelta(minutes=4)
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == entries
    travel.move_to(now + timedelta(minutes=4))
    body = started(client, trainer, project)
    assert when(body["exposure_limit"]["at"]) == now + timedelta(minutes=64)


# --- rotation --------------------------------------------------------------------------


def test_rotation_offers_ordinary_work_first(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    manager = StaffFactory()
    dark = with_tasks(sensitive(manager=manager), priority=100)
    light = with_tasks(ProjectFactory(manager=manager, name="Accent labels"), priority=0)
    wellbeing_policy(dark.organisation_id, rotation_after_minutes=30)
    rested, tired = trainer_on(dark, light), trainer_on(dark, light)
    sign_in(client, rested, tired)
    worked(dark, tired, now - timedelta(minutes=41), 40)  # 40 minutes in a row

    # Normal order: the best task anywhere (the sensitive project's, by priority).
    normal = client.post(f"{API}/me/claims", as_user=rested)
    assert normal.status_code == 201 and normal.get_json()["project_id"] == str(dark.id)
    assert normal.get_json()["rotation"] is None
    # Rotation due: ordinary work first.
    rotated = client.post(f"{API}/me/claims", as_user=tired)
    assert rotated.status_code == 201 and rotated.get_json()["project_id"] == str(light.id)
    # Claiming again returns the running lease.
    again = client.post(f"{API}/me/claims", as_user=tired)
    assert again.status_code == 200 and again.get_json()["id"] == rotated.get_json()["id"]
    # A claim on the sensitive project itself still works, with the hint.
    hinted = claimed(client, tired, dark)
    assert hinted["rotation"]["projects"] == [{"id": str(light.id), "name": "Accent labels"}]
    assert hinted["rotation"]["rotation_after_minutes"] == 30
    assert hinted["rotation"]["continuous_seconds"] >= 40 * 60


def test_claims_across_projects_say_why_nothing_was_handed_out(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    project = with_tasks(graphic())
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=10)
    trainer = trainer_on(project)
    sign_in(client, trainer)
    worked(project, trainer, now - timedelta(hours=2), 10)
    before = assignments(session)
    problem = assert_problem(client.post(f"{API}/me/claims", as_user=trainer), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "graphic_daily" and assignments(session) == before
    nobody = UserFactory()
    assert_problem(client.post(f"{API}/me/claims", as_user=nobody), 409,
                   code="no-task-available")


# --- the trainer's own figures -----------------------------------------------------------


def test_a_trainer_reads_their_exposure_and_limits(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    now = local(HK, 8, 9)
    project = graphic()
    other = sensitive()
    wellbeing_policy(project.organisation_id, graphic_daily_minutes=100)
    trainer = trainer_on(project, other)
    sign_in(client, trainer)
    worked(project, trainer, local(HK, 7, 15), 30)  # yesterday (this week)
    worked(project, trainer, now - timedelta(minutes=50), 20)  # graphic, today
    worked(other, trainer, now - timedelta(minutes=25), 20)  # sensitive, 5-minute gap

    body = client.get(f"{API}/me/exposure", as_user=trainer).get_json()
    assert body["graphic_today_seconds"] == 20 * 60
    assert body["exposure_today_seconds"] == 40 * 60
    assert body["exposure_week_seconds"] == 70 * 60
    assert when(body["day"]["start"]) == local(HK, 8, 0)
    assert when(body["week"]["start"]) == local(HK, 7, 0)
    # The run: 45 minutes of work and gap, and the 5 minutes paused since, which are
    # part of it while shorter than the break (work started now would join it).
    assert body["continuous_seconds"] == 50 * 60 and body["break_due_until"] is None
    assert body["exposed_now"] is False
    by_id = {o["organisation_id"]: o for o in body["organisations"]}
    mine = by_id[str(project.organisation_id)]
    assert mine["limits"]["graphic_daily_minutes"] == 100
    levels = {level["level"]: level for level in mine["levels"]}
    assert levels["graphic"]["time_left_seconds"] == 10 * 60  # the break comes first
    assert levels["graphic"]["blocked"] is None
    theirs = by_id[str(other.organisation_id)]
    assert {lv["level"]: lv["time_left_seconds"] for lv in theirs["levels"]} == {
        "sensitive": 10 * 60, "graphic": 10 * 60}

    travel.move_to(now + timedelta(minutes=15))
    worked(other, trainer, now, 15)  # the run reaches 60 minutes: a break is due
    body = client.get(f"{API}/me/exposure", as_user=trainer).get_json()
    assert when(body["break_due_until"]) == now + timedelta(minutes=25)
    blocked = body["organisations"][0]["levels"][0]["blocked"]
    assert blocked["limit"] == "break"
