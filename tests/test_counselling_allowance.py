"""The counselling allowance: posted once per trainer, organisation and calendar month
(the trainer's) after their exposure on that organisation's work passes its mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.factories import ProjectFactory, StaffFactory, UserFactory, worked_task
from tests.hourly_helpers import sign_in
from workforce.accounts.models import Role, User
from workforce.billing import jobs as billing_jobs
from workforce.billing.models import CounsellingAllowance, EarningEvent, EarningKind
from workforce.db import Database
from workforce.notifications.models import Notification
from workforce.projects.models import ContentCategory, Project, Sensitivity

API = "/api/v1"
# A Wednesday in March 2031.
NOW = datetime(2031, 3, 12, 14, 0, tzinfo=UTC)


def sensitive_project(manager: User, **fields) -> Project:
    return ProjectFactory(manager=manager, sensitivity=Sensitivity.SENSITIVE,
                          content_categories=[ContentCategory.HATE.value], **fields)


def exposed(project: Project, trainer: User, start: datetime, minutes: int) -> None:
    """A sensitive task held from ``start`` for ``minutes`` (under the hour's lease)."""
    worked_task(project, trainer, claimed_at=start, submitted_at=start + timedelta(minutes=minutes))


def run(database: Database, at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return billing_jobs.grant_counselling_allowances(database)


def allowances(session: Session, trainer: User) -> list[EarningEvent]:
    session.expire_all()
    return list(session.scalars(
        select(EarningEvent).where(EarningEvent.trainer_id == trainer.id,
                                   EarningEvent.kind == EarningKind.COUNSELLING_ALLOWANCE)
        .order_by(EarningEvent.occurred_at)
    ))


@pytest.fixture
def manager(client: ApiClient) -> User:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    admin = StaffFactory(role=Role.ADMIN, organisation=manager.organisation)
    response = client.patch(f"{API}/organisation/wellbeing-policy", as_user=admin, json={
        "counselling_after_minutes": 120, "counselling_amount": 5000,
        "counselling_currency": "USD",
    })
    assert response.status_code == 200, response.get_data(as_text=True)
    return manager


def test_the_allowance_is_posted_once_the_month_passes_the_mark(
    client: ApiClient, session: Session, database: Database, manager: User, mail
) -> None:
    trainer = UserFactory(timezone="Asia/Hong_Kong")
    sign_in(client, trainer)
    project = sensitive_project(manager)
    exposed(project, trainer, NOW - timedelta(days=5), 50)
    exposed(project, trainer, NOW - timedelta(days=4), 50)
    assert run(database, NOW) == 0  # 100 minutes: under the mark of 120
    assert allowances(session, trainer) == []

    exposed(project, trainer, NOW - timedelta(hours=3), 25)
    assert run(database, NOW) == 1
    assert run(database, NOW) == 0            # a second scheduler, or the next hour
    exposed(project, trainer, NOW - timedelta(hours=2), 50)
    assert run(database, NOW + timedelta(days=3)) == 0  # once a month, however much more

    [event] = allowances(session, trainer)
    assert (event.amount, event.currency, event.organisation_id) == (
        5000, "USD", manager.organisation_id)
    assert "March 2031" in event.description and "2 hours" in event.description
    [told] = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id,
        Notification.kind == "wellbeing.counselling_allowance")).all()
    assert "$50.00" in told.title
    assert any(m.to == trainer.email for m in mail.sent)
    mine = client.get(f"{API}/me/counselling-allowances", as_user=trainer).get_json()["items"]
    assert [(a["month"], a["amount"], a["threshold_minutes"]) for a in mine] == [
        ("2031-03-01", 5000, 120)]
    assert mine[0]["exposure_seconds"] == 125 * 60


def test_each_month_is_the_trainers_own_and_counts_again(
    session: Session, database: Database, manager: User
) -> None:
    trainer = UserFactory(timezone="Asia/Hong_Kong")
    project = sensitive_project(manager)
    # 31 March 17:00 UTC is already 1 April in Hong Kong.
    april_in_hk = datetime(2031, 3, 31, 17, 0, tzinfo=UTC)
    for hours in (0, 1, 2):
        exposed(project, trainer, april_in_hk + timedelta(hours=hours), 45)
    assert run(database, datetime(2031, 3, 31, 20, 0, tzinfo=UTC)) == 1
    [allowance] = session.scalars(select(CounsellingAllowance).where(
        CounsellingAllowance.trainer_id == trainer.id)).all()
    assert allowance.month.isoformat() == "2031-04-01"

    for hours in (0, 1, 2):
        exposed(project, trainer, datetime(2031, 5, 6, 9, tzinfo=UTC) + timedelta(hours=hours), 45)
    assert run(database, datetime(2031, 5, 7, tzinfo=UTC)) == 1
    assert [e.amount for e in allowances(session, trainer)] == [5000, 5000]


def test_the_last_hours_of_a_month_count_after_it_ended(
    session: Session, database: Database, manager: User
) -> None:
    trainer = UserFactory(timezone="UTC")
    project = sensitive_project(manager)
    for hours in (0, 1, 2):
        exposed(project, trainer, datetime(2031, 3, 31, 21, tzinfo=UTC) + timedelta(hours=hours),
                45)
    # The scheduler was down over midnight; two days into April, March still pays.
    assert run(database, datetime(2031, 4, 2, 9, tzinfo=UTC)) == 1
    allowance = session.scalars(select(CounsellingAllowance).where(
        CounsellingAllowance.trainer_id == trainer.id)).one()
    assert allowance.month.isoformat() == "2031-03-01"
    # 21:00-21:45, 22:00-22:45 and 23:00-23:45 in March: 135 minutes.
    assert allowance.exposure_seconds == 135 * 60


def test_only_the_organisations_own_work_and_only_sensitive_work_counts(
    session: Session, database: Database, manager: User
) -> None:
    trainer = UserFactory(timezone="UTC")
    ours = sensitive_project(manager)
    theirs = sensitive_project(StaffFactory(role=Role.VENDOR_MANAGER))  # no allowance there
    plain = ProjectFactory(manager=manager)                            # not sensitive
    for day in range(1, 4):
        exposed(theirs, trainer, NOW - timedelta(days=day), 55)
        exposed(plain, trainer, NOW - timedelta(days=day, hours=2), 55)
    exposed(ours, trainer, NOW - timedelta(hours=5), 55)
    assert run(database, NOW) == 0
    assert allowances(session, trainer) == []


def test_no_allowance_without_a_policy(session: Session, database: Database) -> None:
    trainer = UserFactory(timezone="UTC")
    project = sensitive_project(StaffFactory(role=Role.VENDOR_MANAGER))
    for day in range(1, 5):
        exposed(project, trainer, NOW - timedelta(days=day), 55)
    assert run(database, NOW) == 0
    assert allowances(session, trainer) == []
