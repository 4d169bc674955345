"""Exposure to sensitive work, measured from claims and time, and the limits on it; the
organisation's wellbeing policy through the API."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    UserFactory,
    logged_time,
    worked_task,
)
from workforce.accounts.models import AuditEvent, Role, User
from workforce.projects.models import ContentCategory, Project, Sensitivity
from workforce.wellbeing import exposure, policies
from workforce.wellbeing.exposure import Interval
from workforce.wellbeing.models import WellbeingPolicy

POLICY = "/api/v1/organisation/wellbeing-policy"
# A Wednesday; 14:00 in UTC.
NOW = datetime(2031, 3, 12, 14, 0, tzinfo=UTC)


def graphic_project(**fields) -> Project:
    return ProjectFactory(sensitivity=Sensitivity.GRAPHIC,
                          content_categories=[ContentCategory.VIOLENCE.value], **fields)


def sensitive_project(**fields) -> Project:
    return ProjectFactory(sensitivity=Sensitivity.SENSITIVE,
                          content_categories=[ContentCategory.HATE.value], **fields)


def defaults(project: Project, session: Session, **fields) -> WellbeingPolicy:
    policy = policies.policy_for(session, project.organisation_id)
    for name, value in fields.items():
        setattr(policy, name, value)
    return policy


def task_done(project: Project, trainer: User, start: datetime, minutes: int) -> object:
    return worked_task(project, trainer, claimed_at=start,
                       submitted_at=start + timedelta(minutes=minutes))


# --- measuring -----------------------------------------------------------------------------


def test_tasks_count_from_claim_to_submission_and_only_when_sensitive(session: Session) -> None:
    trainer = UserFactory()
    task_done(graphic_project(), trainer, NOW - timedelta(hours=3), 20)
    task_done(sensitive_project(), trainer, NOW - timedelta(hours=2), 15)
    task_done(ProjectFactory(), trainer, NOW - timedelta(hours=1), 30)  # not sensitive

    found = exposure.intervals(session, trainer.id, NOW - timedelta(days=1), NOW, now=NOW)
    assert [(i.level, i.end - i.start) for i in found] == [
        (Sensitivity.GRAPHIC, timedelta(minutes=20)),
        (Sensitivity.SENSITIVE, timedelta(minutes=15)),
    ]


def test_an_abandoned_lease_counts_until_it_ran_out_and_a_held_one_until_now(
    session: Session
) -> None:
    trainer = UserFactory()
    project = graphic_project()
    worked_task(project, trainer, submitted_at=None, claimed_at=NOW - timedelta(hours=5))
    worked_task(project, trainer, submitted_at=None, claimed_at=NOW - timedelta(minutes=25))

    found = exposure.intervals(session, trainer.id, NOW - timedelta(days=1), NOW, now=NOW)
    assert [i.end - i.start for i in found] == [timedelta(hours=1), timedelta(minutes=25)]


def test_a_task_can_be_more_sensitive_than_its_project(session: Session) -> None:
    trainer = UserFactory()
    project = ProjectFactory()
    assignment = worked_task(project, trainer, claimed_at=NOW - timedelta(hours=1),
                             submitted_at=NOW - timedelta(minutes=30))
    task = assignment.task
    task.sensitivity = Sensitivity.GRAPHIC
    task.content_categories = [ContentCategory.SELF_HARM.value]
    session.commit()

    found = exposure.intervals(session, trainer.id, NOW - timedelta(days=1), NOW, now=NOW)
    assert [(i.level, i.project_id) for i in found] == [(Sensitivity.GRAPHIC, project.id)]
    assert exposure.effective_categories(task, project) == ["self_harm"]


def test_sessions_on_sensitive_projects_count_and_overlaps_count_once(
    session: Session
) -> None:
    trainer = UserFactory()
    hourly = sensitive_project(pay_model="hourly")
    logged_time(hourly, trainer, started_at=NOW - timedelta(hours=2),
                ended_at=NOW - timedelta(hours=1))
    logged_time(hourly, trainer, started_at=NOW - timedelta(minutes=10), ended_at=None)
    # A graphic task held during the first session: wall time counts once.
    task_done(graphic_project(), trainer, NOW - timedelta(minutes=90), 20)

    found = exposure.intervals(session, trainer.id, NOW - timedelta(days=1), NOW, now=NOW)
    assert exposure.union_seconds(found) == (60 + 10) * 60
    assert exposure.union_seconds(found, minimum=Sensitivity.GRAPHIC) == 20 * 60


@pytest.mark.parametrize(("zone", "today_minutes"), [
    # 23:30-00:30 local: half of it falls on each local day.
    ("Asia/Hong_Kong", 30),
    ("America/New_York", 30),
])
def test_days_are_the_trainers_own(session: Session, zone: str, today_minutes: int) -> None:
    trainer = UserFactory(timezone=zone)
    project = graphic_project()
    local_midnight = datetime(2031, 3, 13, tzinfo=ZoneInfo(zone))
    start = local_midnight - timedelta(minutes=30)
    task_done(project, trainer, start.astimezone(UTC), 60)
    policy = defaults(project, session)

    after = exposure.exposure_of(session, trainer, policy,
                                 now=(local_midnight + timedelta(hours=2)).astimezone(UTC))
    assert after.graphic_today == today_minutes * 60
    assert after.day[0] == local_midnight.astimezone(UTC)


# --- limits --------------------------------------------------------------------------------


def test_the_daily_graphic_limit_blocks_graphic_work_until_local_midnight(
    session: Session
) -> None:
    trainer = UserFactory(timezone="Asia/Hong_Kong")  # NOW is 22:00 there
    project = graphic_project()
    policy = defaults(project, session, graphic_daily_minutes=60)
    task_done(project, trainer, NOW - timedelta(hours=3), 40)
    task_done(project, trainer, NOW - timedelta(hours=2), 20)

    with pytest.raises(exposure.ExposureLimitReached) as refused:
        exposure.check_may_start(session, trainer, policy, Sensitivity.GRAPHIC, now=NOW)
    assert refused.value.hit.limit == "graphic_daily"
    assert refused.value.hit.resets_at == datetime(2031, 3, 12, 16, 0, tzinfo=UTC)
    # Sensitive (not graphic) and ordinary work are still open.
    exposure.check_may_start(session, trainer, policy, Sensitivity.SENSITIVE, now=NOW)
    exposure.check_may_start(session, trainer, policy, Sensitivity.NONE, now=NOW)


def test_the_weekly_limit_counts_sensitive_and_graphic_work(session: Session) -> None:
    trainer = UserFactory(timezone="UTC")
    project = sensitive_project()
    policy = defaults(project, session, weekly_exposure_minutes=120)
    task_done(project, trainer, NOW - timedelta(days=2), 60)  # Monday
    task_done(graphic_project(), trainer, NOW - timedelta(days=1), 60)
    task_done(project, trainer, NOW - timedelta(days=3), 300)  # Sunday: last week

    hit = exposure.blocking_limit(policy, exposure.exposure_of(session, trainer, policy,
                                                                now=NOW),
                                  trainer, Sensitivity.SENSITIVE)
    assert hit is not None and hit.limit == "weekly_exposure"
    assert hit.resets_at == datetime(2031, 3, 17, tzinfo=UTC)  # next Monday


def test_a_break_is_due_after_an_hour_in_a_row(session: Session) -> None:
    trainer = UserFactory()
    project = sensitive_project()
    policy = defaults(project, session)  # 60 minutes, then a 10-minute break
    # 35 + 30 minutes with a 5-minute gap: one continuous run of 70 minutes.
    task_done(project, trainer, NOW - timedelta(minutes=73), 35)
    task_done(project, trainer, NOW - timedelta(minutes=33), 30)

    state = exposure.exposure_of(session, trainer, policy, now=NOW)
    hit = exposure.blocking_limit(policy, state, trainer, Sensitivity.SENSITIVE)
    assert hit is not None and hit.limit == "break"
    assert hit.resets_at == NOW - timedelta(minutes=3) + timedelta(minutes=10)
    later = exposure.exposure_of(session, trainer, policy, now=NOW + timedelta(minutes=7))
    assert exposure.blocking_limit(policy, later, trainer, Sensitivity.SENSITIVE) is None


def test_the_cut_off_hour_stops_graphic_work_for_the_rest_of_the_local_day(
    session: Session
) -> None:
    trainer = UserFactory(timezone="Europe/London")  # NOW is 14:00 there
    project = graphic_project()
    policy = defaults(project, session, graphic_cutoff_hour=15)
    state = exposure.exposure_of(session, trainer, policy, now=NOW)
    assert exposure.blocking_limit(policy, state, trainer, Sensitivity.GRAPHIC) is None
    assert exposure.time_left(policy, state, trainer, Sensitivity.GRAPHIC) == timedelta(hours=1)

    later = exposure.exposure_of(session, trainer, policy, now=NOW + timedelta(hours=2))
    hit = exposure.blocking_limit(policy, later, trainer, Sensitivity.GRAPHIC)
    assert hit is not None and hit.limit == "graphic_cutoff"
    assert hit.resets_at == datetime(2031, 3, 13, tzinfo=UTC)


def test_time_left_is_the_nearest_limit(session: Session) -> None:
    trainer = UserFactory()
    project = graphic_project()
    policy = defaults(project, session, graphic_daily_minutes=100)
    task_done(project, trainer, NOW - timedelta(hours=4), 50)
    task_done(project, trainer, NOW - timedelta(hours=2), 30)  # 80 of 100 minutes today

    state = exposure.exposure_of(session, trainer, policy, now=NOW)
    assert exposure.time_left(policy, state, trainer, Sensitivity.GRAPHIC) == timedelta(
        minutes=20)
    assert exposure.time_left(policy, state, trainer, Sensitivity.SENSITIVE) == timedelta(
        minutes=60)
    assert exposure.time_left(policy, state, trainer, Sensitivity.NONE) is None


# --- merging, as a property ------------------------------------------------------------------

_MINUTES = st.integers(min_value=0, max_value=600)


@given(st.lists(st.tuples(_MINUTES, st.integers(min_value=1, max_value=120),
                          st.sampled_from([Sensitivity.SENSITIVE, Sensitivity.GRAPHIC])),
                max_size=12),
       st.integers(min_value=0, max_value=30))
def test_merging_covers_each_minute_once(spans, gap) -> None:
    base = NOW
    found = [Interval(base + timedelta(minutes=s), base + timedelta(minutes=s + length),
                      level, project_id=None) for s, length, level in spans]
    covered = set()
    for interval in found:
        minute = interval.start
        while minute < interval.end:
            covered.add(minute)
            minute += timedelta(minutes=1)
    assert exposure.union_seconds(found) == len(covered) * 60
    runs = exposure.merged(found, gap=timedelta(minutes=gap))
    assert all(b[0] - a[1] >= timedelta(minutes=gap) for a, b in itertools.pairwise(runs))
    assert all(b[0] > a[1] for a, b in itertools.pairwise(runs))


# --- the policy through the API ----------------------------------------------------------------


def test_staff_read_the_defaults_and_trainers_cannot(client: ApiClient) -> None:
    manager = StaffFactory()
    body = client.get(POLICY, as_user=manager).get_json()
    assert (body["graphic_daily_minutes"], body["weekly_exposure_minutes"],
            body["break_after_minutes"], body["break_minutes"],
            body["graphic_cutoff_hour"]) == (240, 1200, 60, 10, None)
    assert body["support_text"] and body["min_group_size"] == 5
    assert_problem(client.get(POLICY, as_user=UserFactory()), 403)


def test_an_admin_changes_the_policy_and_it_is_audited(
    client: ApiClient, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    contact = StaffFactory(organisation=admin.organisation)
    response = client.patch(POLICY, as_user=admin, json={
        "graphic_daily_minutes": 120, "graphic_cutoff_hour": 20,
        "support_line": "+852 2389 2222 (24/7)", "wellbeing_contact_id": str(contact.id),
        "support_links": [{"label": "Counselling", "url": "https://help.example.org"}],
        "counselling_after_minutes": 600, "counselling_amount": 5000,
        "counselling_currency": "usd",
    })
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["graphic_daily_minutes"], body["weekly_exposure_minutes"]) == (120, 1200)
    assert body["counselling_currency"] == "USD"
    stored = session.get(WellbeingPolicy, admin.organisation_id)
    assert stored.graphic_cutoff_hour == 20 and stored.wellbeing_contact_id == contact.id
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "organisation.wellbeing_policy_changed")).one()
    assert event.before["graphic_daily_minutes"] == 240
    assert event.after["graphic_daily_minutes"] == 120


@pytest.mark.parametrize(("body", "field"), [
    ({"graphic_daily_minutes": 60.0}, "graphic_daily_minutes"),
    ({"graphic_daily_minutes": 1441}, "graphic_daily_minutes"),
    ({"graphic_cutoff_hour": 24}, "graphic_cutoff_hour"),
    ({"break_after_minutes": 0}, "break_after_minutes"),
    ({"support_links": [{"label": "x", "url": "http://plain.example.org"}]}, "support_links"),
    ({"counselling_amount": 5000}, "counselling_currency"),
    ({"counselling_after_minutes": 60, "counselling_amount": 10,
      "counselling_currency": "XYZ"}, "counselling_currency"),
    ({"min_group_size": 1}, "min_group_size"),
    ({"organisation_id": "00000000-0000-0000-0000-000000000000"}, "organisation_id"),
    ({}, "_schema"),
])
def test_bad_policies_are_refused_and_change_nothing(
    client: ApiClient, session: Session, body: dict, field: str
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    problem = assert_problem(client.patch(POLICY, as_user=admin, json=body), 422)
    assert any(name.split(".")[0] == field for name in problem["errors"]), problem
    assert session.get(WellbeingPolicy, admin.organisation_id) is None


def test_the_wellbeing_contact_must_be_staff_of_the_organisation(client: ApiClient) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    for outsider in (StaffFactory(), UserFactory()):
        problem = assert_problem(client.patch(POLICY, as_user=admin, json={
            "wellbeing_contact_id": str(outsider.id)}), 422)
        assert "wellbeing_contact_id" in problem["errors"]
    for role in (Role.VENDOR_MANAGER, Role.FINANCE):
        staff = StaffFactory(role=role, organisation=admin.organisation)
        assert_problem(client.patch(POLICY, as_user=staff, json={"break_minutes": 5}), 403)

