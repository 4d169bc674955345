"""Sending approved payout items to the gateway, exactly once, whatever crashes.

A sender takes the run's approved Stripe items a batch at a time (one item without
senders side by side):

1. Lock them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two processors share a run's
   items without waiting on each other); the same statement refuses the items of a
   halted run. Save a key derived from the item's id on each that has none, and COMMIT
   before anything is sent; then lock them again (reading their payout accounts with
   them), unless the run was halted.
2. Holding the locks through the calls, so no other processor sends them meanwhile, send
   the batch's requests side by side: for an item whose key may have outlived the
   gateway's 24-hour memory, look for a transfer in its transfer group first; else
   create the transfer with the saved key. A crash anywhere leaves the keys saved: the
   rerun sends the same key (or finds the transfer) and gets the same transfer back,
   never a second one.
3. Record the outcomes and their ledger entries in the same transaction as the locks,
   a statement each for the whole batch: paid; failed for good (money back to payable,
   the trainer told why). Retryable errors (429, 5xx, timeouts) are retried with
   backoff a few times and then left approved, with a note, for the next pass; an
   insufficient platform balance stops the whole run with an alert to finance and
   nothing written for that item.

Requests are paced by a token bucket (``payout_requests_per_second``, per process). On
PostgreSQL several senders (``payout_concurrency`` requests in flight, in batches of
``BATCH``) share a process's items and its bucket, so the gateway's latency does not cap
the rate at one request in flight, and the database work of a payment is shared by its
batch (bench/RESULTS.md, round 6).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, bindparam, exists, func, select
from sqlalchemy.orm import Session

from workforce import clock, db
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.billing import payout_accounts
from workforce.billing.gateways import GatewayError, InsufficientBalance, PayoutGateway, Transfer
from workforce.billing.models import (
    ItemState,
    PayoutAccount,
    PayoutItem,
    PayoutMethod,
    PayoutRun,
    RunState,
)
from workforce.billing.payouts import keys, outcomes
from workforce.billing.payouts.approval import run_to_process
from workforce.billing.payouts.build import account_ready
from workforce.billing.payouts.finance import notify_finance
from workforce.billing.payouts.lifecycle import RUNS

log = logging.getLogger(__name__)

PROCESSOR = SystemActor("payout-processor")
# Stripe keeps a key at least 24 hours, counted from its first request; our clock starts
# earlier (the key is saved before the request), so from 23 hours on we look first.
KEY_TRUSTED_FOR = timedelta(hours=23)
MAX_ATTEMPTS = 4
# Items a sender side by side locks, sends and records together: its requests go out
# side by side, and their outcomes are written a statement each for all of them
# (bench/RESULTS.md, round 6). ``payout_concurrency`` requests in flight make
# ``payout_concurrency / BATCH`` senders, each with its database connection.
BATCH = 4
BACKOFF_BASE = 0.5  # seconds
BACKOFF_CAP = 8.0

SessionOpener = Callable[[], Session]


def step_reached(name: str) -> None:
    """Called at each named step of sending an item (``after_key_saved``,
    ``after_gateway``, ``before_commit``, ``after_commit``); does nothing. The seam where
    the crash tests kill the processor (``tests/killed_processor.py``), to show that a
    rerun finishes what a killed processor started, once."""


class TokenBucket:
    """At most ``rate`` requests per second on average, with bursts of up to ``burst``
    (``rate`` unless given; at least one). Thread-safe; per process."""

    def __init__(self, rate: float, *, burst: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate if burst is None else burst)
        self.tokens = self.capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._updated = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.rate)
                self._updated = now
                # A hair of slack: float sums of elapsed time may fall a ulp short.
                if self.tokens >= 1 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                wait = (1 - self.tokens) / self.rate
            self._sleep(wait)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential, capped, with full
    jitter so that many processors do not retry in step."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))  # noqa: S311


class Outcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    DEFERRED = "deferred"  # retryable errors every time: left approved for the next pass
    SKIPPED = "skipped"  # another processor holds it
    HALTED = "halted"


@dataclass
class ProcessResult:
    run_id: uuid.UUID
    paid: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    halted_reason: str | None = None
    completed: bool = False

    @property
    def handled(self) -> int:
        return self.paid + self.failed + self.deferred


@dataclass
class Pacing:
    """How the processor spaces and repeats its requests."""

    bucket: TokenBucket
    sleep: Callable[[float], None] = time.sleep
    max_attempts: int = MAX_ATTEMPTS


def opener(database_or_factory: Any) -> SessionOpener:
    """A way to open sessions, from a ``Database`` or a session factory."""
    return getattr(database_or_factory, "session", database_or_factory)


def process_run(
    database_or_factory: Any,
    run_id: uuid.UUID,
    gateway: PayoutGateway,
    *,
    rate: float,
    progress: Callable[[int], None] | None = None,
    resume: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
    concurrency: int = 1,
) -> ProcessResult:
    """Send every approved Stripe item of an approved run; returns what happened.

    Safe to run in several processes at once and to rerun after a crash. A run halted
    with an alert is left alone unless ``resume`` (finance asked to process it again,
    after topping up the balance). Manual-method items are not sent: finance records
    their bank reference.

    ``concurrency`` senders work side by side in this process (PostgreSQL only), each
    item still locked, keyed and recorded exactly as by a lone sender; they share the
    token bucket, so the process stays within ``rate``. One sender waits out the
    gateway's latency between requests (50 ms makes 20 a second at best), so reaching
    Stripe's 100 a second takes several."""
    open_session = opener(database_or_factory)
    result = ProcessResult(run_id)
    if not _start(open_session, run_id, resume=resume):
        with _unit(open_session) as session:
            result.halted_reason = session.get(PayoutRun, run_id).halted_reason  # type: ignore[union-attr]
        return result
    # No bursts: Stripe counts the requests of any one second, so any burst on top of
    # the steady rate puts more than the limit into some second and draws 429s, each
    # costing a sender its backoff (a tenth of a second's burst: 88 items a second
    # against 96 without, bench/RESULTS.md).
    bucket = TokenBucket(rate, burst=1, sleep=sleep)
    pacing = Pacing(bucket, sleep=sleep, max_attempts=max_attempts)
    bind = _bind_of(open_session)
    if concurrency > 1 and _concurrent_ok(bind):
        batch = min(BATCH, concurrency)
        with ThreadPoolExecutor(concurrency, thread_name_prefix="payout-request") as pool:
            senders = _Senders(open_session, bind, run_id, gateway, pacing, result,
                               progress, batch=batch,
                               calls=lambda send, items: list(pool.map(send, items)))
            senders.run_threads(-(-concurrency // batch))
    else:
        _Senders(open_session, bind, run_id, gateway, pacing, result, progress).send_all()
    if result.halted_reason is None:
        with _unit(open_session) as session:
            # Another processor may have stopped the run meanwhile.
            result.halted_reason = _halted(session, run_id)
            if result.halted_reason is None:
                result.completed = outcomes.complete_if_done(session, run_id)
    log.info("payout run processed", extra={
        "run_id": str(run_id), "paid": result.paid, "failed": result.failed,
        "deferred": result.deferred, "halted": bool(result.halted_reason),
    })
    return result


def _bind_of(open_session: SessionOpener) -> Any:
    """What sessions from ``open_session`` run on: an engine, or one connection."""
    session = open_session()
    try:
        return session.get_bind()
    finally:
        session.close()


def _concurrent_ok(bind: Any) -> bool:
    """Senders side by side rely on ``SKIP LOCKED`` row locks and a connection each:
    PostgreSQL through a pool. SQLite has one writer at a time anyway, and sessions bound
    to one connection (a test's rolled-back transaction) cannot share it."""
    return isinstance(bind, Engine) and bind.dialect.name == "postgresql"


@contextmanager
def _one_connection(open_session: SessionOpener, bind: Any) -> Iterator[SessionOpener]:
    """A sender's sessions, all on one connection held for the sender's whole run. A
    session per item ends two transactions an item, and on an engine each would check
    a connection out of the pool again, which pings the database first. Sessions
    already bound to a connection (a test's) are opened as they are."""
    if not isinstance(bind, Engine):
        yield open_session
        return
    with bind.connect() as connection:

        def on_connection() -> Session:
            session = open_session()
            session.bind = connection  # before its first use: it begins, commits there
            return session

        yield on_connection


class _Senders:
    """The loop over a run's items, run by one sender or by several threads. Each sender
    takes the next ``batch`` items in id order from one cursor, so that no sender picks
    an item another has keyed (committing the keys lets go of their locks until they
    are locked again to be sent), nor one deferred earlier in the pass; it keys them in
    one transaction, locks them again, sends their requests side by side through
    ``calls`` and records their outcomes in one transaction. Outcomes are counted under
    a lock, and a halt stops every sender before its next batch."""

    def __init__(self, open_session: SessionOpener, bind: Any, run_id: uuid.UUID,
                 gateway: PayoutGateway, pacing: Pacing, result: ProcessResult,
                 progress: Callable[[int], None] | None, *, batch: int = 1,
                 calls: Calls = None) -> None:
        self.open_session = open_session
        self.bind = bind
        self.run_id = run_id
        self.gateway = gateway
        self.pacing = pacing
        self.result = result
        self.progress = progress
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._picking = threading.Lock()
        self._after: uuid.UUID | None = None
        self._batch = batch
        self._calls = calls

    def send_all(self) -> None:
        with _one_connection(self.open_session, self.bind) as open_session:
            while not self._stop.is_set():
                handled = _process_batch(open_session, self.run_id, self._pick,
                                         self.gateway, self.pacing, self._calls)
                if handled is None:
                    return
                for outcome, detail in handled:
                    self._count(outcome, detail)

    def _pick(self, session: Session) -> list[uuid.UUID]:
        """Key the next batch after the last one picked by any sender (one sender at a
        time: the query does not wait, ``SKIP LOCKED``); their ids."""
        with self._picking:
            keyed = _key_next(session, self.run_id, self._after, self._batch)
            if keyed:
                self._after = keyed[-1]
            return keyed

    def _count(self, outcome: Outcome, detail: str | None) -> None:
        with self._lock:
            if outcome is Outcome.HALTED:
                self.result.halted_reason = self.result.halted_reason or detail
                self._stop.set()
                return
            setattr(self.result, outcome.value, getattr(self.result, outcome.value) + 1)
            if self.progress is not None and outcome is not Outcome.SKIPPED:
                self.progress(1)

    def run_threads(self, count: int) -> None:
        threads = [threading.Thread(target=self._guarded, name=f"payout-sender-{n}")
                   for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self._errors:
            raise self._errors[0]

    def _guarded(self) -> None:
        try:
            self.send_all()
        except BaseException as exc:  # re-raised in the caller's thread
            with self._lock:
                self._errors.append(exc)
            self._stop.set()


def items_to_send(database_or_factory: Any, run_id: uuid.UUID) -> int:
    """How many of the run's items wait to be sent (for a progress bar)."""
    with _unit(opener(database_or_factory)) as session:
        return session.scalar(
            select(func.count()).select_from(PayoutItem).where(
                PayoutItem.run_id == run_id, PayoutItem.state == ItemState.APPROVED,
                PayoutItem.method == PayoutMethod.STRIPE,
            )
        ) or 0


def process_approved_runs(
    database_or_factory: Any, gateway: PayoutGateway | None, *, rate: float,
    sleep: Callable[[float], None] = time.sleep, concurrency: int = 1,
) -> int:
    """The scheduler's pass: process every approved or processing run (not halted) that
    has Stripe items waiting; returns how many items were handled."""
    if gateway is None:
        return 0
    open_session = opener(database_or_factory)
    with _unit(open_session) as session:
        run_ids = list(session.scalars(
            select(PayoutRun.id)
            .where(
                PayoutRun.state.in_((RunState.APPROVED, RunState.PROCESSING)),
                PayoutRun.halted_reason.is_(None),
                exists().where(
                    PayoutItem.run_id == PayoutRun.id,
                    PayoutItem.state == ItemState.APPROVED,
                    PayoutItem.method == PayoutMethod.STRIPE,
                ),
            )
            .order_by(PayoutRun.period_end, PayoutRun.id)
        ))
    handled = 0
    for run_id in run_ids:
        handled += process_run(open_session, run_id, gateway, rate=rate, sleep=sleep,
                               concurrency=concurrency).handled
    return handled


# --- steps -------------------------------------------------------------------------------


class _unit:
    """A unit of work over a fresh session: committed (with after-commit callbacks) when
    the block ends, rolled back on any error."""

    def __init__(self, open_session: SessionOpener) -> None:
        self.session = open_session()

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                db.commit(self.session)
            else:
                db.rollback(self.session)
        finally:
            self.session.close()


def _start(open_session: SessionOpener, run_id: uuid.UUID, *, resume: bool) -> bool:
    with _unit(open_session) as session:
        run = run_to_process(session, PROCESSOR, run_id, resume=resume)
        if run is None:
            return False
        if run.state is RunState.APPROVED:
            RUNS.move(run, RunState.PROCESSING)
    return True


def _key_next(session: Session, run_id: uuid.UUID, after: uuid.UUID | None,
              limit: int) -> list[uuid.UUID]:
    """Lock up to ``limit`` of the run's approved Stripe items after ``after`` that no one
    else holds, save a key on each that has none and COMMIT (before anything is sent);
    their ids in order. None when the run is halted (by any processor: the same
    statement asks, so a halt stops every sender before its next batch). Core rows and
    statements, no entities: a sender keys a batch of items for every batch it sends."""
    rows = session.execute(_batch_stmt(after is not None),
                           {"run_id": run_id, "after": after, "limit": limit}).all()
    now = clock.now()
    unkeyed = [{"id": item_id, "attempts": attempts + 1,
                "idempotency_key": keys.idempotency_key_for(item_id, attempts + 1),
                "key_created_at": now}
               for item_id, key, attempts in rows if key is None]
    db.update_rows(session, PayoutItem.__table__, unkeyed)
    db.commit(session)  # saved before anything is sent
    if unkeyed:
        step_reached("after_key_saved")
    return [item_id for item_id, _key, _attempts in rows]


# The statements of each item, built once with bound parameters: building a statement
# and its cache key costs about what running it does (bench/RESULTS.md, round 4).


@functools.cache
def _batch_stmt(after: bool) -> Any:
    run_id = bindparam("run_id")
    table = PayoutItem.__table__
    stmt = (
        select(table.c.id, table.c.idempotency_key, table.c.attempts)
        .where(*_to_send(run_id), _not_halted(run_id))
        .order_by(table.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=table)
    )
    return stmt.where(table.c.id > bindparam("after")) if after else stmt


@functools.cache
def _relock_stmt() -> Any:
    run_id = bindparam("run_id")
    return (
        select(PayoutItem, PayoutAccount)
        .outerjoin(PayoutAccount, PayoutAccount.id == PayoutItem.payout_account_id)
        .where(PayoutItem.id.in_(bindparam("item_ids", expanding=True)), *_to_send(run_id),
               _not_halted(run_id))
        .order_by(PayoutItem.id)
        .with_for_update(skip_locked=True, of=PayoutItem)
        .execution_options(populate_existing=True)
    )


def _not_halted(run_id: Any) -> Any:
    return ~exists().where(PayoutRun.id == run_id, PayoutRun.halted_reason.is_not(None))


def _to_send(run_id: Any) -> tuple[Any, ...]:
    """The run's items a processor sends: approved, through Stripe."""
    return (PayoutItem.run_id == run_id, PayoutItem.state == ItemState.APPROVED,
            PayoutItem.method == PayoutMethod.STRIPE)


def _relock(session: Session, run_id: uuid.UUID,
            item_ids: list[uuid.UUID]) -> list[tuple[PayoutItem, PayoutAccount | None]]:
    """Lock the items again once their keys are committed, those still approved that no
    one else holds while the run is not halted, and read their payout accounts in the
    same statement. Only the items' rows are locked; the join is an outer one so that
    an account that cannot be read still gives ``None`` (not sendable)."""
    return [(row[0], row[1]) for row in session.execute(
        _relock_stmt(), {"run_id": run_id, "item_ids": item_ids})]


def _halted(session: Session, run_id: uuid.UUID) -> str | None:
    return session.scalar(select(PayoutRun.halted_reason).where(PayoutRun.id == run_id))


@dataclass(frozen=True)
class _Verdict:
    """What the gateway said of an item: ``outcome`` PAID (with ``transfer``), FAILED
    for good (with ``code`` and ``message``), DEFERRED or HALTED (with ``error``)."""

    outcome: Outcome
    transfer: Transfer | None = None
    code: str = ""
    message: str = ""
    error: GatewayError | None = None


Calls = Callable[[Callable[[Any], _Verdict], list[Any]], list[_Verdict]] | None


def _process_batch(
    open_session: SessionOpener, run_id: uuid.UUID,
    pick: Callable[[Session], list[uuid.UUID]], gateway: PayoutGateway, pacing: Pacing,
    calls: Calls,
) -> list[tuple[Outcome, str | None]] | None:
    """Send the items ``pick`` keyed, their requests side by side through ``calls``
    (one after another without), holding their locks; then record what happened in one
    transaction. None when there is none left."""
    session = open_session()
    try:
        item_ids = pick(session)
        if not item_ids:
            return None
        locked = _relock(session, run_id, item_ids)
        skipped: list[tuple[Outcome, str | None]] = [
            (Outcome.SKIPPED, None)] * (len(item_ids) - len(locked))
        if not locked:
            db.rollback(session)
            return skipped

        def send(pair: tuple[PayoutItem, PayoutAccount | None]) -> _Verdict:
            return _verdict(gateway, pacing, *pair)

        verdicts = calls(send, locked) if calls is not None else [send(p) for p in locked]
        return skipped + _record(session, [item for item, _ in locked], verdicts)
    except BaseException:
        db.rollback(session)
        raise
    finally:
        session.close()


def _verdict(gateway: PayoutGateway, pacing: Pacing, item: PayoutItem,
             account: PayoutAccount | None) -> _Verdict:
    """Ask the gateway for the item's transfer (the requests only: nothing is written
    here, so that a batch's requests can go side by side)."""
    refusal = _not_sendable(account)
    key_created = clock.as_utc(item.key_created_at) if item.key_created_at else clock.now()
    try:
        transfer = None
        # Look first when the gateway may have forgotten the key, when the key replaced
        # one the gateway refused for good, and when the account changed after the key
        # was saved (a crash may have left a transfer made before the change).
        if (refusal is not None or item.attempts > 1
                or clock.now() - key_created >= KEY_TRUSTED_FOR):
            transfer = _find(gateway, pacing, item)
        if transfer is None and refusal is not None:
            return _Verdict(Outcome.FAILED, code=refusal[0], message=refusal[1])
        if transfer is None:
            assert account is not None and account.stripe_account_id is not None
            destination = account.stripe_account_id
            transfer = _with_retries(pacing, lambda: gateway.create_transfer(
                amount=item.amount, currency=item.currency, destination=destination,
                transfer_group=keys.transfer_group(item.id),
                metadata={"payout_item_id": str(item.id), "run_id": str(item.run_id)},
                idempotency_key=item.idempotency_key,  # type: ignore[arg-type]
            ))
    except InsufficientBalance as exc:
        return _Verdict(Outcome.HALTED, error=exc)
    except GatewayError as exc:
        if exc.retryable:
            return _Verdict(Outcome.DEFERRED, error=exc)
        return _refused(gateway, pacing, item, exc)
    return _Verdict(Outcome.PAID, transfer=transfer)


def _refused(gateway: PayoutGateway, pacing: Pacing, item: PayoutItem,
             exc: GatewayError) -> _Verdict:
    """The gateway refused for good. Before the money goes back to payable, make sure no
    transfer exists for the item: an earlier request may have made one (a crash, then
    the same key sent with other parameters is refused as an idempotency error)."""
    try:
        found = _find(gateway, pacing, item)
    except GatewayError as lookup:
        return _Verdict(Outcome.DEFERRED, error=lookup)
    if found is not None:
        return _Verdict(Outcome.PAID, transfer=found)
    return _Verdict(Outcome.FAILED, code=exc.code, message=exc.message)


def _record(session: Session, items: list[PayoutItem],
            verdicts: list[_Verdict]) -> list[tuple[Outcome, str | None]]:
    """Record the batch's outcomes, still under the items' locks: the paid and the
    failed in one transaction; then a note on each deferred item, and a halt for an
    insufficient balance (nothing written for those items)."""
    step_reached("after_gateway")
    payments = []
    for item, verdict in zip(items, verdicts, strict=True):
        if verdict.outcome is Outcome.PAID:
            assert verdict.transfer is not None
            _check_matches(item, verdict.transfer)
            payments.append(outcomes.Payment(item, verdict.transfer))
        elif verdict.outcome is Outcome.FAILED:
            outcomes.record_failed(session, item, code=verdict.code, message=verdict.message)
    outcomes.record_paid_many(session, payments)
    session.flush()
    step_reached("before_commit")
    db.commit(session)
    step_reached("after_commit")
    handled: list[tuple[Outcome, str | None]] = []
    for item, verdict in zip(items, verdicts, strict=True):
        if verdict.outcome is Outcome.DEFERRED:
            assert verdict.error is not None
            _note_retryable(session, item.id, verdict.error)
            handled.append((Outcome.DEFERRED, None))
        elif verdict.outcome is Outcome.HALTED:
            assert verdict.error is not None
            handled.append((Outcome.HALTED, _halt(session, item.id, verdict.error)))
        else:
            handled.append((verdict.outcome, None))
    return handled


def _check_matches(item: PayoutItem, transfer: Transfer) -> None:
    if transfer.amount != item.amount or transfer.currency != item.currency:
        # Never expected (the key and group are the item's own); finance must look.
        log.error("transfer does not match its payout item", extra={
            "payout_item_id": str(item.id), "transfer_id": transfer.id})


def _not_sendable(account: PayoutAccount | None) -> tuple[str, str] | None:
    """Why the item cannot go out now: the account changed since the run was approved."""
    now = clock.now()
    if account is None or not account_ready(
        account.method, account.payouts_enabled, account.stripe_account_id,
        account.bank_details,
    ) or account.method is not PayoutMethod.STRIPE:
        return "account_not_ready", "The payout account cannot receive payouts now."
    if payout_accounts.on_hold(account, now):
        return "account_on_hold", (
            "The payout details changed recently; payouts are held until "
            f"{clock.as_utc(account.hold_until).isoformat()}."
        )
    return None


def _find(gateway: PayoutGateway, pacing: Pacing, item: PayoutItem) -> Transfer | None:
    return _with_retries(
        pacing, lambda: gateway.find_transfer(transfer_group=keys.transfer_group(item.id))
    )


def _with_retries(pacing: Pacing, request: Callable[[], Any]) -> Any:
    attempt = 1
    while True:
        pacing.bucket.acquire()
        try:
            return request()
        except InsufficientBalance:
            raise
        except GatewayError as exc:
            if not exc.retryable or attempt >= pacing.max_attempts:
                raise
            log.warning("gateway error, retrying", extra={
                "code": exc.code, "status": exc.status, "attempt": attempt})
            pacing.sleep(backoff(attempt))
            attempt += 1


def _halt(session: Session, item_id: uuid.UUID, exc: GatewayError) -> str:
    """Stop the run: nothing was written for the item. Its key is dropped because the
    gateway would answer it with the same refusal after a top-up; the next attempt
    looks for a transfer first and then uses a new key."""
    reason = f"Insufficient platform balance: {exc.message}"
    item = session.scalars(
        select(PayoutItem).where(PayoutItem.id == item_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    item.idempotency_key = None
    item.key_created_at = None
    run = session.scalars(
        select(PayoutRun).where(PayoutRun.id == item.run_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if run.halted_reason is not None:
        # Another sender halted the run first and told finance; one alert is enough.
        db.commit(session)
        return run.halted_reason
    run.halted_reason = reason
    audit.record(
        session, PROCESSOR, "payout_run.halted", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id, after={"halted_reason": reason,
                                                     "payout_item_id": item_id},
    )
    notify_finance(
        session, run.organisation_id, "payout_run.halted", {"message": exc.message},
        {"run_id": str(run.id), "payout_item_id": str(item_id), "code": exc.code},
    )
    db.commit(session)
    log.error("payout run halted", extra={"run_id": str(run.id), "reason": reason})
    return reason


def _note_retryable(session: Session, item_id: uuid.UUID, exc: GatewayError) -> None:
    """Say on the item, still approved, why it waits for the next pass. Under its lock:
    another processor that took it meanwhile (and may have paid it) is left alone."""
    item = session.get(PayoutItem, item_id, populate_existing=True,
                       with_for_update={"skip_locked": True})
    if item is not None and item.state is ItemState.APPROVED:
        item.failure_code = exc.code[:100]
        item.failure_message = f"Will retry: {exc.message}"
        db.commit(session)
