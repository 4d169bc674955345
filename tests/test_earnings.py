"""What trainers see of their money, through the API: the summary per currency, line
items, monthly and payout statements (JSON and CSV), and year-to-date totals."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy.orm import Session

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient, assert_problem
from tests.factories import (
    OrganisationFactory,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    earned,
    hourly_project,
    logged_time,
    paid_out,
    staff,
    worked_task,
)
from tests.task_helpers import claimed, review, submitted
from workforce import clock
from workforce.accounts.models import Organisation, Role, User
from workforce.billing import corrections
from workforce.projects.models import AssignmentState, Project, ProjectRate

API = "/api/v1"
SUMMARY = f"{API}/me/earnings/summary"
ITEMS = f"{API}/me/earnings/items"


@pytest.fixture
def manager(session: Session) -> User:
    return StaffFactory()


@pytest.fixture
def organisation(manager: User) -> Organisation:
    return manager.organisation


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()  # Asia/Hong_Kong


def usd(client: ApiClient, trainer: User, currency: str = "USD") -> dict:
    """The trainer's summary row for one currency (zeros when there is none)."""
    response = client.get(SUMMARY, as_user=trainer)
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = {row["currency"]: row for row in response.get_json()["currencies"]}
    return rows.get(currency, {
        "currency": currency, "pending_review": 0, "on_hold": 0, "next_release_at": None,
        "payable": 0, "in_transit": 0, "paid_to_date": 0, "year_to_date": 0,
    })


def figures(row: dict) -> tuple[int, int, int, int, int]:
    return (row["pending_review"], row["on_hold"], row["payable"], row["in_transit"],
            row["paid_to_date"])


def first_rate(session: Session, project: Project) -> ProjectRate:
    return session.query(ProjectRate).filter_by(project_id=project.id).one()


# --- the summary ---------------------------------------------------------------------


