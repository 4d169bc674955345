"""Benchmark 6: aggregating categorical answers (issue 16). The whole job
(``results.aggregate``: finding the changed project, reading its approved answers from
PostgreSQL, Dawid-Skene, writing one aggregate per task, the watermark) against the
floor: crowd-kit's own ``DawidSkene.fit_predict_proba`` on a DataFrame already in
memory (the same answers, read before the clock starts). Target: within 1.5x the floor,
in time and in peak memory. Each side runs in an interpreter of its own, and each has
crowd-kit imported before its clock starts, as the scheduler's process has it (it
imports crowd-kit when it starts); ``--cold`` puts the import in the job's time.

    python -m bench.aggregation --answers 1000000            # the issue's size
    python -m bench.aggregation --answers 90000 --keep       # quick; keep the database

The data: one project with a single-choice template (3 labels), answers/3 tasks, each
answered (approved) by 3 of 2,000 trainers; 70% of the trainers are right 90% of the
time, the others half the time. The database is ``workforce_bench_aggregation`` on
``WORKFORCE_BENCH_SERVER``; it is dropped after the run unless ``--keep``. Figures go to
``var/bench/aggregation-<answers>.json``; bench/RESULTS.md records them by hand.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click
import psycopg

from bench import database
from bench.generate import seq_uuid
from bench.stats import load, machine
from bench.subprocesses import ROOT, peak_rss_mb, run_child

# Another name through the environment: engineers sharing a server each use their own.
NAME = os.environ.get("WORKFORCE_BENCH_AGGREGATION_DB", "workforce_bench_aggregation")
TRAINERS = 2_000
PROJECT = "9b000000-0000-4000-8000-000000000001"
ORG = "0b000000-0000-4000-8000-000000000001"
MANAGER = "5b000000-0000-4000-8000-000000000001"
APPROVED = "now() - interval '9 days'"  # the approvals' time, in SQL
FIELDS = [{"name": "accent", "label": "Accent", "kind": "single_choice", "help": "",
           "required": True, "show_if": None,
           "settings": {"options": [{"value": f"l{k}", "label": f"Label {k}"}
                                    for k in range(3)], "none_of_these": False}}]


def generate(url: str, answers: int) -> None:
    tasks = answers // 3
    trainer = seq_uuid("7b000000", "n")
    task = seq_uuid("3b000000", "t")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.16)")
        conn.execute(f"""INSERT INTO organisations (id, name, slug, created_at, updated_at)
            VALUES ('{ORG}', 'Bench aggregation', 'bench-aggregation', now(), now())""")
        conn.execute(f"""INSERT INTO users (id, email, password_hash, display_name, role,
                organisation_id, country, timezone, languages, is_active, created_at,
                updated_at)
            VALUES ('{MANAGER}', 'manager@bench.example', 'no-login', 'Manager',
                    'vendor_manager', '{ORG}', 'US', 'UTC', '["en"]', true, now(), now())""")
        conn.execute(f"""INSERT INTO users (id, email, password_hash, display_name, role,
                organisation_id, country, timezone, languages, is_active, created_at,
                updated_at)
            SELECT {trainer}, 'trainer' || n || '@bench.example', 'no-login', 'T' || n,
                   'trainer', NULL, 'US', 'UTC', '["en"]', true, now(), now()
            FROM generate_series(1, {TRAINERS}) n""")
        conn.execute(f"""INSERT INTO projects (id, organisation_id, name, description, state,
                capacity, sensitivity, content_categories, auto_approve_days,
                review_sample_percent, lease_seconds, pay_model, currency,
                estimated_task_seconds, idle_timeout_seconds, created_by_id, activated_at,
                created_at, updated_at)
            VALUES ('{PROJECT}', '{ORG}', 'Bench aggregation', '', 'active', 1000000, 'none',
                    '[]', 7, 100, 3600, 'per_task', 'USD', 60, 900, '{MANAGER}',
                    now() - interval '60 days', now() - interval '60 days', now())""")
        conn.execute("""INSERT INTO project_templates (id, project_id, number, fields,
                change_note, created_by_id, created_at)
            VALUES (gen_random_uuid(), %s, 1, %s, '', %s, now() - interval '30 days')""",
                     [PROJECT, json.dumps(FIELDS), MANAGER])
        conn.execute(f"""INSERT INTO tasks (id, project_id, external_id, payload, redundancy,
                priority, open_slots, created_at, updated_at)
            SELECT {task}, '{PROJECT}', 'agg-' || t, '{{"prompt": "Which accent?"}}', 3, 0, 0,
                   now() - interval '20 days', now()
            FROM generate_series(1, {tasks}) t""")
        # Each task's results stamp: its last approval's.
        conn.execute(f"""INSERT INTO task_results (task_id, project_id, stamp)
            SELECT {task}, '{PROJECT}', {APPROVED} + interval '2 seconds'
            FROM generate_series(1, {tasks}) t""")
        # Trainer n is careful (right 90% of the time) unless n % 10 >= 7 (half the time).
        worker = f"((t * 3 + s) % {TRAINERS}) + 1"
        conn.execute(f"""INSERT INTO task_assignments (id, task_id, project_id, trainer_id,
                state, claimed_at, revealed_at, lease_expires_at, submitted_at, answer,
                active_seconds, sampled, auto_approved, revisions, reviewed_at, created_at,
                updated_at)
            SELECT gen_random_uuid(), {task}, '{PROJECT}',
                   {seq_uuid("7b000000", worker)}, 'approved',
                   now() - interval '10 days', now() - interval '10 days',
                   now() - interval '9 days', now() - interval '10 days',
                   jsonb_build_object('accent', 'l' || CASE
                       WHEN random() < CASE WHEN {worker} % 10 < 7 THEN 0.9 ELSE 0.5 END
                       THEN t % 3 ELSE (t + 1 + (random() < 0.5)::int) % 3 END),
                   60, false, true, 0, {APPROVED} + s * interval '1 second', now(), now()
            FROM generate_series(1, {tasks}) t, generate_series(0, 2) s""")
        reset(conn)


def reset(conn: psycopg.Connection) -> None:
    """The project as its approvals left it: no aggregates, its last approval's stamp
    ahead of the job's watermark (so the next run aggregates it); vacuumed, so that each
    run writes into the same table."""
    conn.execute("DELETE FROM task_aggregates")
    conn.execute("DELETE FROM project_aggregations")
    conn.execute(f"""INSERT INTO project_aggregations (project_id, methods, extra_slots,
            changed_at, answers_changed_at)
        VALUES ('{PROJECT}', '{{}}', 0, {APPROVED} + interval '2 seconds',
                {APPROVED} + interval '2 seconds')""")
    conn.execute("VACUUM ANALYZE")


def child_workforce(url: str, cold: bool = False) -> dict:
    import workforce.models  # noqa: F401 - every mapper
    from workforce.db import Database
    from workforce.results import methods
    from workforce.results.jobs import aggregate_changed

    if not cold:
        # As the scheduler's process has (it imports crowd-kit when it starts), and as
        # the floor's child has before its clock starts. ``--cold``: the job imports it.
        methods.warm_up()
    database_ = Database(url)
    baseline = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    projects = aggregate_changed(database_)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with database_.engine.connect() as conn:
        written = conn.exec_driver_sql("SELECT count(*) FROM task_aggregates").scalar()
    return {"projects": projects, "aggregates": written, "seconds": elapsed,
            "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}


def child_floor(url: str) -> dict:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    with psycopg.connect(url) as conn:
        rows = conn.execute("""SELECT task_id, trainer_id, answer ->> 'accent'
                               FROM task_assignments WHERE project_id = %s
                               AND state = 'approved'""", [PROJECT]).fetchall()
    # The floor's best case: ids as whole numbers (crowd-kit hashes them every iteration).
    tasks, workers = pd.factorize(pd.Series([r[0] for r in rows]))[0], \
        pd.factorize(pd.Series([r[1] for r in rows]))[0]
    frame = pd.DataFrame({"task": tasks, "worker": workers, "label": [r[2] for r in rows]})
    del rows, tasks, workers
    baseline = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    probas = DawidSkene(n_iter=100).fit_predict_proba(frame)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    # CPU seconds of this process (its threads too): less moved by other work on a
    # loaded machine than the time, though the job's side leaves out PostgreSQL's.
    return {"tasks": len(probas), "seconds": elapsed, "cpu_seconds": cpu,
            "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}


@click.command()
@click.option("--answers", default=1_000_000, show_default=True)
@click.option("--keep/--drop", default=False)
@click.option("--reuse", is_flag=True, help="Use the kept database (its aggregates cleared).")
@click.option("--rounds", default=2, show_default=True,
              help="Runs of each side (alternately); the fastest of each counts.")
@click.option("--cold", is_flag=True,
              help="The job's clock includes importing crowd-kit (a scheduler just "
                   "started); by default it is imported before, as for the floor.")
def main(answers: int, keep: bool, reuse: bool, rounds: int, cold: bool) -> None:
    """Generate, run the job and the floor, print and save the figures."""
    pg_url, sa_url = database.psycopg_url(NAME), database.sqlalchemy_url(NAME)
    generated = None
    try:
        if not (reuse and database.exists(NAME)):
            database.create(NAME)
            started = time.monotonic()
            generate(pg_url, answers)
            generated = round(time.monotonic() - started, 1)
            click.echo(f"generated {answers} answers in {generated} s")
        before = load()[0]
        floors, jobs = [], []
        # Alternately, the best of each: other work on a shared machine moves single runs
        # by a third.
        for _ in range(rounds):
            floors.append(run_child("bench.aggregation", "floor", pg_url))
            click.echo(f"  floor: {floors[-1]}")
            with psycopg.connect(pg_url, autocommit=True) as conn:
                reset(conn)
            jobs.append(run_child("bench.aggregation", "workforce-cold" if cold
                                  else "workforce", sa_url))
            click.echo(f"  job: {jobs[-1]}")
        floor = min(floors, key=lambda r: r["seconds"])
        job = min(jobs, key=lambda r: r["seconds"])
    finally:
        if not keep:
            database.drop(NAME)
    results = {"answers": answers, "generation_seconds": generated, "machine": machine(),
               "load_before": round(before, 2), "load_after": round(load()[0], 2),
               "rounds": {"workforce_seconds": [round(r["seconds"], 1) for r in jobs],
                          "floor_seconds": [round(r["seconds"], 1) for r in floors]},
               "workforce": job, "floor": floor,
               "crowd_kit_imported": "in the job's time" if cold else "before the clock",
               "time_ratio": round(job["seconds"] / floor["seconds"], 2),
               "memory_ratio": round(job["peak_rss_mb"] / floor["peak_rss_mb"], 2),
               "target": "job <= 1.5 x floor, in time and in peak memory",
               "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = ROOT / "var" / "bench" / f"aggregation-{answers}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    click.echo(f"time ratio {results['time_ratio']}, memory ratio "
               f"{results['memory_ratio']}; {out}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("workforce", "workforce-cold", "floor"):
        kind, url = sys.argv[1], sys.argv[2]
        print(json.dumps(child_floor(url) if kind == "floor"
                         else child_workforce(url, cold=kind == "workforce-cold"),
                         default=str))
    else:
        main()
