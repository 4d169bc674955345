"""Benchmark 1: claim the next task and submit it, many trainers at once, against
gunicorn on PostgreSQL; the floor is ``bench.floor`` on the same server in the same run.

The claim projects are reset first (the tasks earlier runs on a kept database took are
open again). Each client is one trainer (tokens from the generator) looping claim, then
submit, for a fixed time; a pair's latency is from sending the claim to the submit's
answer. At each client count, rounds alternate workforce, the two floors and a reference
(``ROUNDS`` of each, the time split between them), so all see the same machine load.
The second floor, ``stack`` (``bench.stack``), is workforce's own app, limiter and token
check running the floor's SQL with hand-built answers. Each round also reads the CPU the
database's backends spent (``/proc``), so a pair's cost to PostgreSQL, the figure that
decides how many trainers one database serves, is compared with the floor's.

The reference, ``machinery``, sends workforce two authenticated ``GET /api/v1/me`` per
pair: what every request costs before any work of its own (Flask-Limiter, the token
check, the session, flask-smorest and marshmallow, the request log), measured in the same
rounds. Its pairs per second bound what any claim and submit could reach.
Afterwards the database is checked: no task held or used by more trainers than its
redundancy, no trainer twice on a task, and every task's open slots equal to its
redundancy less the assignments holding a slot.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from bench import generate
from bench.stats import load, percentile

# Rounds per client count: workforce, the floor, workforce, ... each a share of the time.
ROUNDS = 3


@dataclass
class ClaimRun:
    system: str
    clients: int
    seconds: float
    pairs: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    # CPU time (user + system) of the PostgreSQL backends of the database meanwhile.
    db_seconds: float = 0.0

    def add(self, other: ClaimRun) -> None:
        """Count another round of the same system and client count in this run."""
        self.seconds += other.seconds
        self.pairs += other.pairs
        self.db_seconds += other.db_seconds
        self.latencies.extend(other.latencies)
        for key, count in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + count

    @property
    def throughput(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float | int | str]:
        return {
            "system": self.system, "clients": self.clients, "pairs": self.pairs,
            "throughput": round(self.throughput, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 1),
            "db_ms_per_pair": round(self.db_seconds * 1000 / self.pairs, 3)
            if self.pairs else 0.0,
            "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
        }


@dataclass(frozen=True)
class Routes:
    system: str
    port: int
    claim: str  # with {project}
    submit: str  # with {assignment}
    project: str
    # Instead of claim and submit, two GET of this path per pair (the reference).
    get_twice: str | None = None


def _post(conn: http.client.HTTPConnection, path: str, token: str,
          body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body or {}).encode()
    conn.request("POST", path, body=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    raw = response.read()
    if response.getheader("Connection", "").lower() == "close":
        conn.close()
    return response.status, (json.loads(raw) if raw else {})


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, dict]:
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    raw = response.read()
    return response.status, (json.loads(raw) if raw else {})


def _claim_and_submit(conn: http.client.HTTPConnection, routes: Routes,
                      token: str) -> str | None:
    """One pair; what went wrong, or None."""
    status, claimed = _post(conn, routes.claim.format(project=routes.project), token)
    if status not in (200, 201):
        time.sleep(0.05)
        return f"claim {status} {claimed.get('type', '')}".strip()
    status, submitted = _post(conn, routes.submit.format(assignment=claimed["id"]), token,
                              {"answer": {"label": "yue-HK"}, "active_seconds": 3})
    if status != 200:
        return f"submit {status} {submitted.get('type', '')}".strip()
    return None


def _get_twice(conn: http.client.HTTPConnection, path: str, token: str) -> str | None:
    for _ in range(2):
        status, body = _get(conn, path, token)
        if status != 200:
            return f"get {status} {body.get('type', '')}".strip()
    return None


def _client(routes: Routes, trainer: int, stop: float, run: ClaimRun,
            lock: threading.Lock) -> None:
    token = generate.token("trainer", trainer)
    conn = http.client.HTTPConnection("127.0.0.1", routes.port, timeout=60)
    pairs, latencies, errors = 0, [], {}
    while time.monotonic() < stop:
        started = time.perf_counter()
        try:
            if routes.get_twice is None:
                error = _claim_and_submit(conn, routes, token)
            else:
                error = _get_twice(conn, routes.get_twice, token)
        except (OSError, http.client.HTTPException) as exc:
            error = f"connection {type(exc).__name__}"
            conn.close()
        if error is not None:
            errors[error] = errors.get(error, 0) + 1
            continue
        latencies.append(time.perf_counter() - started)
        pairs += 1
    conn.close()
    with lock:
        run.pairs += pairs
        run.latencies.extend(latencies)
        for key, count in errors.items():
            run.errors[key] = run.errors.get(key, 0) + count


TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(monitor: psycopg.Connection) -> dict[int, float]:
    """CPU seconds (user + system, from /proc) of each client backend on the monitor's
    database but the monitor's own: the systems' connections, direct or PgBouncer's.
    The server is shared, so other databases' backends are left out, and so is
    autovacuum (it cleans up after every system's writes, whenever it comes)."""
    pids = [row[0] for row in monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")]
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def run_measured(routes: Routes, clients: int, seconds: float,
                 monitor: psycopg.Connection) -> ClaimRun:
    """``run_clients`` with the database's CPU meanwhile (a backend that started
    during the round counts whole; one that ended during it is missed)."""
    before = backend_cpu(monitor)
    run = run_clients(routes, clients, seconds)
    after = backend_cpu(monitor)
    run.db_seconds = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    return run


def run_clients(routes: Routes, clients: int, seconds: float) -> ClaimRun:
    run = ClaimRun(routes.system, clients, seconds)
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=_client, args=(routes, n, stop, run, lock))
               for n in range(1, clients + 1)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The last pairs started before the stop finish after it: count the real time.
    run.seconds = time.monotonic() - started
    return run


def check_assignments(database: str, project_ids: list[str]) -> dict[str, int]:
    """What the run must not have done, counted in the database (all zero when sound)."""
    with psycopg.connect(database) as conn:
        over = conn.execute(
            """SELECT count(*) FROM (
                 SELECT t.id FROM tasks t JOIN task_assignments a ON a.task_id = t.id
                 WHERE t.project_id = ANY(%s::uuid[])
                   AND a.state IN ('leased', 'submitted', 'revision_requested', 'approved',
                                   'rejected')
                 GROUP BY t.id, t.redundancy HAVING count(*) > t.redundancy) s""",
            [project_ids]).fetchone()[0]
        twice = conn.execute(
            """SELECT count(*) FROM (
                 SELECT task_id, trainer_id FROM task_assignments
                 WHERE project_id = ANY(%s::uuid[])
                 GROUP BY task_id, trainer_id HAVING count(*) > 1) s""",
            [project_ids]).fetchone()[0]
        slots = conn.execute(
            """SELECT count(*) FROM tasks t
               WHERE t.project_id = ANY(%s::uuid[]) AND t.open_slots <> t.redundancy - (
                   SELECT count(*) FROM task_assignments a WHERE a.task_id = t.id
                   AND a.state IN ('leased', 'submitted', 'revision_requested', 'approved',
                                   'rejected'))""",
            [project_ids]).fetchone()[0]
        assigned = conn.execute(
            "SELECT count(*) FROM task_assignments WHERE project_id = ANY(%s::uuid[])",
            [project_ids]).fetchone()[0]
    return {"assignments": assigned, "tasks_over_redundancy": over,
            "trainer_twice_on_a_task": twice, "open_slots_wrong": slots}


def reset_projects(database: str, project_ids: list[str]) -> int:
    """Give the claim projects back every task an earlier run took (a kept database is
    benchmarked again, and a fast floor takes most of them in one run): their
    assignments deleted, every slot open. Returns how many assignments went."""
    with psycopg.connect(database) as conn:
        gone = conn.execute("DELETE FROM task_assignments WHERE project_id = ANY(%s::uuid[])",
                            [project_ids]).rowcount
        conn.execute("UPDATE tasks SET open_slots = redundancy "
                     "WHERE project_id = ANY(%s::uuid[]) AND open_slots <> redundancy",
                     [project_ids])
    return gone


@dataclass(frozen=True)
class Ports:
    workforce: int
    floor: int
    stack: int


def bench(database: str, ports: Ports, client_counts: tuple[int, ...], seconds: float,
          log=print) -> dict:
    """``database``: the monitor's (and the checks') direct connection string."""
    workforce_project = generate.seq_project(1)
    floor_project = generate.seq_project(2)
    gone = reset_projects(database, [workforce_project, floor_project])
    if gone:
        log(f"  claim projects reset: {gone} assignments of earlier runs removed")
    workforce = Routes("workforce", ports.workforce, "/api/v1/projects/{project}/claims",
                       "/api/v1/me/assignments/{assignment}/submit", workforce_project)
    floor = Routes("floor", ports.floor, "/floor/projects/{project}/claims",
                   "/floor/assignments/{assignment}/submit", floor_project)
    # The stack shares the floor's project (the rounds take turns; enough tasks for both).
    stack = Routes("stack", ports.stack, "/stack/projects/{project}/claims",
                   "/stack/assignments/{assignment}/submit", floor_project)
    machinery = replace(workforce, system="machinery", get_twice="/api/v1/me")
    systems = (workforce, stack, floor, machinery)
    # Warm them up (connections, caches, the first requests' imports).
    for routes in systems:
        run_clients(routes, 4, 2.0)
    results = []
    with psycopg.connect(database, autocommit=True) as monitor:
        for clients in client_counts:
            results += _rounds(systems, clients, seconds, monitor, log)
    ratios = {clients: _ratio(results, clients, "workforce") for clients in client_counts}
    checks = check_assignments(database, [workforce_project, floor_project])
    log(f"  checks: {checks}")
    return {"runs": results, "ratios": ratios,
            "stack_ratios": {n: _ratio(results, n, "workforce", "stack")
                             for n in client_counts},
            "machinery_ratios": {n: _ratio(results, n, "machinery") for n in client_counts},
            "db_ratios": {n: _ratio(results, n, "workforce", key="db_ms_per_pair")
                          for n in client_counts},
            # The same SQL as the floor's, sent at the pace of workforce's app: how much of
            # the database's extra CPU is workforce's SQL, and how much the client's pace.
            "db_stack_ratios": {n: _ratio(results, n, "workforce", "stack",
                                          key="db_ms_per_pair") for n in client_counts},
            "checks": checks,
            "target": "database CPU a pair <= 1.25 x the floor's; throughput >= 0.5 x the "
                      "stack's; no double assignment"}


def _rounds(systems: tuple[Routes, ...], clients: int, seconds: float,
            monitor: psycopg.Connection, log) -> list[dict]:
    """Rounds alternate the systems, so a change in the machine's load (another job,
    autovacuum) falls on all rather than on whichever ran at the time."""
    runs = {routes.system: ClaimRun(routes.system, clients, 0.0) for routes in systems}
    loads: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for routes in systems:
            loads[routes.system].append(load()[0])
            runs[routes.system].add(run_measured(routes, clients, seconds / ROUNDS, monitor))
    results = []
    for name, run in runs.items():
        summary = run.summary() | {
            "load_before": round(sum(loads[name]) / len(loads[name]), 2)}
        log(f"  {name} {clients} clients: {summary['throughput']}/s "
            f"p50 {summary['p50_ms']} ms p99 {summary['p99_ms']} ms "
            f"database {summary['db_ms_per_pair']} ms a pair errors {summary['errors']}")
        results.append(summary)
    return results


def _ratio(results: list[dict], clients: int, system: str, over: str = "floor",
           key: str = "throughput") -> float:
    """``system``'s ``key`` over ``over``'s at ``clients``."""
    def value(name: str) -> float:
        return next(r[key] for r in results if r["system"] == name and r["clients"] == clients)

    below = value(over)
    return round(value(system) / below, 3) if below else 0.0
