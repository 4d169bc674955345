"""``workforce payouts``: build, preview, approve, process, report and reconcile payout
runs from a shell, with progress for the long parts. The same services as the API and
the scheduler; only the way in differs.

Exit codes: 0 when everything asked for was done, 1 on an error, a halted run or
differences found by reconciliation, and 75 (``EX_TEMPFAIL``) when payouts are left to
send later; the message says what to run next. Each command gets the app from Flask
(``AppGroup`` wraps it in ``with_appcontext``).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.audit import Actor, SystemActor
from workforce.billing import processing, reconciliation
from workforce.billing.models import PayoutRun, PayoutSchedule
from workforce.billing.payouts import approval, build, finance, queries, schedules
from workforce.errors import DomainError
from workforce.money import Money

CLI_ACTOR = SystemActor("cli:payouts")
LEFT_FOR_LATER = 75  # sysexits' EX_TEMPFAIL: the same command later may finish it


class LeftForLater(click.ClickException):
    exit_code = LEFT_FOR_LATER


class UtcTime(click.ParamType):
    """An ISO 8601 time with its offset (``2025-03-17T02:00:00+01:00`` or ``...Z``),
    read as UTC."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} needs its UTC offset (e.g. +00:00 or Z)", param, ctx)
        try:
            return clock.as_utc(parsed)
        except OverflowError:
            self.fail(f"{value!r} is out of range", param, ctx)


@click.group(cls=AppGroup)
def payouts() -> None:
    """Payout runs: run-now, preview, approve, process, report, reconcile."""


def _services() -> Any:
    return current_app.extensions["workforce"]


def _fail(exc: DomainError) -> click.ClickException:
    errors = getattr(exc, "errors", {})
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
    return click.ClickException(f"{exc.detail} {detail}".strip())


def _run(session: Any, run_id: uuid.UUID) -> PayoutRun:
    run = session.get(PayoutRun, run_id)
    if run is None:
        raise click.ClickException(f"no payout run {run_id}")
    return run


def _actor(session: Any, email: str | None, organisation_id: uuid.UUID) -> Actor:
    """The finance user (or admin) acting, named by e-mail; without one, the CLI itself."""
    if email is None:
        return CLI_ACTOR
    try:
        return finance.finance_actor(session, email, organisation_id)
    except DomainError as exc:
        raise _fail(exc) from exc


def _money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def _print_run(view: dict[str, Any]) -> None:
    click.echo(f"run {view['id']} ({view['schedule_name']}), period ending "
               f"{view['period_end'].isoformat()}: {view['state'].value}")
    if view["halted_reason"]:
        click.echo(f"  halted: {view['halted_reason']}")
    for total in view["totals"]:
        click.echo(f"  {total['currency']}: {total['items']} payouts, "
                   f"{_money(total['amount'], total['currency'])}")
    for row in view["by_state"]:
        click.echo(f"    {row['state'].value:<10} {row['currency']} {row['items']:>7} "
                   f"{_money(row['amount'], row['currency']):>18}")
    click.echo(f"  left out: {view['exclusion_count']}")
    for row in view["exclusions"]:
        click.echo(f"    {row['reason'].value:<18} {row['currency']} {row['trainers']:>7} "
                   f"{_money(row['amount'], row['currency']):>18}")


@payouts.command("run-now")
@click.argument("schedule_id", type=click.UUID)
@click.option("--by", "email", help="E-mail of the finance user acting (audited).")
def run_now(schedule_id: uuid.UUID, email: str | None) -> None:
    """Create (and build) the run of SCHEDULE_ID's current period, or show the existing one."""

    def build_run(session: Session) -> tuple[bool, dict[str, Any]]:
        schedule = session.get(PayoutSchedule, schedule_id)
        if schedule is None:
            raise click.ClickException(f"no payout schedule {schedule_id}")
        actor = _actor(session, email, schedule.organisation_id)
        owed = build.accounts_owed(session, schedule.organisation_id)
        period_end = schedules.latest_due(schedule, clock.now())
        with click.progressbar(length=owed, label="building", file=sys.stderr) as bar:
            try:
                run, created = build.ensure_run(session, actor, schedule, period_end,
                                                progress=bar.update)
            except DomainError as exc:
                raise _fail(exc) from exc
        return created, queries.run_view(session, run)

    created, view = _services().database.run(build_run)
    click.echo("created" if created else "exists already")
    _print_run(view)


@payouts.command()
@click.argument("run_id", type=click.UUID)
def preview(run_id: uuid.UUID) -> None:
    """Show RUN_ID: totals per currency, counts per state, who was left out and why."""
    _print_run(_services().database.run(
        lambda session: queries.run_view(session, _run(session, run_id))))


