"""Benchmark 3: building a payout run (one item per trainer owed enough, an exclusion
with its reason for everyone else) from the ledger; the floor is one
``INSERT ... SELECT ... GROUP BY`` doing the same aggregation over the postings in SQL.

Each build runs in its own interpreter, so its peak memory is its own; both are rolled
back afterwards, so the benchmark can be repeated on the same data. Memory is compared
between organisation 2 (a tenth of the trainers) and organisation 1 (all of them): it
must not grow with the number of trainers.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import timedelta

import psycopg

from bench.stats import load
from bench.subprocesses import peak_rss_mb, run_child

FLOOR_SQL = """
WITH run AS (
    INSERT INTO payout_runs (id, schedule_id, organisation_id, period_end, state,
                             created_at, updated_at)
    SELECT gen_random_uuid(), s.id, s.organisation_id, %(end)s, 'preview', now(), now()
    FROM payout_schedules s WHERE s.organisation_id = %(org)s
    RETURNING id
)
INSERT INTO payout_items (id, run_id, organisation_id, trainer_id, payout_account_id, method,
                          amount, currency, state, attempts, created_at, updated_at)
SELECT gen_random_uuid(), (SELECT id FROM run), a.organisation_id, a.owner_id, pa.id,
       pa.method, owed.available, a.currency, 'pending', 0, now(), now()
FROM (
    SELECT p.account_id,
           -sum(p.amount) FILTER (WHERE p.amount > 0 OR p.available_at IS NULL
                                        OR p.available_at <= %(end)s) AS available
    FROM postings p JOIN ledger_accounts a ON a.id = p.account_id
    WHERE a.organisation_id = %(org)s AND a.owner_type = 'trainer' AND a.kind = 'payable'
    GROUP BY p.account_id
) owed
JOIN ledger_accounts a ON a.id = owed.account_id
JOIN payout_accounts pa ON pa.trainer_id = a.owner_id
WHERE owed.available >= 1000
  AND ((pa.method = 'manual' AND pa.bank_details <> '{}'::jsonb)
       OR (pa.method = 'stripe' AND pa.payouts_enabled AND pa.stripe_account_id IS NOT NULL))
  AND (pa.hold_until IS NULL OR pa.hold_until <= now())
"""


def org_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"0a000000-0000-4000-8000-{n:012x}")


def child_workforce(url: str, org: int) -> dict:
    from sqlalchemy import select

    from workforce import clock
    from workforce.billing import payouts
    from workforce.billing.models import PayoutSchedule
    from workforce.db import Database

    database = Database(url)
    session = database.session()
    schedule = session.scalars(
        select(PayoutSchedule).where(PayoutSchedule.organisation_id == org_id(org))).one()
    # A period of its own, so no existing run answers instead of a new build.
    period_end = clock.now() - timedelta(microseconds=time.time_ns() % 10**6)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    run, created = payouts.ensure_run(session, payouts.SCHEDULER, schedule, period_end)
    session.flush()
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()
    view = payouts.run_view(session, run)
    session.rollback()
    session.close()
    return {"seconds": elapsed, "peak_rss_mb": peak, "rss_growth_mb": peak - baseline,
            "created": created, "items": sum(t["items"] for t in view["totals"])}


def child_floor(url: str, org: int) -> dict:
    baseline = peak_rss_mb()
    with psycopg.connect(url) as conn:
        from datetime import UTC, datetime
        end = datetime.now(UTC) - timedelta(microseconds=time.time_ns() % 10**6)
        started = time.perf_counter()
        items = conn.execute(FLOOR_SQL, {"org": org_id(org), "end": end}).rowcount
        elapsed = time.perf_counter() - started
        conn.rollback()
    return {"seconds": elapsed, "items": items, "peak_rss_mb": peak_rss_mb(),
            "rss_growth_mb": peak_rss_mb() - baseline}


def bench(sqlalchemy_url: str, psycopg_url: str, log=print) -> dict:
    results = {}
    for org, label in ((2, "tenth"), (1, "all")):
        before = load()[0]
        wf = run_child("bench.payout_build", "workforce", sqlalchemy_url, str(org))
        fl = run_child("bench.payout_build", "floor", psycopg_url, str(org))
        results[label] = {"workforce": wf, "floor": fl, "load_before": round(before, 2),
                          "ratio": round(wf["seconds"] / fl["seconds"], 2)}
        log(f"  {label} trainers: workforce {wf['seconds']:.2f} s (peak {wf['peak_rss_mb']:.0f}"
            f" MB, +{wf['rss_growth_mb']:.1f} MB) floor {fl['seconds']:.2f} s "
            f"({fl['items']} items) ratio {results[label]['ratio']}")
    return {"orgs": results,
            "memory_growth_mb": round(results["all"]["workforce"]["rss_growth_mb"]
                                      - results["tenth"]["workforce"]["rss_growth_mb"], 1),
            "target": "workforce time <= 2 x floor; peak memory not growing with trainers"}


if __name__ == "__main__":
    kind, url, org_n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    outcome = child_workforce(url, org_n) if kind == "workforce" else child_floor(url, org_n)
    print(json.dumps(outcome, default=str))
