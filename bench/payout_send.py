"""Benchmark 4: sending a payout run's items to the Stripe stand-in, which answers each
request after 50 ms and refuses more than 100 requests a second (Stripe's live limit)
with 429, as Stripe does. The processor is set to that limit.

- ``workforce``: ``processing.process_run`` with ``payout_concurrency`` requests in
  flight (senders of a batch of four each), on the run of organisation 3 (of the
  ``send_items`` trainers paid through Stripe);
- ``one sender``: the same with a single sender (as before senders worked side by side),
  on the run of organisation 4 (a fifth as many items);
- ``floor``: the same number of threads sending the same transfers straight through the
  gateway under the same token bucket, with no database at all.

Target: at least 90 percent of the limit. Afterwards: one transfer per item at the
stand-in, every item paid, and no request refused for the rate.

Beside each figure: the load averages (``uptime``) before and after, and the CPU time
this process spent an item (``getrusage``: every thread of the processor or the floor;
the stand-in runs in a session of its own). ``load`` (``python -m bench run --load N``)
starts that many CPU burners for the benchmark (``bench/load.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid

import psycopg
from sqlalchemy import func, select

import workforce.models  # noqa: F401 - every mapper, before the first query
from bench import generate
from bench.load import burning, uptime
from bench.payout_build import org_id
from bench.subprocesses import ROOT

LIMIT = 100
LATENCY = 0.05


def _attach_accounts(url: str, accounts: list[str], size) -> None:
    """Give the last ``send_items`` trainers a ready Stripe account at the stand-in."""
    first = size.trainers - size.send_items + 1
    ids = [generate.trainer_id(n) for n in range(first, size.trainers + 1)]
    with psycopg.connect(url) as conn:
        conn.execute(
            """UPDATE payout_accounts p SET stripe_account_id = v.account,
                   payouts_enabled = true, method = 'stripe', hold_until = NULL
               FROM unnest(%s::uuid[], %s::text[]) AS v(trainer, account)
               WHERE p.trainer_id = v.trainer""", [ids, accounts[:len(ids)]])


def _standin(accounts: int) -> tuple[subprocess.Popen, dict]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.standin_server", "--latency", str(LATENCY),
         "--rate-limit", str(LIMIT), "--accounts", str(accounts)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        # A session of its own: with Linux's autogroup scheduling (on by default) CPU
        # is shared between sessions, and Stripe's work is not done on the processor's
        # machine; in the processor's session its 1 ms an item counted against it.
        start_new_session=True)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def _refused(process: subprocess.Popen) -> int:
    """The requests the stand-in refused for the rate so far."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("refused\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())["refused_for_rate"]


def _report(process: subprocess.Popen) -> dict:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("report\n")
    process.stdin.flush()
    report = json.loads(process.stdout.readline())
    process.wait(timeout=30)
    return report


def _approved_run(database, org: int) -> uuid.UUID:
    from workforce import clock
    from workforce.billing import payouts
    from workforce.billing.models import PayoutSchedule

    with database.session() as session:
        schedule = session.scalars(
            select(PayoutSchedule).where(PayoutSchedule.organisation_id == org_id(org))).one()
        run, _ = payouts.ensure_run(session, payouts.SCHEDULER, schedule, clock.now())
        payouts.approve_run(session, payouts.SCHEDULER, run.id,
                            organisation_id=run.organisation_id)
        session.commit()
        return run.id


def _reset_org(database, org: int) -> None:
    """Make the organisation's trainers owed again after an earlier run of the benchmark:
    a new earning each, posted like any other (so the ledger stays balanced)."""
    from workforce.billing import ledger
    from workforce.billing.models import AccountKind, LedgerAccount, OwnerType, SourceType

    with database.session() as session:
        accounts = list(session.scalars(select(LedgerAccount).where(
            LedgerAccount.organisation_id == org_id(org),
            LedgerAccount.owner_type == OwnerType.TRAINER,
            LedgerAccount.kind == AccountKind.PAYABLE, LedgerAccount.balance == 0)))
        if not accounts:
            return
        expense = ledger.organisation_account(session, org_id(org),
                                              AccountKind.EXPENSE, "USD")
        for account in accounts:
            ledger.post(session, source_type=SourceType.BONUS, source_id=uuid.uuid4(),
                        reason="Benchmark rerun", organisation_id=account.organisation_id,
                        trainer_id=account.owner_id,
                        legs=[ledger.Leg(expense, 1500), ledger.Leg(account, -1500)])
        session.commit()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def _measured(figures: dict):
    """Add the load before and after and the CPU time an item to ``figures``."""
    figures["load_before"] = uptime()
    cpu = _cpu()
    yield figures
    spent = _cpu() - cpu
    figures["cpu_ms_per_item"] = round(spent * 1000 / max(1, figures.get("items") or 1), 2)
    figures["load_after"] = uptime()


