"""Payout schedules and runs: the period, building a run (who is paid, who is left out
and why), preview, approval (payable to in transit, re-checked), cancellation, manual
payments, reports and the bank file."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory, payout_account
from tests.payout_helpers import (
    API,
    EARNED_AT,
    NOW,
    PERIOD_END,
    SET_UP_AT,
    approved_run_by_api,
    assert_ledger_sound,
    balances,
    earn,
    entries,
    finance_user,
    schedule,
    sign_in_for_days,
    trainer_owed,
)
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.billing import corrections, payouts
from workforce.billing.corrections import MAX_AMOUNT
from workforce.billing.models import (
    ItemState,
    PayoutExclusion,
    PayoutItem,
    PayoutRun,
    PayoutSchedule,
    RunState,
    SourceType,
)
from workforce.notifications.models import Notification


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def audits(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def owed_since_the_period_end(organisation_id: uuid.UUID, amount: int) -> User:
    """A trainer with a ready account who earned ``amount`` an hour after the period."""
    trainer = UserFactory()
    payout_account(trainer, method="stripe")
    earn(trainer, organisation_id, amount, at=PERIOD_END + timedelta(hours=1))
    return trainer


# --- schedules ---------------------------------------------------------------------------


def test_finance_sets_up_and_changes_a_schedule(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    body = {"name": "Weekly HK", "weekday": 0, "hour": 2, "minute": 30,
            "timezone": "Asia/Hong_Kong", "minimums": {"usd": 1000, "HKD": 5000}}
    created = client.post(f"{API}/payout-schedules", as_user=fin, json=body)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["minimums"] == {"USD": 1000, "HKD": 5000}
    assert data["auto_approve"] is False and data["active"] is True
    schedule_id = data["id"]

    changed = client.patch(f"{API}/payout-schedules/{schedule_id}", as_user=fin,
                           json={"auto_approve": True, "minimums": {"USD": 0}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["auto_approve"] is True
    assert changed.get_json()["minimums"] == {"USD": 0}
    assert changed.get_json()["timezone"] == "Asia/Hong_Kong"

    listed = client.get(f"{API}/payout-schedules", as_user=fin).get_json()["items"]
    assert [s["id"] for s in listed] == [schedule_id]
    assert client.get(f"{API}/payout-schedules/{schedule_id}", as_user=fin).status_code == 200
    created_audit = audits(session, "payout_schedule.created")[0]
    assert created_audit.actor_id == fin.id
    updated = audits(session, "payout_schedule.updated")[0]
    assert updated.before["auto_approve"] is False and updated.after["auto_approve"] is True


@pytest.mark.parametrize("change", [
    {"minimums": {"USD": 12.5}},
    {"minimums": {"USD": "1000"}},
    {"minimums": {"USD": -1}},
    {"minimums": {"XYZ": 100}},
    {"weekday": 7},
    {"hour": 24},
    {"hour": 2.0},
    {"timezone": "Mars/Olympus"},
    {"name": ""},
], ids=lambda c: str(c))
def test_bad_schedules_are_refused_and_write_nothing(
    client: ApiClient, session: Session, change: dict
) -> None:
    fin = finance_user()
    body = {"name": "Weekly", "weekday": 0, "hour": 2, "timezone": "UTC", **change}
    response = client.post(f"{API}/payout-schedules", as_user=fin, json=body)
    problem = assert_problem(response, 422)
    field = next(iter(change))
    assert any(name.split(".")[0] == field for name in problem["errors"]), problem
    assert session.scalar(select(func.count()).select_from(PayoutSchedule)) == 0
    assert audits(session, "payout_schedule.created") == []


def test_a_float_minimum_is_refused_on_change_too(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    found = schedule(session, fin.organisation_id, minimums={"USD": 500})
    response = client.patch(f"{API}/payout-schedules/{found.id}", as_user=fin,
                            json={"minimums": {"USD": 7.25}})
    assert "minimums.USD.value" in assert_problem(response, 422)["errors"]
    session.refresh(found)
    assert found.minimums == {"USD": 500}


@pytest.mark.parametrize("minimum", [2**63, 10**30, MAX_AMOUNT + 1])
def test_a_minimum_above_the_money_cap_is_refused(
    client: ApiClient, session: Session, minimum: int
) -> None:
    """Found end to end: 2**63 and 10**30 were stored, while every other amount of money
    is capped."""
    fin = finance_user()
    body = {"name": "Weekly", "weekday": 0, "hour": 2, "timezone": "UTC",
            "minimums": {"USD": minimum}}
    created = client.post(f"{API}/payout-schedules", as_user=fin, json=body)
    assert "minimums.USD.value" in assert_problem(created, 422)["errors"]
    assert session.scalar(select(func.count()).select_from(PayoutSchedule)) == 0
    found = schedule(session, fin.organisation_id, minimums={"USD": 500})
    changed = client.patch(f"{API}/payout-schedules/{found.id}", as_user=fin,
                           json={"minimums": {"USD": minimum}})
    assert "minimums.USD.value" in assert_problem(changed, 422)["errors"]
    session.refresh(found)
    assert found.minimums == {"USD": 500}
    at_the_cap = client.patch(f"{API}/payout-schedules/{found.id}", as_user=fin,
                              json={"minimums": {"USD": MAX_AMOUNT}})
    assert at_the_cap.status_code == 200


def test_trainers_and_other_staff_cannot_use_finance_endpoints(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    found = schedule(session, fin.organisation_id)
    trainer = trainer_owed(fin.organisation_id, 500)
    manager = StaffFactory(role=Role.VENDOR_MANAGER, organisation=fin.organisation)
    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    session.commit()
    for user in (trainer, manager):
        for method, path in (
            ("GET", f"{API}/payout-schedules"),
            ("POST", f"{API}/payout-schedules/{found.id}/runs"),
            ("GET", f"{API}/payout-runs/{run.id}"),
            ("POST", f"{API}/payout-runs/{run.id}/approve"),
            ("GET", f"{API}/payout-runs/{run.id}/items.csv"),
        ):
            response = client.request(method, path, as_user=user)
            assert_problem(response, 403, code="role-forbidden")
    session.refresh(run)
    assert run.state is RunState.PREVIEW
    assert entries(session, SourceType.PAYOUT_APPROVED) == []


def test_another_organisations_schedules_and_runs_are_not_found(
    client: ApiClient, session: Session
) -> None:
    fin, other = finance_user(), finance_user()
    found = schedule(session, fin.organisation_id)
    trainer_owed(fin.organisation_id, 500)
    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    session.commit()
    for method, path in (
        ("GET", f"{API}/payout-schedules/{found.id}"),
        ("PATCH", f"{API}/payout-schedules/{found.id}"),
        ("POST", f"{API}/payout-schedules/{found.id}/runs"),
        ("GET", f"{API}/payout-runs/{run.id}"),
        ("GET", f"{API}/payout-runs/{run.id}/items"),
        ("GET", f"{API}/payout-runs/{run.id}/exclusions"),
        ("GET", f"{API}/payout-runs/{run.id}/report"),
        ("GET", f"{API}/payout-runs/{run.id}/items.csv"),
        ("POST", f"{API}/payout-runs/{run.id}/approve"),
        ("POST", f"{API}/payout-runs/{run.id}/cancel"),
        ("POST", f"{API}/payout-runs/{run.id}/process"),
    ):
        response = client.request(method, path, as_user=other,
                                  json=None if method == "GET" else {})
        assert_problem(response, 404, code="not-found")
    assert client.get(f"{API}/payout-runs", as_user=other).get_json()["items"] == []
    session.refresh(run)
    assert run.state is RunState.PREVIEW
    assert entries(session, SourceType.PAYOUT_APPROVED) == []


# --- the period ------------------------------------------------------------------------


def _weekly(weekday: int, hour: int, minute: int, zone: str) -> PayoutSchedule:
    return PayoutSchedule(weekday=weekday, hour=hour, minute=minute, timezone=zone)


def test_the_period_is_the_latest_weekly_moment_in_local_time() -> None:
    hk = _weekly(0, 2, 0, "Asia/Hong_Kong")  # Monday 02:00 HKT = Sunday 18:00 UTC
    assert payouts.latest_due(hk, datetime(2025, 3, 17, 9, 0, tzinfo=UTC)) == datetime(
        2025, 3, 16, 18, 0, tzinfo=UTC)
    assert payouts.latest_due(hk, datetime(2025, 3, 16, 18, 0, tzinfo=UTC)) == datetime(
        2025, 3, 16, 18, 0, tzinfo=UTC)
    assert payouts.latest_due(hk, datetime(2025, 3, 16, 17, 59, tzinfo=UTC)) == datetime(
        2025, 3, 9, 18, 0, tzinfo=UTC)


def test_the_period_keeps_local_time_across_daylight_saving() -> None:
    new_york = _weekly(6, 2, 30, "America/New_York")  # Sunday 02:30 local
    # 9 March 2025: clocks jump from 02:00 to 03:00; 02:30 does not exist and is read
    # with the offset before the change (07:30 UTC, 03:30 on the clock).
    assert payouts.latest_due(new_york, datetime(2025, 3, 10, tzinfo=UTC)) == datetime(
        2025, 3, 9, 7, 30, tzinfo=UTC)
    # The week before (EST) and after (EDT): 02:30 on the clock both times.
    assert payouts.latest_due(new_york, datetime(2025, 3, 3, tzinfo=UTC)) == datetime(
        2025, 3, 2, 7, 30, tzinfo=UTC)
    assert payouts.latest_due(new_york, datetime(2025, 3, 17, tzinfo=UTC)) == datetime(
        2025, 3, 16, 6, 30, tzinfo=UTC)
    # 2 November 2025: 01:00-02:00 happens twice; a 01:30 schedule runs at the first.
    early = _weekly(6, 1, 30, "America/New_York")
    assert payouts.latest_due(early, datetime(2025, 11, 3, tzinfo=UTC)) == datetime(
        2025, 11, 2, 5, 30, tzinfo=UTC)


ZONES = ["UTC", "Asia/Hong_Kong", "America/New_York", "Europe/London",
         "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2039, 12, 31),  # noqa: DTZ001
                     timezones=st.just(UTC)),
    weekday=st.integers(0, 6), hour=st.integers(0, 23), minute=st.integers(0, 59),
    zone=st.sampled_from(ZONES),
)
def test_the_period_is_never_in_the_future_and_none_is_skipped(
    now: datetime, weekday: int, hour: int, minute: int, zone: str
) -> None:
    weekly = _weekly(weekday, hour, minute, zone)
    due = payouts.latest_due(weekly, now)
    assert due <= now
    # The week's moment may fall an hour later in a spring-forward gap.
    assert now - due < timedelta(days=7, hours=2)
    # The following moment is still to come: no period between the two was skipped.
    following = payouts.latest_due(weekly, due + timedelta(days=7, hours=2))
    assert following > now and following > due
    assert payouts.latest_due(weekly, due) == due
    local = due.astimezone(ZoneInfo(zone))
    wall = datetime.combine(local.date(), time(hour, minute), tzinfo=ZoneInfo(zone))
    if wall.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == wall.replace(
            tzinfo=None):  # the wall time exists that day
        assert (local.weekday(), local.hour, local.minute) == (weekday, hour, minute)


# --- building a run ------------------------------------------------------------------------


def test_run_now_builds_one_run_with_items_and_the_left_out_with_reasons(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org, minimums={"USD": 1000})
    paid = trainer_owed(org, 2500)
    manual = trainer_owed(org, 1200, method="manual")
    below = trainer_owed(org, 999)
    no_account = trainer_owed(org, 5000, method="")
    not_ready = trainer_owed(org, 5000, ready=False)
    held = trainer_owed(org, 5000, hold_until=NOW + timedelta(days=2))
    euro = trainer_owed(org, 300, currency="EUR")  # no EUR minimum: anything owed
    late = owed_since_the_period_end(org, 4000)
    earn(paid, OrganisationFactory().id, 7000)  # another organisation's money

    response = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin)
    assert response.status_code == 201, response.get_json()
    run = response.get_json()
    assert run["state"] == "preview"
    assert run["period_end"].startswith("2025-03-17T02:00:00")
    assert run["totals"] == [
        {"currency": "EUR", "items": 1, "amount": 300},
        {"currency": "USD", "items": 2, "amount": 3700},
    ]
    assert run["item_count"] == 3 and run["exclusion_count"] == 5

    again = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin)
    assert again.status_code == 200
    assert again.get_json()["id"] == run["id"]
    assert session.scalar(select(func.count()).select_from(PayoutRun)) == 1

    items = client.get(f"{API}/payout-runs/{run['id']}/items", as_user=fin).get_json()["items"]
    assert {(i["trainer_id"], i["amount"], i["method"], i["state"]) for i in items} == {
        (str(paid.id), 2500, "stripe", "pending"),
        (str(manual.id), 1200, "manual", "pending"),
        (str(euro.id), 300, "stripe", "pending"),
    }
    left_out = client.get(f"{API}/payout-runs/{run['id']}/exclusions",
                          as_user=fin).get_json()["items"]
    reasons = {e["trainer_id"]: (e["reason"], e["amount"]) for e in left_out}
    assert reasons == {
        str(below.id): ("below_minimum", 999),
        str(no_account.id): ("no_payout_account", 5000),
        str(not_ready.id): ("account_not_ready", 5000),
        str(held.id): ("on_hold", 5000),
        str(late.id): ("after_period", 4000),
    }
    assert all(e["detail"] for e in left_out)
    # Building moves no money.
    assert entries(session, SourceType.PAYOUT_APPROVED) == []
    assert audits(session, "payout_run.created")[0].actor_id == fin.id
    ready = session.scalars(select(Notification).where(
        Notification.user_id == fin.id, Notification.kind == "payout_run.ready")).all()
    assert len(ready) == 1


def test_a_not_ready_account_is_left_out_and_its_money_stays_payable(
    client: ApiClient, session: Session
) -> None:
    """Must hold 6."""
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org)
    ready = trainer_owed(org, 800)
    waiting = trainer_owed(org, 1500, ready=False)

    run = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()
    approved = client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=fin)
    assert approved.status_code == 200, approved.get_json()

    assert balances(session, org, waiting.id) == {"payable": 1500, "in_transit": 0, "paid": 0}
    assert balances(session, org, ready.id) == {"payable": 0, "in_transit": 800, "paid": 0}
    exclusion = session.scalars(select(PayoutExclusion)).one()
    assert (exclusion.trainer_id, exclusion.reason.value) == (waiting.id, "account_not_ready")
    assert entries(session, SourceType.PAYOUT_APPROVED, waiting.id) == []
    assert_ledger_sound(session)


def test_money_in_the_hold_period_waits_for_a_later_run(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    org = session.get(Organisation, fin.organisation_id)
    org.payout_hold_days = 7
    session.commit()
    found = schedule(session, org.id)
    trainer = trainer_owed(org.id, 600)  # earned 14 March: released 21 March
    earn(trainer, org.id, 400, at=EARNED_AT - timedelta(days=10))  # released 11 March

    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    session.commit()
    item = session.scalars(select(PayoutItem).where(PayoutItem.run_id == run.id)).one()
    assert item.amount == 400

    with time_machine.travel(NOW + timedelta(days=7), tick=False):
        later = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()
        assert later["period_end"].startswith("2025-03-24T02:00:00")
        # The first run was never approved, so all 1000 is available by the 24th.
        assert later["totals"] == [{"currency": "USD", "items": 1, "amount": 1000}]


def test_only_available_money_is_paid_when_part_is_on_hold(session: Session) -> None:
    fin = finance_user()
    org = session.get(Organisation, fin.organisation_id)
    org.payout_hold_days = 5
    session.commit()
    found = schedule(session, org.id, minimums={"USD": 300})
    trainer = trainer_owed(org.id, 250)  # released 19 March
    earn(trainer, org.id, 200, at=EARNED_AT - timedelta(days=7))  # released 12 March

    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    exclusion = session.scalars(select(PayoutExclusion).where(
        PayoutExclusion.run_id == run.id)).one()
    assert (exclusion.reason.value, exclusion.amount) == ("below_minimum", 450)
    assert "250" in exclusion.detail


def test_money_earned_after_the_period_is_not_called_on_hold(session: Session) -> None:
    """With no hold period, money earned after the period end is left out because it
    came after the period, and says so (not "in the hold period, released" at a moment
    before the run was even built)."""
    fin = finance_user()
    found = schedule(session, fin.organisation_id)
    owed_since_the_period_end(fin.organisation_id, 4000)

    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    exclusion = session.scalars(select(PayoutExclusion).where(
        PayoutExclusion.run_id == run.id)).one()
    assert (exclusion.reason.value, exclusion.amount) == ("after_period", 4000)
    assert "after the period ended (2025-03-17T02:00:00+00:00)" in exclusion.detail
    assert "hold" not in exclusion.detail.replace("held until", "")


def test_money_still_on_hold_names_its_release_after_now(session: Session) -> None:
    fin = finance_user()
    org = session.get(Organisation, fin.organisation_id)
    org.payout_hold_days = 7
    session.commit()
    found = schedule(session, org.id)
    trainer = trainer_owed(org.id, 600)  # earned 14 March: released 21 March
    earn(trainer, org.id, 300, at=PERIOD_END + timedelta(hours=1))  # released 24 March

    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    exclusion = session.scalars(select(PayoutExclusion).where(
        PayoutExclusion.run_id == run.id)).one()
    assert (exclusion.reason.value, exclusion.amount) == ("on_hold", 900)
    assert "900 in the hold period (the first released 2025-03-21T12:00:00+00:00)" in (
        exclusion.detail)


def test_a_reversed_earning_in_the_hold_period_holds_nothing_back(session: Session) -> None:
    """The reversal already took the money off the balance: counting the reversed credit
    as held too would pay the trainer less than the summary says is payable."""
    fin = finance_user()
    org = session.get(Organisation, fin.organisation_id)
    org.payout_hold_days = 7
    session.commit()
    found = schedule(session, org.id)
    trainer = trainer_owed(org.id, 500)  # earned 14 March: on hold until 21 March
    earn(trainer, org.id, 1000, at=EARNED_AT - timedelta(days=10))
    mistaken = entries(session, SourceType.TASK_APPROVAL, trainer.id)
    recent = max(mistaken, key=lambda entry: entry.created_at)
    with time_machine.travel(EARNED_AT + timedelta(hours=1), tick=False):
        corrections.reverse_entry(session, fin, org.id, recent.id, reason="Duplicate")
        session.commit()

    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    item = session.scalars(select(PayoutItem).where(PayoutItem.run_id == run.id)).one()
    assert item.amount == 1000


# --- approval and cancellation --------------------------------------------------------------


def test_approval_moves_each_item_to_in_transit_once(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org)
    first, second = trainer_owed(org, 1000), trainer_owed(org, 2000, method="manual")
    run = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()

    approved = client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=fin)
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["state"] == "approved" and body["approved_by_id"] == str(fin.id)
    assert body["by_state"] == [{"state": "approved", "currency": "USD", "items": 2,
                                 "amount": 3000}]
    assert balances(session, org, first.id) == {"payable": 0, "in_transit": 1000, "paid": 0}
    assert balances(session, org, second.id) == {"payable": 0, "in_transit": 2000, "paid": 0}
    assert len(entries(session, SourceType.PAYOUT_APPROVED)) == 2

    twice = client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=fin)
    problem = assert_problem(twice, 409, code="illegal-transition")
    assert "approved" in problem["detail"] and problem["current_state"] == "approved"
    cancel = client.post(f"{API}/payout-runs/{run['id']}/cancel", as_user=fin)
    assert_problem(cancel, 409, code="illegal-transition")
    assert len(entries(session, SourceType.PAYOUT_APPROVED)) == 2
    assert balances(session, org, first.id)["in_transit"] == 1000
    event = audits(session, "payout_run.approved")[0]
    assert event.after["items_approved"] == 2
    assert_ledger_sound(session)


def test_approval_tells_each_trainer_left_out_why_and_what_to_do_once(
    client: ApiClient, session: Session
) -> None:
    from workforce.notifications.models import EmailStatus, OutboundEmail

    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org, minimums={"USD": 1000})
    paid = trainer_owed(org, 2500)
    below = trainer_owed(org, 999)
    earn(below, org, 300, currency="EUR")  # no EUR minimum: paid
    no_account = trainer_owed(org, 5000, method="")
    earn(no_account, org, 700, currency="EUR")
    not_ready = trainer_owed(org, 5000, ready=False)
    late = owed_since_the_period_end(org, 4000)
    run = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()
    notices = select(Notification).where(Notification.kind == "payout.left_out")
    assert session.scalars(notices).all() == []  # a preview may still be cancelled

    assert client.post(f"{API}/payout-runs/{run['id']}/approve",
                       as_user=fin).status_code == 200
    told = {n.user_id: n for n in session.scalars(notices)}
    assert set(told) == {below.id, no_account.id, not_ready.id, late.id}
    assert "$9.99: it is below" in told[below.id].body and "($10.00)" in told[below.id].body
    assert "carries over" in told[below.id].body
    # One notice for the run, whatever the currencies.
    assert told[no_account.id].data["left_out"] == [
        {"currency": "EUR", "amount": 700, "reason": "no_payout_account"},
        {"currency": "USD", "amount": 5000, "reason": "no_payout_account"}]
    assert "€7.00 and $50.00: you have no payout account. Set one up" in told[
        no_account.id].body
    assert "finish Stripe's onboarding" in told[not_ready.id].body
    assert "after this run's period ended" in told[late.id].body
    for notice in told.values():
        # 02:00 UTC, in the trainer's time zone (Hong Kong).
        assert ("The next payout run is on Mar 24, 2025, 10:00:00\u202fAM "
                "(Hong Kong Standard Time).") in notice.body
        assert notice.data["run_id"] == run["id"]
    emails = session.scalars(select(OutboundEmail).where(
        OutboundEmail.subject.like("Not paid in %"))).all()
    assert sorted(e.to_address for e in emails) == sorted(
        u.email for u in (below, no_account, not_ready, late))
    # Left to the outbox job: approving a run that leaves out thousands sends none.
    assert {e.status for e in emails} == {EmailStatus.PENDING}
    assert paid.id not in told


def test_approval_cancels_an_item_the_payable_no_longer_covers(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    weekly = schedule(session, org)
    monthly = schedule(session, org, name="Other", weekday=6, hour=23)
    covered = trainer_owed(org, 700)
    both = trainer_owed(org, 1500)
    first, _ = payouts.ensure_run(session, fin, weekly, PERIOD_END)
    second, _ = payouts.ensure_run(session, fin, monthly, PERIOD_END - timedelta(hours=3))
    session.commit()
    # The first run pays the shared trainer; the second, previewed before, must not.
    assert client.post(f"{API}/payout-runs/{first.id}/approve", as_user=fin).status_code == 200
    earn(both, org, 100, at=EARNED_AT)  # some new money, not enough to cover 1500

    response = client.post(f"{API}/payout-runs/{second.id}/approve", as_user=fin)
    assert response.status_code == 200, response.get_json()
    items = {i.trainer_id: i for i in session.scalars(
        select(PayoutItem).where(PayoutItem.run_id == second.id))}
    assert items[both.id].state is ItemState.CANCELLED
    assert items[both.id].failure_code == "not_covered"
    assert "100 of 1500" in items[both.id].failure_message
    assert balances(session, org, both.id) == {"payable": 100, "in_transit": 1500, "paid": 0}
    assert items[covered.id].state is ItemState.CANCELLED  # paid by the first run
    assert session.get(PayoutRun, second.id).state is RunState.COMPLETED
    report = client.get(f"{API}/payout-runs/{second.id}/report", as_user=fin).get_json()
    assert {f["failure_code"] for f in report["failures"]} == {"not_covered"}
    assert_ledger_sound(session)


def test_cancelling_a_preview_moves_nothing(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    colleague = finance_user(fin.organisation)
    org = fin.organisation_id
    found = schedule(session, org)
    trainer = trainer_owed(org, 900)
    run = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()

    cancelled = client.post(f"{API}/payout-runs/{run['id']}/cancel", as_user=fin)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["state"] == "cancelled"
    assert cancelled.get_json()["by_state"][0]["state"] == "cancelled"
    assert_problem(client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=fin), 409,
                   code="illegal-transition")
    assert balances(session, org, trainer.id)["payable"] == 900
    assert entries(session, SourceType.PAYOUT_APPROVED) == []
    told = session.scalars(select(Notification).where(
        Notification.kind == "payout_run.cancelled")).all()
    assert [n.user_id for n in told] == [colleague.id]
    assert audits(session, "payout_run.cancelled")[0].actor_id == fin.id
    listed = client.get(f"{API}/payout-runs?state=cancelled", as_user=fin).get_json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert client.get(f"{API}/payout-runs?state=preview", as_user=fin).get_json()["items"] == []


def test_an_auto_approve_schedule_approves_its_run_at_once(session: Session) -> None:
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org, auto_approve=True)
    trainer = trainer_owed(org, 1234)
    assert payouts.create_due_runs(session, now=NOW) == 1
    session.commit()
    run = session.scalars(select(PayoutRun)).one()
    assert run.state is RunState.APPROVED and run.approved_by_id is None
    assert run.schedule_id == found.id
    assert balances(session, org, trainer.id)["in_transit"] == 1234
    assert audits(session, "payout_run.approved")[0].actor_label == "scheduler"
    assert_ledger_sound(session)


# --- the scheduler ---------------------------------------------------------------------------


def test_a_scheduler_down_across_the_payout_time_runs_the_missed_period_once(
    session: Session,
) -> None:
    """Must hold 10: the scheduler was stopped before Monday 02:00 and started again
    hours later; it creates the missed period's run, once, and never older ones."""
    fin = finance_user()
    org = fin.organisation_id
    schedule(session, org)
    trainer = trainer_owed(org, 500)
    # Up to Sunday night nothing was due since the schedule was set up... but the week
    # before was: it ran then.
    with time_machine.travel(PERIOD_END - timedelta(hours=1), tick=False):
        assert payouts.create_due_runs(session, now=PERIOD_END - timedelta(hours=1)) == 1
    session.commit()
    assert [r.period_end for r in session.scalars(select(PayoutRun))] == [
        PERIOD_END - timedelta(days=7)]
    # Down from Sunday 23:00 until Monday 09:00; back up, it runs the missed period.
    assert payouts.create_due_runs(session, now=NOW) == 1
    assert payouts.create_due_runs(session, now=NOW + timedelta(minutes=5)) == 0
    session.commit()
    ends = sorted(r.period_end for r in session.scalars(select(PayoutRun)))
    assert ends == [PERIOD_END - timedelta(days=7), PERIOD_END]
    # Down for three weeks: only the latest period runs, and it pays what is owed.
    three_weeks = NOW + timedelta(days=21)
    assert payouts.create_due_runs(session, now=three_weeks) == 1
    assert payouts.create_due_runs(session, now=three_weeks) == 0
    session.commit()
    latest = session.scalars(select(PayoutRun).order_by(PayoutRun.period_end.desc())).first()
    assert latest.period_end == PERIOD_END + timedelta(days=21)
    assert session.scalar(select(func.count()).select_from(PayoutRun)) == 3
    assert session.scalars(select(PayoutItem).where(
        PayoutItem.run_id == latest.id)).one().trainer_id == trainer.id


