"""What a per-task assignment pays: the higher of the rates in force at its claim and at
its first submission, shown on the lease as a minimum and fixed at the submission; every
path that pays (review, revision, appeal, auto-approval) and every preview agrees."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    hourly_project,
    staff,
)
from tests.task_helpers import API, answered, claimed, review, staffed_project, submitted
from workforce import clock
from workforce.accounts.models import User
from workforce.billing.models import EarningEvent
from workforce.projects import reviews, tasks
from workforce.projects.models import AssignmentState, Project, ProjectRate

ME = f"{API}/me/assignments"


@pytest.fixture
def project(manager: User, trainer: User) -> Project:
    # 200 USD cents a task; every submission waits for review.
    return staffed_project(trainer, manager=manager, lease_seconds=3600)


@pytest.fixture
def start(client: ApiClient, manager: User, trainer: User) -> datetime:
    sign_in_for_days(client, manager, trainer)
    return clock.whole_seconds(clock.now()) + timedelta(seconds=1)


def paid(session: Session, trainer: User) -> list[int]:
    session.expire_all()
    return [e.amount for e in session.scalars(
        select(EarningEvent).where(EarningEvent.trainer_id == trainer.id)
        .order_by(EarningEvent.occurred_at))]


def set_rate(client: ApiClient, manager: User, project: Project, amount: int) -> None:
    """A new rate from now, through the API."""
    answered(client.post(f"{API}/projects/{project.id}/rates", as_user=manager,
                         json={"amount": amount, "reason": "Budget review."}), 201)


def at(start: datetime, minutes: int) -> Any:
    return time_machine.travel(start + timedelta(minutes=minutes), tick=False)


def claimed_before_a_change(client: ApiClient, manager: User, trainer: User,
                            project: Project, start: datetime, amount: int) -> dict:
    """A lease claimed at ``start``; five minutes later the rate becomes ``amount``."""
    TaskFactory(project=project)
    with at(start, 0):
        lease = claimed(client, trainer, project)
    with at(start, 5):
        set_rate(client, manager, project, amount)
    return lease


def shown_pay(client: ApiClient, trainer: User, assignment_id: str) -> tuple[int, bool]:
    body = answered(client.get(f"{ME}/{assignment_id}", as_user=trainer))
    return body["pay"]["amount"], body["pay_fixed"]


def pending(client: ApiClient, trainer: User) -> int:
    body = answered(client.get(f"{API}/me/earnings/summary", as_user=trainer))
    return {row["currency"]: row["pending_review"] for row in body["currencies"]}["USD"]


def test_a_rate_cut_during_the_lease_never_cuts_its_pay(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    start: datetime,
) -> None:
    lease = claimed_before_a_change(client, manager, trainer, project, start, 150)
    assert (lease["pay"], lease["pay_fixed"]) == ({"amount": 200, "currency": "USD"}, False)
    with at(start, 6):
        # Still shown at the claim's rate while the lease runs.
        assert shown_pay(client, trainer, lease["id"]) == (200, False)
    with at(start, 10):
        done = submitted(client, trainer, lease["id"])
        assert (done["pay"]["amount"], done["pay_fixed"]) == (200, True)
        assert pending(client, trainer) == 200
        assert answered(review(client, manager, lease["id"], "approve"))["state"] == "approved"
    assert paid(session, trainer) == [200]
    assert shown_pay(client, trainer, lease["id"]) == (200, True)


def test_a_raise_during_the_lease_is_paid(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    start: datetime,
) -> None:
    lease = claimed_before_a_change(client, manager, trainer, project, start, 350)
    with at(start, 6):
        assert shown_pay(client, trainer, lease["id"]) == (200, False)  # the minimum
    with at(start, 10):
        assert submitted(client, trainer, lease["id"])["pay"]["amount"] == 350
        assert review(client, manager, lease["id"], "approve").status_code == 200
    assert paid(session, trainer) == [350]


def test_a_revision_keeps_the_pay_fixed_at_the_first_submission(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    start: datetime,
) -> None:
    lease = claimed_before_a_change(client, manager, trainer, project, start, 150)
    with at(start, 10):
        assert submitted(client, trainer, lease["id"])["pay"]["amount"] == 200
        assert review(client, manager, lease["id"], "request_revision",
                      message="Name the district.").status_code == 200
        assert shown_pay(client, trainer, lease["id"]) == (200, True)
    with at(start, 15):
        set_rate(client, manager, project, 500)  # after the first submission: not paid
    with at(start, 20):
        assert submitted(client, trainer, lease["id"], answer="Sham Shui Po"
                         )["pay"]["amount"] == 200
        assert review(client, manager, lease["id"], "approve").status_code == 200
    assert paid(session, trainer) == [200]


def test_an_overturned_rejection_pays_the_rate_fixed_at_submission(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    start: datetime,
) -> None:
    lease = claimed_before_a_change(client, manager, trainer, project, start, 120)
    with at(start, 10):
        submitted(client, trainer, lease["id"])
        assert review(client, manager, lease["id"], "reject", rejection_category="incorrect",
                      message="Wrong accent.").status_code == 200
        appeal = answered(client.post(f"{ME}/{lease['id']}/appeal", as_user=trainer,
                                      json={"message": "It is Hong Kong."}), 201)
        decided = answered(client.post(f"{API}/appeals/{appeal['id']}/decision",
                                       as_user=manager,
                                       json={"decision": "overturn", "note": "Agreed."}))
        assert decided["assignment_state"] == "approved"
    assert paid(session, trainer) == [200]


def test_auto_approval_pays_the_rate_fixed_at_submission(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    start: datetime,
) -> None:
    lease = claimed_before_a_change(client, manager, trainer, project, start, 120)
    with at(start, 10):
        submitted(client, trainer, lease["id"])
    due = start + timedelta(days=8)
    with time_machine.travel(due, tick=False):
        assert reviews.auto_approve_submissions(session, now=due, limit=50) == 1
        session.commit()
    assert paid(session, trainer) == [200]


def test_a_lease_claimed_again_shows_the_rate_at_its_own_claim(
    client: ApiClient, manager: User, trainer: User, project: Project, start: datetime,
) -> None:
    lease = claimed_before_a_change(client, manager, trainer, project, start, 150)
    with at(start, 6):
        again = answered(client.post(f"{API}/projects/{project.id}/claims", as_user=trainer))
    assert again["id"] == lease["id"] and again["pay"]["amount"] == 200


def test_hourly_leases_show_no_pay_per_task(
    client: ApiClient, manager: User, trainer: User
) -> None:
    project = hourly_project(manager=manager)
    staff(project, trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    assert lease["pay"] is None and lease["pay_fixed"] is False


# --- as a property -------------------------------------------------------------------

MINUTES = 240

_RATES = st.lists(
    st.tuples(st.integers(0, MINUTES), st.integers(1, 10_000),
              st.sampled_from(["USD", "USD", "USD", "EUR"])),
    max_size=6,
)


def _in_force(rates: list[tuple[int, int, int, str]], minute: int) -> tuple[int, str]:
    """The model: the latest rate effective by ``minute`` (the higher number on a tie)."""
    _, _, amount, currency = max(r for r in rates if r[0] <= minute)
    return amount, currency


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=_RATES, claim_at=st.integers(0, MINUTES), held=st.integers(0, MINUTES))
def test_the_pay_is_the_higher_of_the_rates_at_claim_and_at_submission(
    session: Session, changes: list[tuple[int, int, str]], claim_at: int, held: int
) -> None:
    # A fresh project per example: the database is shared by every example.
    manager, trainer = StaffFactory(), UserFactory()
    project = ProjectFactory(manager=manager, rate=100, review_sample_percent=0,
                             lease_seconds=(MINUTES + 1) * 60)
    staff(project, trainer)
    TaskFactory(project=project)
    start = clock.whole_seconds(clock.now()) + timedelta(hours=1)
    # (minute, number, amount, currency); the factory's rate is in force from the start.
    rates = [(-1, 1, 100, "USD")]
    for number, (minute, amount, currency) in enumerate(changes, start=2):
        rates.append((minute, number, amount, currency))
        session.add(ProjectRate(
            project_id=project.id, number=number, amount=amount, currency=currency,
            effective_from=start + timedelta(minutes=minute), reason="change",
            created_by_id=manager.id, created_at=start,
        ))
    session.flush()
    submit_at = claim_at + held
    with time_machine.travel(start + timedelta(minutes=claim_at), tick=False):
        lease, _ = tasks.claim_next(session, trainer, project.id)
    at_claim, at_submit = _in_force(rates, claim_at), _in_force(rates, submit_at)
    assert (lease.pay.amount, lease.pay.currency, lease.pay_fixed) == (*at_claim, False)

    with time_machine.travel(start + timedelta(minutes=submit_at), tick=False):
        done = tasks.submit(session, trainer, lease.assignment.id, answer="yue-HK",
                            active_seconds=0)

    expected = at_submit if at_claim[1] != at_submit[1] else max(at_claim, at_submit)
    assert (done.pay.amount, done.pay.currency, done.pay_fixed) == (*expected, True)
    [earning] = session.scalars(select(EarningEvent).where(
        EarningEvent.source_id == lease.assignment.id,
        EarningEvent.trainer_id == trainer.id))
    assert (earning.amount, earning.currency) == expected
    assert done.assignment.state is AssignmentState.APPROVED
