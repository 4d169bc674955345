"""Benchmark 5: importing tasks from a JSON-lines file; the floor is PostgreSQL ``COPY``
of the same rows (the same file read line by line, each line parsed and handed to
``COPY tasks ... FROM STDIN`` through psycopg, with no checks and no duplicate handling).

Both run in an interpreter of their own (their own peak memory) inside a transaction
that is rolled back, so the benchmark repeats on the same data. Memory is compared
between a file of a quarter of the rows and the whole file: it must not grow with it.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from bench import generate
from bench.stats import load
from bench.subprocesses import peak_rss_mb, run_child

PROJECT = 3


def write_file(path: Path, rows: int) -> None:
    """``rows`` tasks as the import format documents them (a tenth with a gold answer)."""
    with path.open("w") as out:
        for k in range(rows):
            task = {"external_id": f"import-{k}",
                    "payload": {"prompt": f"Which accent is this? #{k}",
                                "media_urls": [f"https://media.example.com/clips/{k}.ogg"],
                                "instructions": "Listen to the whole clip."},
                    "redundancy": 1 + k % 3, "priority": k % 5}
            if k % 10 == 0:
                task["gold_answer"] = {"label": "yue-HK"}
            out.write(json.dumps(task) + "\n")


def child_workforce(url: str, path: str) -> dict:
    from sqlalchemy import select

    import workforce.models  # noqa: F401 - every mapper
    from workforce.accounts.models import User
    from workforce.db import Database
    from workforce.projects import imports
    from workforce.projects.models import Project

    database = Database(url)
    session = database.session()
    project = session.get(Project, uuid.UUID(generate.seq_project(PROJECT)))
    staff = session.scalars(select(User).where(User.id == project.created_by_id)).one()
    baseline = peak_rss_mb()
    started = time.perf_counter()
    with open(path, "rb") as body:
        report = imports.import_tasks(session, staff, project.id, body,
                                      fmt=imports.ImportFormat.JSONL)
    session.flush()
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()
    session.rollback()
    session.close()
    return {"rows": report.created, "seconds": elapsed, "rows_per_second": report.created
            / elapsed, "peak_rss_mb": peak, "rss_growth_mb": peak - baseline}


def child_floor(url: str, path: str) -> dict:
    baseline = peak_rss_mb()
    project = uuid.UUID(generate.seq_project(PROJECT))
    now = datetime.now(UTC)
    rows = 0
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            "COPY tasks (id, project_id, external_id, payload, redundancy, priority,"
            " gold_answer, open_slots, created_at, updated_at) FROM STDIN"
        ) as copy, open(path, "rb") as body:
            for line in body:
                task = json.loads(line)
                at = now + timedelta(microseconds=rows)
                copy.write_row((uuid.uuid4(), project, task["external_id"],
                                Jsonb(task["payload"]), task["redundancy"], task["priority"],
                                Jsonb(task.get("gold_answer")), task["redundancy"], at, at))
                rows += 1
        elapsed = time.perf_counter() - started
        conn.rollback()
    peak = peak_rss_mb()
    return {"rows": rows, "seconds": elapsed, "rows_per_second": rows / elapsed,
            "peak_rss_mb": peak, "rss_growth_mb": peak - baseline}


def bench(sqlalchemy_url: str, psycopg_url: str, rows: int, workdir: Path, log=print) -> dict:
    results = {}
    for label, count in (("quarter", max(1, rows // 4)), ("all", rows)):
        path = workdir / f"tasks-{count}.jsonl"
        if not path.exists():
            write_file(path, count)
        before = load()[0]
        wf = run_child("bench.task_import", "workforce", sqlalchemy_url, str(path))
        fl = run_child("bench.task_import", "floor", psycopg_url, str(path))
        results[label] = {"rows": count, "file_mb": round(path.stat().st_size / 2**20, 1),
                          "workforce": wf, "floor": fl, "load_before": round(before, 2),
                          "ratio": round(wf["rows_per_second"] / fl["rows_per_second"], 3)}
        log(f"  {count} rows: workforce {wf['rows_per_second']:.0f} rows/s (+"
            f"{wf['rss_growth_mb']:.1f} MB) COPY {fl['rows_per_second']:.0f} rows/s (+"
            f"{fl['rss_growth_mb']:.1f} MB) ratio {results[label]['ratio']}")
    return {"files": results,
            "memory_growth_mb": round(results["all"]["workforce"]["rss_growth_mb"]
                                      - results["quarter"]["workforce"]["rss_growth_mb"], 1),
            "target": "workforce >= 0.25 x COPY rows/s; memory not growing with the file"}


if __name__ == "__main__":
    kind, url, file = sys.argv[1], sys.argv[2], sys.argv[3]
    outcome = child_workforce(url, file) if kind == "workforce" else child_floor(url, file)
    print(json.dumps(outcome, default=str))
