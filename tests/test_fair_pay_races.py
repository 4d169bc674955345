"""Two schedulers at once, for real, on PostgreSQL (the live database): a week's top-up
and a month's counselling allowance are each posted exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import ProjectFactory, StaffFactory, UserFactory, staff, worked_task
from workforce.accounts.models import Role, WageFloor
from workforce.billing import jobs as billing_jobs
from workforce.billing.models import (
    CounsellingAllowance,
    EarningEvent,
    EarningKind,
    JournalEntry,
    PayWeek,
    TopUp,
)
from workforce.billing.services import record_earning
from workforce.db import Database
from workforce.money import Money
from workforce.projects.access import rate_at
from workforce.projects.models import AssignmentState, ContentCategory, Sensitivity
from workforce.projects.reviews import SOURCE_TYPE
from workforce.wellbeing.models import WellbeingPolicy

# Monday 2031-03-03, 10:00 UTC; the trainers live in UTC.
MONDAY = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)


def together(calls: list[Callable[[], int]]) -> list[int]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], int]) -> int:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_schedulers_post_one_top_up_per_week(
    live_database: Database, live_session: Session
) -> None:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    live_session.add(WageFloor(organisation_id=manager.organisation_id, currency="USD",
                               hourly_amount=1500))
    trainers = [UserFactory(timezone="UTC", country="GB") for _ in range(4)]
    with time_machine.travel(MONDAY - timedelta(days=1), tick=False):
        project = ProjectFactory(manager=manager, rate=200)
    staff(project, *trainers)
    rate = rate_at(live_session, project.id, MONDAY)
    for trainer in trainers:  # 2.00 for 30 minutes each: 4.00 an hour
        for day in range(3):
            start = MONDAY + timedelta(days=day)
            done = worked_task(project, trainer, claimed_at=start,
                               submitted_at=start + timedelta(minutes=30),
                               state=AssignmentState.APPROVED, rate=rate)
            done.active_seconds = 1800
            with time_machine.travel(start + timedelta(minutes=30), tick=False):
                record_earning(
                    live_session, kind=EarningKind.TASK_APPROVAL, trainer_id=trainer.id,
                    organisation_id=project.organisation_id, money=Money(200, "USD"),
                    source_type=SOURCE_TYPE, source_id=done.id, project_id=project.id,
                    description="Task approved",
                )
            live_session.commit()

    with time_machine.travel(MONDAY + timedelta(days=16), tick=False):
        posted = together([lambda: billing_jobs.settle_fair_pay(live_database)] * 4)
        assert billing_jobs.settle_fair_pay(live_database) == 0

    assert sum(posted) == len(trainers)
    ids = [t.id for t in trainers]
    live_session.expire_all()
    weeks = live_session.scalar(select(func.count()).select_from(PayWeek).where(
        PayWeek.trainer_id.in_(ids)))
    assert weeks == len(trainers)
    amounts = live_session.scalars(select(TopUp.amount).where(TopUp.trainer_id.in_(ids))).all()
    assert amounts == [1650] * len(trainers)  # 1.5 h at 15.00 less 6.00 paid
    events = live_session.scalars(select(EarningEvent.id).where(
        EarningEvent.trainer_id.in_(ids), EarningEvent.kind == EarningKind.TOP_UP)).all()
    assert len(events) == len(trainers)
    entries = live_session.scalar(select(func.count()).select_from(JournalEntry).where(
        JournalEntry.trainer_id.in_(ids), JournalEntry.source_type == "top_up"))
    assert entries == len(trainers)


def test_two_schedulers_post_one_allowance_per_month(
    live_database: Database, live_session: Session
) -> None:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    live_session.add(WellbeingPolicy(
        organisation_id=manager.organisation_id, counselling_after_minutes=60,
        counselling_amount=3000, counselling_currency="EUR",
    ))
    live_session.commit()
    project = ProjectFactory(manager=manager, sensitivity=Sensitivity.GRAPHIC,
                             content_categories=[ContentCategory.VIOLENCE.value])
    trainers = [UserFactory(timezone="UTC") for _ in range(3)]
    for trainer in trainers:
        for hours in (0, 1):
            start = MONDAY + timedelta(hours=hours)
            worked_task(project, trainer, claimed_at=start,
                        submitted_at=start + timedelta(minutes=40))

    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        posted = together([lambda: billing_jobs.grant_counselling_allowances(live_database)] * 4)

    assert sum(posted) == len(trainers)
    ids = [t.id for t in trainers]
    live_session.expire_all()
    assert live_session.scalar(select(func.count()).select_from(CounsellingAllowance).where(
        CounsellingAllowance.trainer_id.in_(ids))) == len(trainers)
    assert live_session.scalar(select(func.count()).select_from(EarningEvent).where(
        EarningEvent.trainer_id.in_(ids),
        EarningEvent.kind == EarningKind.COUNSELLING_ALLOWANCE)) == len(trainers)