def _send(database, run_id: uuid.UUID, gateway, concurrency: int) -> dict:
    from workforce.billing import processing

    figures: dict = {"senders": concurrency}
    with _measured(figures):
        started = time.perf_counter()
        result = processing.process_run(database, run_id, gateway, rate=LIMIT,
                                        concurrency=concurrency)
        elapsed = time.perf_counter() - started
        figures |= {"items": result.paid, "failed": result.failed,
                    "deferred": result.deferred, "seconds": round(elapsed, 2),
                    "per_second": round(result.paid / elapsed, 1),
                    "share_of_limit": round(result.paid / elapsed / LIMIT, 3)}
    return figures


def _floor(gateway, accounts: list[str], items: int, concurrency: int) -> dict:
    from workforce.billing.gateways import GatewayError
    from workforce.billing.processing import TokenBucket, backoff

    bucket = TokenBucket(LIMIT, burst=1)  # as the processor paces itself
    counter = iter(range(items))
    lock = threading.Lock()

    def sender(account: str) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            key = f"floor-{uuid.uuid4()}"
            for attempt in range(1, 20):
                bucket.acquire()
                try:
                    gateway.create_transfer(amount=1000, currency="usd", destination=account,
                                            transfer_group=key, metadata={"n": str(n)},
                                            idempotency_key=key)
                    break
                except GatewayError as exc:  # 429: wait as the processor does, retry
                    if not exc.retryable:
                        raise
                    time.sleep(backoff(attempt))

    threads = [threading.Thread(target=sender, args=(accounts[n % len(accounts)],))
               for n in range(concurrency)]
    figures: dict = {"items": items}
    with _measured(figures):
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        figures |= {"seconds": round(elapsed, 2), "per_second": round(items / elapsed, 1),
                    "share_of_limit": round(items / elapsed / LIMIT, 3)}
    return figures


def bench(sqlalchemy_url: str, psycopg_url: str, size, concurrency: int, log=print, *,
          load: int = 0) -> dict:
    """The three figures; with ``load`` CPU burners running (``bench/load.py``)."""
    with burning(load):
        return _bench(sqlalchemy_url, psycopg_url, size, concurrency, log)


def _bench(sqlalchemy_url: str, psycopg_url: str, size, concurrency: int, log) -> dict:
    from workforce.billing.gateways.stripe import StripeGateway
    from workforce.billing.models import ItemState, PayoutItem
    from workforce.db import Database

    process, started = _standin(size.send_items)
    try:
        gateway = StripeGateway("sk_test_bench", started["url"], timeout=30)
        database = Database(sqlalchemy_url)
        _attach_accounts(psycopg_url, started["accounts"], size)
        for org in (3, 4):
            _reset_org(database, org)
        results = {}
        run_id = _approved_run(database, 3)
        refused = 0

        def refused_since() -> int:
            nonlocal refused
            before, refused = refused, _refused(process)
            return refused - before

        results["workforce"] = _send(database, run_id, gateway, concurrency)
        results["workforce"]["refused_for_rate"] = refused_since()
        log(f"  workforce, {concurrency} in flight: {results['workforce']}")
        sequential_run = _approved_run(database, 4)
        results["one_sender"] = _send(database, sequential_run, gateway, 1)
        results["one_sender"]["refused_for_rate"] = refused_since()
        log(f"  one sender: {results['one_sender']}")
        results["floor"] = _floor(gateway, started["accounts"],
                                  results["workforce"]["items"] or 1, concurrency)
        results["floor"]["refused_for_rate"] = refused_since()
        log(f"  floor (gateway only), {concurrency} threads: {results['floor']}")
        with database.session() as session:
            unpaid = session.scalar(select(func.count()).select_from(PayoutItem).where(
                PayoutItem.run_id.in_([run_id, sequential_run]),
                PayoutItem.state != ItemState.PAID))
        report = _report(process)
        per_item = report["transfers_per_item"]
        results["checks"] = {
            "transfers_for_items": sum(per_item.values()),
            "items_with_two_transfers": sum(1 for c in per_item.values() if c > 1),
            "unpaid_items": unpaid,
            "refused_for_rate": report["refused_for_rate"],
        }
        log(f"  checks: {results['checks']}")
        results["ratio_to_floor"] = round(
            results["workforce"]["per_second"] / results["floor"]["per_second"], 3)
        results["target"] = "workforce >= 90 items/s (90% of the 100/s limit)"
        return results
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