def test_a_new_schedule_waits_for_its_first_moment(session: Session) -> None:
    fin = finance_user()
    schedule(session, fin.organisation_id, created_at=NOW - timedelta(hours=1))
    trainer_owed(fin.organisation_id, 500)
    assert payouts.create_due_runs(session, now=NOW) == 0
    assert payouts.create_due_runs(session, now=NOW + timedelta(days=7)) == 1


def test_inactive_schedules_are_not_run(session: Session) -> None:
    fin = finance_user()
    schedule(session, fin.organisation_id, active=False)
    trainer_owed(fin.organisation_id, 500)
    assert payouts.create_due_runs(session, now=NOW) == 0


# --- manual payments, reports and the bank file ------------------------------------------


def test_finance_records_a_manual_payment_once(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    org = fin.organisation_id
    manual = trainer_owed(org, 4200, method="manual")
    stripe = trainer_owed(org, 100)
    run = approved_run_by_api(client, session, fin)
    items = {i["trainer_id"]: i for i in client.get(
        f"{API}/payout-runs/{run['id']}/items", as_user=fin).get_json()["items"]}
    item_id = items[str(manual.id)]["id"]

    missing = client.post(f"{API}/payout-items/{item_id}/manual-payment", as_user=fin,
                          json={"reference": "  "})
    assert "reference" in assert_problem(missing, 422)["errors"]
    paid = client.post(f"{API}/payout-items/{item_id}/manual-payment", as_user=fin,
                       json={"reference": "HSBC-000123"})
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["state"] == "paid"
    assert paid.get_json()["manual_reference"] == "HSBC-000123"
    assert balances(session, org, manual.id) == {"payable": 0, "in_transit": 0, "paid": 4200}

    again = client.post(f"{API}/payout-items/{item_id}/manual-payment", as_user=fin,
                        json={"reference": "HSBC-000124"})
    assert_problem(again, 409, code="illegal-transition")
    not_manual = client.post(f"{API}/payout-items/{items[str(stripe.id)]['id']}/manual-payment",
                             as_user=fin, json={"reference": "X-1"})
    assert_problem(not_manual, 409, code="not-manual")
    assert len(entries(session, SourceType.PAYOUT_PAID)) == 1
    note = session.scalars(select(Notification).where(
        Notification.user_id == manual.id, Notification.kind == "payout.paid")).one()
    assert "$42.00" in note.title and "HSBC-000123" in note.body
    assert audits(session, "payout_item.paid_manually")[0].after["reference"] == "HSBC-000123"
    # The Stripe item still waits, so the run is not complete.
    assert session.get(PayoutRun, uuid.UUID(run["id"])).state is RunState.APPROVED
    assert_ledger_sound(session)


def test_a_manual_payment_that_could_not_be_made_fails_and_can_be_retried(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    manual = trainer_owed(org, 4200, method="manual")
    run = approved_run_by_api(client, session, fin)
    item_id = client.get(f"{API}/payout-runs/{run['id']}/items",
                         as_user=fin).get_json()["items"][0]["id"]
    url = f"{API}/payout-items/{item_id}/manual-failure"

    assert "reason" in assert_problem(client.post(url, as_user=fin, json={}), 422)["errors"]
    assert balances(session, org, manual.id) == {"payable": 0, "in_transit": 4200, "paid": 0}
    failed = client.post(url, as_user=fin, json={"reason": "The account is closed."})
    assert failed.status_code == 200, failed.get_json()
    assert (failed.get_json()["state"], failed.get_json()["failure_code"]) == (
        "failed", "manual_payment_failed")
    assert balances(session, org, manual.id) == {"payable": 4200, "in_transit": 0, "paid": 0}
    note = session.scalars(select(Notification).where(
        Notification.user_id == manual.id, Notification.kind == "payout.failed")).one()
    assert "The account is closed." in note.body
    assert audits(session, "payout_item.failed_manually")[0].after["reason"] == (
        "The account is closed.")
    assert_problem(client.post(url, as_user=fin, json={"reason": "Again"}), 409,
                   code="illegal-transition")
    # The only item failed: nothing is left waiting, so the run is complete.
    assert session.get(PayoutRun, uuid.UUID(run["id"])).state is RunState.COMPLETED

    retried = client.post(f"{API}/payout-items/{item_id}/retry", as_user=fin)
    assert retried.get_json()["state"] == "approved"
    assert balances(session, org, manual.id) == {"payable": 0, "in_transit": 4200, "paid": 0}
    paid = client.post(f"{API}/payout-items/{item_id}/manual-payment", as_user=fin,
                       json={"reference": "BANK-2"})
    assert paid.get_json()["state"] == "paid"
    assert balances(session, org, manual.id) == {"payable": 0, "in_transit": 0, "paid": 4200}
    assert_ledger_sound(session)


def test_a_stripe_item_cannot_be_failed_by_hand(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    trainer_owed(fin.organisation_id, 900)
    run = approved_run_by_api(client, session, fin)
    item_id = client.get(f"{API}/payout-runs/{run['id']}/items",
                         as_user=fin).get_json()["items"][0]["id"]
    refused = client.post(f"{API}/payout-items/{item_id}/manual-failure", as_user=fin,
                          json={"reason": "No"})
    assert_problem(refused, 409, code="not-manual")
    other = finance_user()
    assert_problem(client.post(f"{API}/payout-items/{item_id}/manual-failure", as_user=other,
                               json={"reason": "No"}), 404)


def test_the_run_completes_when_the_last_manual_payment_is_recorded(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    manual = trainer_owed(fin.organisation_id, 300, method="manual")
    run = approved_run_by_api(client, session, fin)
    item = session.scalars(select(PayoutItem).where(PayoutItem.trainer_id == manual.id)).one()
    client.post(f"{API}/payout-items/{item.id}/manual-payment", as_user=fin,
                json={"reference": "REF-1"})
    found = session.get(PayoutRun, uuid.UUID(run["id"]))
    assert found.state is RunState.COMPLETED and found.completed_at is not None


def test_the_bank_file_has_the_full_details_and_is_audited(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    manual = trainer_owed(fin.organisation_id, 12345, method="manual")
    manual.display_name = "=HYPERLINK(1)"
    session.commit()
    run = approved_run_by_api(client, session, fin)

    response = client.get(f"{API}/payout-runs/{run['id']}/items.csv", as_user=fin)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    row = rows[0]
    assert row["amount_minor"] == "12345" and row["amount"] == "123.45"
    assert row["iban"] == "DE89370400440532013000"  # in full: finance pays from it
    assert row["trainer_name"] == "'=HYPERLINK(1)"
    assert row["method"] == "manual" and row["state"] == "approved"
    assert audits(session, "payout_run.exported")[0].actor_id == fin.id


def test_lists_page_through_items_and_exclusions(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org, minimums={"USD": 1000})
    for amount in (1000, 1100, 1200):
        trainer_owed(org, amount)
    for amount in (10, 20, 30):
        trainer_owed(org, amount)
    run = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()
    for sub in ("items", "exclusions"):
        seen, cursor = [], None
        while True:
            query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
            page = client.get(f"{API}/payout-runs/{run['id']}/{sub}{query}", as_user=fin)
            assert page.status_code == 200, page.get_json()
            seen += [row["amount"] for row in page.get_json()["items"]]
            cursor = page.get_json()["next_cursor"]
            if not cursor:
                break
        expected = [1000, 1100, 1200] if sub == "items" else [10, 20, 30]
        assert sorted(seen) == expected


def test_a_sign_in_that_lasts(client: ApiClient, session: Session) -> None:
    """Schedules are read the same way weeks later (tokens outlive the travel)."""
    fin = finance_user()
    sign_in_for_days(client, fin)
    schedule(session, fin.organisation_id)
    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        listed = client.get(f"{API}/payout-schedules", as_user=fin).get_json()["items"]
    assert listed[0]["created_at"].startswith(SET_UP_AT.date().isoformat())


@pytest.mark.slow
@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    owed=st.lists(st.tuples(st.integers(1, 5000), st.sampled_from(["stripe", "manual", ""]),
                            st.booleans()), min_size=1, max_size=6),
    minimum=st.integers(0, 3000),
)
def test_every_trainer_owed_is_either_paid_or_listed_with_a_reason(
    session: Session, owed: list[tuple[int, str, bool]], minimum: int
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org, minimums={"USD": minimum})
    trainers = {trainer_owed(org, amount, method=method, ready=ready).id: (amount, method, ready)
                for amount, method, ready in owed}
    run, _ = payouts.ensure_run(session, fin, found, PERIOD_END)
    items = {i.trainer_id: i for i in session.scalars(
        select(PayoutItem).where(PayoutItem.run_id == run.id))}
    left_out = {e.trainer_id: e for e in session.scalars(
        select(PayoutExclusion).where(PayoutExclusion.run_id == run.id))}
    assert set(items) | set(left_out) == set(trainers)
    assert not set(items) & set(left_out)
    for trainer_id, (amount, method, ready) in trainers.items():
        if trainer_id in items:
            assert items[trainer_id].amount == amount >= max(minimum, 1)
            assert method and ready
        else:
            assert left_out[trainer_id].amount == amount
    payouts.approve_run(session, fin, run.id)
    session.commit()
    for trainer_id, (amount, _, _) in trainers.items():
        paid = trainer_id in items
        assert balances(session, org, trainer_id) == {
            "payable": 0 if paid else amount, "in_transit": amount if paid else 0, "paid": 0}
    assert_ledger_sound(session)