def test_submitted_work_is_pending_then_payable_once_approved(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    project = ProjectFactory(manager=manager)  # 200 USD cents a task, every task reviewed
    staff(project, trainer)
    TaskFactory(project=project)
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    assert usd(client, trainer)["pending_review"] == 0

    lease = claimed(client, trainer, project)
    submitted(client, trainer, lease["id"])
    assert figures(usd(client, trainer)) == (200, 0, 0, 0, 0)

    assert review(client, reviewer, lease["id"], "approve").status_code == 200
    row = usd(client, trainer)
    assert figures(row) == (0, 0, 200, 0, 0)
    assert row["year_to_date"] == 200

    [item] = client.get(ITEMS, as_user=trainer).get_json()["items"]
    assert item["amount"] == 200 and item["currency"] == "USD"
    assert item["source_type"] == "task_approval" and item["source_id"] == lease["id"]
    assert item["project_id"] == str(project.id) and item["project_name"] == project.name
    assert item["organisation_name"] == manager.organisation.name
    assert project.name in item["reason"]


def test_a_hold_period_shows_on_hold_with_its_release_date_then_payable(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    organisation.payout_hold_days = 3
    session.commit()
    start = datetime(2030, 3, 2, 10, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        sign_in_for_days(client, trainer)
        earned(trainer, organisation.id, 500)
        row = usd(client, trainer)
        assert figures(row) == (0, 500, 0, 0, 0)
        assert row["next_release_at"] == (start + timedelta(days=3)).isoformat()
        assert row["year_to_date"] == 500
        [item] = client.get(ITEMS, as_user=trainer).get_json()["items"]
        assert item["available_at"] == (start + timedelta(days=3)).isoformat()

        traveller.move_to(start + timedelta(days=3) - timedelta(seconds=1))
        assert usd(client, trainer)["on_hold"] == 500
        traveller.move_to(start + timedelta(days=3))
        row = usd(client, trainer)
        assert figures(row) == (0, 0, 500, 0, 0) and row["next_release_at"] is None


def test_a_reversed_earning_on_hold_is_neither_held_nor_payable(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    organisation.payout_hold_days = 7
    session.commit()
    finance = StaffFactory(role=Role.FINANCE, organisation=organisation)
    earned(trainer, organisation.id, 300)
    event = earned(trainer, organisation.id, 200)
    from workforce.billing import ledger
    from workforce.billing.models import SourceType

    entry = ledger.find_entry(session, SourceType.TASK_APPROVAL, event.source_id)
    corrections.reverse_entry(session, finance, organisation.id, entry.id, reason="Duplicate")
    session.commit()
    row = usd(client, trainer)
    assert figures(row) == (0, 300, 0, 0, 0)
    assert row["year_to_date"] == 300


def test_pending_review_counts_submitted_tasks_and_unapproved_time_at_their_rates(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    per_task = ProjectFactory(manager=manager, rate=350)
    rate = first_rate(session, per_task)
    now = clock.now()
    worked_task(per_task, trainer, submitted_at=now - timedelta(hours=1), rate=rate)
    worked_task(per_task, trainer, submitted_at=now - timedelta(hours=2), rate=rate)
    # Neither approved work (paid already) nor work sent back counts.
    worked_task(per_task, trainer, submitted_at=now, rate=rate, state=AssignmentState.APPROVED)
    worked_task(per_task, trainer, submitted_at=now, rate=rate,
                state=AssignmentState.REVISION_REQUESTED)

    hourly = hourly_project(manager=manager, currency="EUR", rate=2000)  # 20 EUR an hour
    start = now - timedelta(days=1)
    logged_time(hourly, trainer, started_at=start, ended_at=start + timedelta(minutes=90))
    logged_time(hourly, trainer, started_at=start + timedelta(hours=3),
                ended_at=start + timedelta(hours=3, seconds=1))
    # A running session is not counted until it ends.
    logged_time(hourly, trainer, started_at=now - timedelta(minutes=5), ended_at=None)

    assert usd(client, trainer)["pending_review"] == 700
    # 1 h 30 min + 1 s at 20.00 an hour = 30.0056 EUR, rounded once.
    assert usd(client, trainer, "EUR")["pending_review"] == 3001


def test_payouts_show_in_transit_then_paid_and_do_not_change_year_to_date(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    earned(trainer, organisation.id, 1000)
    paid_out(trainer, organisation.id, 600, paid=False)
    row = usd(client, trainer)
    assert figures(row) == (0, 0, 400, 600, 0) and row["year_to_date"] == 1000

    earned(trainer, organisation.id, 50)
    paid_out(trainer, organisation.id, 400)
    row = usd(client, trainer)
    assert figures(row) == (0, 0, 50, 600, 400) and row["year_to_date"] == 1050


def test_the_summary_adds_up_organisations_and_keeps_currencies_apart(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    other = OrganisationFactory()
    earned(trainer, organisation.id, 100)
    earned(trainer, other.id, 250)
    earned(trainer, other.id, 999, currency="JPY")
    earned(UserFactory(), organisation.id, 7777)  # someone else's
    body = client.get(SUMMARY, as_user=trainer).get_json()
    assert [(r["currency"], r["payable"]) for r in body["currencies"]] == [
        ("JPY", 999), ("USD", 350)]
    assert body["timezone"] == "Asia/Hong_Kong"


def test_year_to_date_is_this_calendar_year_in_the_trainers_time_zone(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    # 2030-12-31 17:00 UTC is already 2031 in Hong Kong.
    with time_machine.travel(datetime(2030, 12, 31, 15, tzinfo=UTC), tick=False) as traveller:
        sign_in_for_days(client, trainer)
        earned(trainer, organisation.id, 100)
        traveller.move_to(datetime(2030, 12, 31, 17, tzinfo=UTC))
        earned(trainer, organisation.id, 20)
        row = usd(client, trainer)
        assert row["year_to_date"] == 20 and row["payable"] == 120
        assert client.get(SUMMARY, as_user=trainer).get_json()["year"] == 2031


def test_only_trainers_read_earnings(client: ApiClient, manager: User) -> None:
    for path in (SUMMARY, ITEMS, f"{API}/me/statements/monthly/2030/1"):
        assert_problem(client.get(path, as_user=manager), 403, code="role-forbidden")


# --- line items ----------------------------------------------------------------------


def test_line_items_are_newest_first_paginated_and_filtered(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    organisation = manager.organisation
    first, second = ProjectFactory(manager=manager), ProjectFactory(manager=manager)
    base = datetime(2030, 5, 1, tzinfo=UTC)
    with time_machine.travel(base, tick=False) as traveller:
        sign_in_for_days(client, trainer)
        for day, project, amount, currency in [
            (1, first, 100, "USD"), (2, second, 200, "USD"), (3, first, 300, "EUR"),
            (4, second, 400, "USD"),
        ]:
            traveller.move_to(base + timedelta(days=day))
            earned(trainer, organisation.id, amount, currency=currency, project=project,
                   description=f"Work of day {day}")
        traveller.move_to(base + timedelta(days=5))
        paid_out(trainer, organisation.id, 50)

        def amounts(**query: object) -> list[int]:
            response = client.get(ITEMS, as_user=trainer, query_string=query)
            assert response.status_code == 200, response.get_data(as_text=True)
            return [item["amount"] for item in response.get_json()["items"]]

        assert amounts() == [-50, 400, 300, 200, 100]
        assert amounts(project_id=str(first.id)) == [300, 100]
        assert amounts(currency="EUR") == [300]
        assert amounts(currency="eur") == [300]
        assert amounts(currency="GBP") == []
        assert amounts(**{"from": (base + timedelta(days=2)).isoformat(),
                          "to": (base + timedelta(days=4)).isoformat()}) == [300, 200]

        pages, cursor = [], None
        while True:
            query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = client.get(ITEMS, as_user=trainer, query_string=query).get_json()
            pages.append([item["amount"] for item in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == [[-50, 400], [300, 200], [100]]

    [payout] = client.get(ITEMS, as_user=trainer, query_string={"limit": 1}).get_json()["items"]
    assert payout["source_type"] == "payout_approved" and payout["project_id"] is None


def test_line_items_refuse_bad_filters(client: ApiClient, trainer: User) -> None:
    for query in ({"currency": "XYZ"}, {"from": "yesterday"}, {"project_id": "nope"},
                  {"from": "2030-01-01T00:00:00"}):
        body = assert_problem(client.get(ITEMS, as_user=trainer, query_string=query), 422)
        assert body["errors"]


def test_a_trainer_sees_only_their_own_items(
    client: ApiClient, organisation: Organisation, trainer: User
) -> None:
    earned(UserFactory(), organisation.id, 100)
    assert client.get(ITEMS, as_user=trainer).get_json() == {"items": [], "next_cursor": None}


def test_the_summary_shows_each_organisations_minimum_and_next_payout(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    from workforce.billing.models import PayoutSchedule

    other = OrganisationFactory(name="Another Vendor")
    unscheduled = OrganisationFactory(name="No Schedule Yet")
    # Wednesday 2030-03-06 10:00 UTC.
    with time_machine.travel(datetime(2030, 3, 6, 10, tzinfo=UTC), tick=False):
        sign_in_for_days(client, trainer)
        for owing, amount in ((organisation, 500), (other, 300), (unscheduled, 100)):
            earned(trainer, owing.id, amount)
        session.add_all([
            # Mondays 02:00 in Dublin, at least 10.00 USD; Fridays 09:30 UTC, any amount.
            PayoutSchedule(organisation_id=organisation.id, name="Weekly", weekday=0,
                           hour=2, minute=0, timezone="Europe/Dublin",
                           minimums={"USD": 1000}),
            PayoutSchedule(organisation_id=organisation.id, name="Old", weekday=1, hour=2,
                           timezone="UTC", minimums={}, active=False),
            PayoutSchedule(organisation_id=other.id, name="Fridays", weekday=4, hour=9,
                           minute=30, timezone="UTC", minimums={}),
        ])
        session.commit()

        row = usd(client, trainer)
    by_name = {p["organisation_name"]: p for p in row["payouts"]}
    assert by_name[organisation.name]["minimum"] == 1000
    assert by_name[organisation.name]["next_payout_at"] == "2030-03-11T02:00:00+00:00"
    assert by_name["Another Vendor"]["minimum"] == 1
    assert by_name["Another Vendor"]["next_payout_at"] == "2030-03-08T09:30:00+00:00"
    assert by_name["No Schedule Yet"] == {
        "organisation_id": str(unscheduled.id), "organisation_name": "No Schedule Yet",
        "minimum": None, "next_payout_at": None}
    assert row["next_payout_at"] == "2030-03-08T09:30:00+00:00"


# --- statements ----------------------------------------------------------------------


def monthly(client: ApiClient, trainer: User, year: int, month: int, **query: object):
    return client.get(f"{API}/me/statements/monthly/{year}/{month}", as_user=trainer,
                      query_string=query)


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_monthly_statement_in_json_and_csv(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    finance = StaffFactory(role=Role.FINANCE, organisation=organisation)
    with time_machine.travel(datetime(2030, 1, 10, tzinfo=UTC), tick=False) as traveller:
        sign_in_for_days(client, trainer)
        earned(trainer, organisation.id, 1000, description="January work")
        # 17:30 UTC on the 31st is 1 February in Hong Kong: February's statement.
        traveller.move_to(datetime(2030, 1, 31, 17, 30, tzinfo=UTC))
        earned(trainer, organisation.id, 250, description="=HYPERLINK(\"x\")")
        traveller.move_to(datetime(2030, 2, 12, tzinfo=UTC))
        corrections.create_adjustment(session, finance, trainer_id=trainer.id, amount=-100,
                                      currency="USD", reason="Overpaid in January")
        session.commit()
        traveller.shift(timedelta(minutes=1))
        paid_out(trainer, organisation.id, 1000)
        traveller.move_to(datetime(2030, 3, 5, tzinfo=UTC))
        earned(trainer, organisation.id, 70, description="March work")

        january = monthly(client, trainer, 2030, 1).get_json()
        assert january["period_start"] == "2029-12-31T16:00:00+00:00"  # midnight in HK
        assert [i["reason"] for i in january["items"]] == ["January work"]
        assert january["totals"] == [
            {"currency": "USD", "opening": 0, "credits": 1000, "debits": 0, "closing": 1000}]

        february = monthly(client, trainer, 2030, 2)
        body = february.get_json()
        assert body["kind"] == "monthly" and body["timezone"] == "Asia/Hong_Kong"
        assert [i["amount"] for i in body["items"]] == [250, -100, -1000]
        assert body["totals"] == [
            {"currency": "USD", "opening": 1000, "credits": 250, "debits": -1100,
             "closing": 150}]
        assert body["payout"] is None and body["movements"] == []

        response = monthly(client, trainer, 2030, 2, format="csv")
        assert "statement-2030-02.csv" in response.headers["Content-Disposition"]
        rows = rows_of(response)
        assert [(r["row"], r["amount"], r["amount_minor"]) for r in rows] == [
            ("opening", "10.00", "1000"), ("item", "2.50", "250"), ("item", "-1.00", "-100"),
            ("item", "-10.00", "-1000"), ("credits", "2.50", "250"),
            ("debits", "-11.00", "-1100"), ("closing", "1.50", "150"),
        ]
        # Text a spreadsheet would run is defused.
        assert rows[1]["reason"] == "'=HYPERLINK(\"x\")"
        assert rows[2]["source_type"] == "adjustment"

        march = monthly(client, trainer, 2030, 3).get_json()
        assert march["totals"][0]["opening"] == 150 and march["totals"][0]["closing"] == 220


@pytest.mark.parametrize("year,month", [(2030, 13), (2030, 0), (1, 1), (99999, 1)])
def test_a_month_that_does_not_exist_has_no_statement(
    client: ApiClient, trainer: User, year: int, month: int
) -> None:
    assert_problem(monthly(client, trainer, year, month), 404, code="not-found")


def test_a_statement_format_must_be_json_or_csv(client: ApiClient, trainer: User) -> None:
    body = assert_problem(monthly(client, trainer, 2030, 1, format="xml"), 422)
    assert "format" in body["errors"]


def test_a_payout_statement_lists_what_the_payout_covered(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    other = OrganisationFactory()
    with time_machine.travel(datetime(2030, 6, 1, tzinfo=UTC), tick=False) as traveller:
        sign_in_for_days(client, trainer)
        earned(trainer, organisation.id, 400, description="Before the first payout")
        traveller.shift(timedelta(days=1))
        first = paid_out(trainer, organisation.id, 400)
        traveller.shift(timedelta(days=1))
        earned(trainer, organisation.id, 300, description="Week two")
        earned(trainer, other.id, 999, description="Another organisation's work")
        traveller.shift(timedelta(days=1))
        earned(trainer, organisation.id, 200, description="Week two, later")
        traveller.shift(timedelta(days=1))
        second = paid_out(trainer, organisation.id, 500)

        path = f"{API}/me/statements/payouts/{second.id}"
        body = client.get(path, as_user=trainer).get_json()
        assert body["kind"] == "payout"
        assert body["period_start"] == first.created_at.isoformat()
        assert body["period_end"] == second.created_at.isoformat()
        assert [i["reason"] for i in body["items"]] == [
            "Payout approved", "Week two", "Week two, later"]
        assert body["totals"] == [
            {"currency": "USD", "opening": 400, "credits": 500, "debits": -400,
             "closing": 500}]
        assert body["payout"]["id"] == str(second.id) and body["payout"]["amount"] == 500
        assert body["payout"]["state"] == "paid"
        assert [(m["source_type"], m["from_account"], m["to_account"], m["amount"])
                for m in body["movements"]] == [
            ("payout_approved", "payable", "in_transit", 500),
            ("payout_paid", "in_transit", "paid", 500),
        ]

        rows = rows_of(client.get(path, as_user=trainer, query_string={"format": "csv"}))
        assert [r["row"] for r in rows] == [
            "opening", "item", "item", "item", "credits", "debits", "closing", "payout",
            "movement", "movement"]
        # The payout itself, as in the JSON: its amount, state and dates, then its steps.
        payout = rows[7]
        assert (payout["amount"], payout["amount_minor"], payout["currency"],
                payout["state"], payout["source_id"]) == ("5.00", "500", "USD", "paid",
                                                          str(second.id))
        assert payout["posted_at"] == second.created_at.isoformat()
        assert payout["occurred_at"] == second.paid_at.isoformat()
        assert [(r["source_type"], r["amount_minor"]) for r in rows[8:]] == [
            ("payout_approved", "500"), ("payout_paid", "500")]

        body = client.get(f"{API}/me/statements/payouts/{first.id}", as_user=trainer).get_json()
        assert body["period_start"] is None
        assert [i["reason"] for i in body["items"]] == ["Before the first payout"]

        # Someone else's payout, or none at all, is not found.
        intruder = UserFactory()
        sign_in_for_days(client, intruder)
        assert_problem(client.get(path, as_user=intruder), 404, code="not-found")
        assert_problem(client.get(f"{API}/me/statements/payouts/{uuid.uuid4()}",
                                  as_user=trainer), 404, code="not-found")


def test_a_failed_payout_returns_to_payable_and_its_statement_shows_why(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    from workforce.billing import ledger
    from workforce.billing.models import AccountKind, ItemState, SourceType
    from workforce.billing.payouts import round_source

    with time_machine.travel(datetime(2030, 7, 1, tzinfo=UTC), tick=False) as traveller:
        sign_in_for_days(client, trainer)
        earned(trainer, organisation.id, 900)
        traveller.shift(timedelta(minutes=1))
        item = paid_out(trainer, organisation.id, 900, paid=False)
        assert figures(usd(client, trainer)) == (0, 0, 0, 900, 0)

        traveller.shift(timedelta(hours=1))
        accounts = {kind: ledger.trainer_account(session, organisation.id, trainer.id, kind,
                                                 "USD")
                    for kind in (AccountKind.PAYABLE, AccountKind.IN_TRANSIT)}
        item.attempts, item.state = 1, ItemState.FAILED
        item.failure_message = "The bank account was closed."
        ledger.post(session, source_type=SourceType.PAYOUT_FAILED,
                    source_id=round_source(item.id, 1), reason="Payout failed",
                    organisation_id=organisation.id, trainer_id=trainer.id,
                    legs=[ledger.Leg(accounts[AccountKind.IN_TRANSIT], 900),
                          ledger.Leg(accounts[AccountKind.PAYABLE], -900)])
        session.commit()

        assert figures(usd(client, trainer)) == (0, 0, 900, 0, 0)
        items = client.get(ITEMS, as_user=trainer).get_json()["items"]
        assert [(i["source_type"], i["amount"]) for i in items] == [
            ("payout_failed", 900), ("payout_approved", -900), ("task_approval", 900)]
        body = client.get(f"{API}/me/statements/payouts/{item.id}", as_user=trainer).get_json()
        assert body["payout"]["state"] == "failed"
        assert body["payout"]["failure_message"] == "The bank account was closed."
        assert [(m["source_type"], m["from_account"], m["to_account"])
                for m in body["movements"]] == [
            ("payout_approved", "payable", "in_transit"),
            ("payout_failed", "in_transit", "payable"),
        ]


def test_year_to_date_adds_whole_days_and_the_partial_days_at_both_ends(
    client: ApiClient, session: Session, organisation: Organisation, trainer: User
) -> None:
    """Year to date sums stored daily totals for whole UTC days and reads the entries of
    the two partial days at the ends of the trainer's local year (Hong Kong, UTC+8); a
    reversal counts on its own day; the stored days agree with the postings."""
    from workforce.billing import ledger
    from workforce.billing.models import SourceType

    def entry_of(event: object) -> uuid.UUID:
        found = ledger.find_entry(session, SourceType.TASK_APPROVAL, event.source_id)
        assert found is not None
        return found.id

    moments = {
        "last year": datetime(2030, 12, 31, 15, tzinfo=UTC),  # 23:00 in Hong Kong
        "first partial day": datetime(2030, 12, 31, 16, 30, tzinfo=UTC),
        "whole day": datetime(2031, 3, 10, 12, tzinfo=UTC),
        "last partial day": datetime(2031, 12, 31, 15, 59, tzinfo=UTC),
    }
    amounts = {"last year": 1000, "first partial day": 20, "whole day": 300,
               "last partial day": 4}
    events = {}
    with time_machine.travel(moments["last year"], tick=False) as traveller:
        from tests.factories import token_for

        client._tokens[trainer.id] = token_for(trainer, lifetime=timedelta(days=400))
        for name, moment in moments.items():
            traveller.move_to(moment)
            events[name] = earned(trainer, organisation.id, amounts[name])
            if name == "whole day":
                traveller.move_to(moment + timedelta(days=2))
                ledger.reverse(session, entry_of(events[name]), reason="Paid twice")
                session.commit()
                traveller.move_to(moment + timedelta(days=3))
                events["again"] = earned(trainer, organisation.id, 30)
        row = usd(client, trainer)
        assert client.get(SUMMARY, as_user=trainer).get_json()["year"] == 2031
        # 20 + 300 - 300 + 30 + 4; last year's 1000 is payable but not this year's.
        assert row["year_to_date"] == 54 and row["payable"] == 1054
    assert ledger.check_balances(session) == []


def test_the_check_finds_a_wrong_daily_earning(
    session: Session, organisation: Organisation, trainer: User
) -> None:
    from sqlalchemy import update

    from workforce.billing import ledger
    from workforce.billing.models import AccountKind, EarningDay

    earned(trainer, organisation.id, 100)
    assert ledger.check_balances(session) == []
    payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                     AccountKind.PAYABLE, "USD")
    session.execute(update(EarningDay).where(EarningDay.account_id == payable.id)
                    .values(amount=EarningDay.amount - 1))
    session.commit()
    assert ledger.check_balances(session) == [ledger.BalanceMismatch(payable.id, -101, -100)]