@payouts.command()
@click.argument("run_id", type=click.UUID)
@click.option("--by", "email", help="E-mail of the finance user approving (audited).")
def approve(run_id: uuid.UUID, email: str | None) -> None:
    """Approve RUN_ID: each item's amount moves from payable to in transit."""

    def approve_run(session: Session) -> dict[str, Any]:
        run = _run(session, run_id)
        actor = _actor(session, email, run.organisation_id)
        try:
            run = approval.approve_run(session, actor, run_id,
                                       organisation_id=run.organisation_id)
        except DomainError as exc:
            raise _fail(exc) from exc
        return queries.run_view(session, run)

    view = _services().database.run(approve_run)
    click.echo("approved")
    _print_run(view)


@payouts.command()
@click.argument("run_id", type=click.UUID)
@click.option("--resume", is_flag=True,
              help="Resume a run halted with an alert (after topping up the balance).")
def process(run_id: uuid.UUID, resume: bool) -> None:
    """Send RUN_ID's approved items through Stripe, with a progress bar. Safe to rerun
    after a crash and beside the scheduler."""
    services = _services()
    gateway = services.gateway
    if gateway is None:
        raise click.ClickException(
            "Stripe is not configured (WORKFORCE_STRIPE_API_KEY): manual-method items are "
            "paid from the bank file and recorded with their reference")
    total = processing.items_to_send(services.database, run_id)
    with click.progressbar(length=total, label="sending", file=sys.stderr) as bar:
        try:
            result = processing.process_run(
                services.database, run_id, gateway,
                rate=services.settings.payout_requests_per_second, progress=bar.update,
                resume=resume, concurrency=services.settings.payout_concurrency,
            )
        except DomainError as exc:
            raise _fail(exc) from exc
    click.echo(f"paid {result.paid}, failed {result.failed}, left for later "
               f"{result.deferred}, held by another processor {result.skipped}")
    if result.failed:
        click.echo(f"failed payouts are payable again: see `workforce payouts report "
                   f"{run_id}`, and retry each with POST /api/v1/payout-items/{{id}}/retry")
    if result.halted_reason:
        raise click.ClickException(
            f"halted: {result.halted_reason} Nothing more is sent until you top up the "
            f"platform balance at Stripe and run `workforce payouts process {run_id} "
            f"--resume` (or POST /api/v1/payout-runs/{run_id}/process).")
    if result.deferred:
        # Only what this process left: items another processor holds are its to finish.
        raise LeftForLater(
            f"{result.deferred} payouts are left to send (Stripe did not answer in time): "
            f"run `workforce payouts process {run_id}` again, or leave them to the "
            "scheduler, which sends approved runs every minute.")


@payouts.command()
@click.argument("run_id", type=click.UUID)
def report(run_id: uuid.UUID) -> None:
    """Counts and amounts per state and currency, and the failures with their reasons."""
    data = _services().database.run(
        lambda session: queries.run_report(session, _run(session, run_id)))
    _print_run(data["run"])
    if data["failures"]:
        click.echo("failures:")
    for item in data["failures"]:
        click.echo(f"  {item['id']} {item['trainer_name']}: "
                   f"{_money(item['amount'], item['currency'])} {item['state'].value} "
                   f"({item['failure_code']}) {item['failure_message']}")


@payouts.command()
@click.option("--from", "period_from", required=True, type=UtcTime(),
              help="Start (included), ISO 8601 with its offset.")
@click.option("--to", "period_to", required=True, type=UtcTime(),
              help="End (excluded), ISO 8601 with its offset.")
@click.option("--notify", is_flag=True,
              help="Tell each organisation's finance users of their differences, as the "
                   "daily job does.")
def reconcile(period_from: datetime, period_to: datetime, notify: bool) -> None:
    """Compare the payouts sent in [--from, --to) with Stripe's transfers, for every
    organisation, and list each difference: the service behind GET
    /payout-reconciliations and the daily job. Exits 1 when there is any."""
    services = _services()
    with _counter("transfers read from Stripe") as progress:
        try:
            result = services.database.run(
                reconciliation.reconcile_period, services.gateway, period_from=period_from,
                period_to=period_to, notify=notify, progress=progress)
        except DomainError as exc:
            raise _fail(exc) from exc
    click.echo(f"{result.items_checked} payouts and {result.transfers_checked} transfers "
               f"checked from {period_from.isoformat()} to {period_to.isoformat()}")
    for found in result.differences:
        click.echo(f"  {found.kind.value}: {found.detail}"
                   + (f" (payout {found.payout_item_id})" if found.payout_item_id else ""))
    if result.differences:
        raise click.ClickException(f"{len(result.differences)} differences"
                                   + (", finance told" if notify else ""))
    click.echo("balanced")


@contextmanager
def _counter(label: str, *, every: int = 100) -> Iterator[Callable[[int], None]]:
    """A running count on standard error, for work whose length is not known ahead."""
    count = 0

    def step(n: int) -> None:
        nonlocal count
        count += n
        if count % every == 0:
            click.echo(f"\r{label}: {count}", nl=False, err=True)

    yield step
    click.echo(f"\r{label}: {count}", err=True)
