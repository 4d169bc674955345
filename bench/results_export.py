"""Benchmark: a project's results exported as JSON lines (``results.exports``), beside
the floor of PostgreSQL ``COPY (SELECT ...) TO STDOUT`` producing the same rows (a JSON
object per task with its approved answers, in the same order) with no Python at all.

    python -m bench.results_export --rows 1000000          # about 4 minutes to generate
    python -m bench.results_export --rows 1000000 --reuse  # on the kept database

Its own database (``workforce_bench_results``, kept for ``--reuse``): one organisation,
1,000 trainers, two projects with a single-choice template, one of a tenth of the rows
and one of all of them, each task answered and approved by three trainers. Both sides
run in an interpreter of their own and read the whole stream, writing nothing; memory is
compared between the tenth and the whole: it must not grow with the project.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import click
import psycopg

from bench import database
from bench.generate import seq_uuid
from bench.stats import load, machine
from bench.subprocesses import peak_rss_mb, run_child

NAME = "workforce_bench_results"
ORG = "0b000000-0000-4000-8000-000000000001"
MANAGER = "5b000000-0000-4000-8000-000000000001"
TRAINERS = 1000
PER_TASK = 3
FIELDS = ('[{"name": "accent", "label": "Accent", "help": "", "kind": "single_choice", '
          '"required": true, "show_if": null, "settings": {"options": ['
          '{"value": "yue-HK", "label": "Hong Kong"}, {"value": "yue-CN", "label": '
          '"Guangzhou"}], "none_of_these": false}}]')


def project_id(n: int) -> str:
    return f"9b000000-0000-4000-8000-{n:012x}"


def _statements(rows: int) -> list[str]:
    tenth = max(1, rows // 10)
    trainer = seq_uuid("7b000000", "n")
    statements = [
        f"""INSERT INTO organisations (id, name, slug, created_at, updated_at)
            VALUES ('{ORG}', 'Results bench', 'results-bench', now(), now())""",
        f"""INSERT INTO users (id, email, password_hash, display_name, role, organisation_id,
                country, timezone, languages, is_active, created_at, updated_at)
            VALUES ('{MANAGER}', 'manager@results.bench', 'no-login', 'Manager',
                    'vendor_manager', '{ORG}', 'US', 'UTC', '["en"]', true, now(), now())""",
        f"""INSERT INTO users (id, email, password_hash, display_name, role, organisation_id,
                country, timezone, languages, is_active, created_at, updated_at)
            SELECT {trainer}, 'trainer' || n || '@results.bench', 'no-login',
                   'Trainer ' || n, 'trainer', NULL, 'US', 'UTC', '["en"]', true, now(), now()
            FROM generate_series(1, {TRAINERS}) n""",
    ]
    for n, count in ((1, tenth), (2, rows)):
        project = project_id(n)
        task = seq_uuid(f"8b00000{n}", "k")
        statements += [
            f"""INSERT INTO projects (id, organisation_id, name, description, state, capacity,
                    sensitivity, content_categories, auto_approve_days, review_sample_percent,
                    lease_seconds, pay_model, currency, estimated_task_seconds,
                    idle_timeout_seconds, created_by_id, activated_at, created_at, updated_at)
                VALUES ('{project}', '{ORG}', 'Results {n}', '', 'active', 1000000, 'none',
                        '[]', 7, 100, 3600, 'per_task', 'USD', 60, 900, '{MANAGER}',
                        now() - interval '60 days', now() - interval '60 days', now())""",
            f"""INSERT INTO project_templates (id, project_id, number, fields, change_note,
                    created_by_id, created_at)
                VALUES (gen_random_uuid(), '{project}', 1, '{FIELDS}', '', '{MANAGER}',
                        now() - interval '60 days')""",
            f"""INSERT INTO tasks (id, project_id, external_id, payload, redundancy, priority,
                    gold_answer, open_slots, created_at, updated_at)
                SELECT {task}, '{project}', 'clip-' || k,
                       jsonb_build_object('prompt', 'Which accent is this? #' || k),
                       {PER_TASK}, 0, 'null', 0,
                       now() - interval '40 days' + interval '1 millisecond' * k, now()
                FROM generate_series(1, {count}) k""",
            # The results stamp: the last approval's time (as the approvals below).
            f"""INSERT INTO task_results (task_id, project_id, stamp)
                SELECT {task}, '{project}', now() - interval '30 days' + interval '1 second' * k
                           + interval '1 millisecond' * {PER_TASK}
                FROM generate_series(1, {count}) k""",
            f"""INSERT INTO task_assignments (id, task_id, project_id, trainer_id, state,
                    claimed_at, revealed_at, lease_expires_at, submitted_at, answer,
                    active_seconds, sampled, reviewed_at, auto_approved, revisions,
                    created_at, updated_at)
                SELECT gen_random_uuid(), {task}, '{project}',
                       {seq_uuid('7b000000', f'((k * {PER_TASK} + j) % {TRAINERS}) + 1')},
                       'approved', at - interval '1 hour', at - interval '1 hour', at, at,
                       jsonb_build_object('accent',
                                          CASE WHEN (k + j) % 4 = 0 THEN 'yue-CN'
                                               ELSE 'yue-HK' END),
                       60, true, at, false, 0, at, at
                FROM generate_series(1, {count}) k, generate_series(1, {PER_TASK}) j,
                     LATERAL (SELECT now() - interval '30 days'
                                     + interval '1 second' * k
                                     + interval '1 millisecond' * j AS at) t""",
        ]
    return statements


def generate(rows: int, log=print) -> None:
    database.create(NAME)
    url = database.psycopg_url(NAME)
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET session_replication_role = replica")
        for statement in _statements(rows):
            conn.execute(statement)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"  generated {rows} + {rows // 10} tasks with {PER_TASK} approved answers each "
        f"in {time.perf_counter() - started:.0f} s ({database.size_of(NAME)})")


# --- the two sides, each in a process of its own -------------------------------------------


def child_workforce(url: str, project: str) -> dict:
    import workforce.models  # noqa: F401 - every mapper
    from workforce.db import Database
    from workforce.results import exports

    source = Database(url)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    rows = size = 0
    for chunk in exports.jsonl_lines(source.reading, uuid.UUID(project),
                                     secret="bench"):  # noqa: S106 - a fixed key
        rows += chunk.count("\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    return _figures(rows, size, elapsed, baseline)


def _figures(rows: int, size: int, elapsed: float, baseline: float) -> dict:
    peak = peak_rss_mb()
    return {"rows": rows, "mb": round(size / 2**20, 1), "seconds": round(elapsed, 2),
            "rows_per_second": round(rows / elapsed), "peak_rss_mb": round(peak, 1),
            "rss_growth_mb": round(peak - baseline, 1)}


FLOOR = """
COPY (
  SELECT json_build_object(
    'task_id', t.id, 'external_id', t.external_id, 'updated_at', r.stamp,
    'aggregates', json_build_object('accent', NULL),
    'answers', (SELECT json_agg(json_build_object(
                   'trainer', 'tr_' || left(md5(t.project_id::text || ':' || a.trainer_id), 16),
                   'template_version', 1, 'approved_at', a.reviewed_at, 'answer', a.answer)
                 ORDER BY a.reviewed_at, a.id)
                FROM task_assignments a WHERE a.task_id = t.id AND a.state = 'approved'))
  FROM task_results r JOIN tasks t ON t.id = r.task_id
  WHERE r.project_id = '{project}'
  ORDER BY r.stamp, r.task_id
) TO STDOUT"""


def child_floor(url: str, project: str) -> dict:
    baseline = peak_rss_mb()
    rows = size = 0
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(FLOOR.format(project=project)) as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")
                size += len(block)
        elapsed = time.perf_counter() - started
    return _figures(rows, size, elapsed, baseline)


def bench(log=print) -> dict:
    results = {}
    for label, n in (("tenth", 1), ("all", 2)):
        before = load()[0]
        wf = run_child("bench.results_export", "workforce", database.sqlalchemy_url(NAME),
                       project_id(n))
        fl = run_child("bench.results_export", "floor", database.psycopg_url(NAME),
                       project_id(n))
        results[label] = {"workforce": wf, "floor": fl, "load_before": round(before, 2),
                          "ratio": round(wf["rows_per_second"] / fl["rows_per_second"], 3)}
        log(f"  {label}: {wf['rows']} rows, workforce {wf['rows_per_second']} rows/s "
            f"(+{wf['rss_growth_mb']} MB), COPY {fl['rows_per_second']} rows/s "
            f"(+{fl['rss_growth_mb']} MB), ratio {results[label]['ratio']}")
    return {"projects": results,
            "memory_growth_mb": round(results["all"]["workforce"]["rss_growth_mb"]
                                      - results["tenth"]["workforce"]["rss_growth_mb"], 1),
            "target": "workforce >= 1/3 x COPY rows/s; memory not growing with the project"}


@click.command()
@click.option("--rows", default=1_000_000, show_default=True)
@click.option("--reuse", is_flag=True, help="Run on the kept database.")
@click.option("--drop", "drop_after", is_flag=True, help="Drop the database afterwards.")
def main(rows: int, reuse: bool, drop_after: bool) -> None:
    """Generate (unless --reuse) and run the results export benchmark."""
    if not reuse:
        generate(rows, log=click.echo)
    else:
        database.migrate(NAME)
    outcome = {"machine": machine(), "rows": rows, **bench(log=click.echo)}
    target = Path("var/bench/results-export.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(outcome, indent=2, default=str))
    click.echo(f"written to {target}")
    if drop_after:
        database.drop(NAME)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("workforce", "floor"):
        side = child_workforce if sys.argv[1] == "workforce" else child_floor
        print(json.dumps(side(sys.argv[2], sys.argv[3])))
    else:
        main()
