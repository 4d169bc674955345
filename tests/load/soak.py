"""Load and soak: gunicorn workers on PostgreSQL, simulated trainers and managers, a
payout run against the Stripe stand-in, for a fixed time; then the books are checked.

    make soak SOAK_SECONDS=60 SOAK_TRAINERS=16 \\
        SOAK_ARGS="--database-url postgresql+psycopg://postgres@127.0.0.1:5432/workforce_soak"

Everything listens on 127.0.0.1 and the run stops by itself after ``--seconds``:

- ``--trainers`` threads each loop: claim the next task, submit an answer, read their
  earnings summary (and, now and then, their line items);
- ``--managers`` threads review the queue (most approved, some rejected, some asked
  for a revision, which the trainer then hands in again);
- a finance user presses "run now" on a weekly schedule a third of the way in, approves
  the run and asks for it to be processed; a payout processor (the scheduler's job)
  sends it to the stand-in meanwhile.

Afterwards the review queue is drained and the run is checked: every submission a
trainer was told succeeded is in the database exactly once and every one in the database
was acknowledged; every approved assignment earned exactly once and no other did; the
ledger's checks pass; every payout item is paid with exactly one transfer. It prints the
request count, error rate and latency percentiles per operation (and writes them as
JSON with ``--output``); the exit status is 1 when a check fails or a request errs.

The database is wiped first: its name must contain "soak" or "test".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import func, make_url, select, text

from tests import factories
from tests.stripe_standin import StripeStandin
from workforce import clock, migrate
from workforce.accounts.models import Role
from workforce.billing import ledger, processing
from workforce.billing.models import (
    EarningEvent,
    ItemState,
    PayoutItem,
    PayoutRun,
    PayoutSchedule,
)
from workforce.db import Database, make_engine
from workforce.projects.models import SLOT_STATES, Assignment, AssignmentState, Task
from workforce.settings import Environment, Settings

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/workforce_soak"
RATE = 200  # minor units per approved task
OWED_BEFORE = 5000  # what each trainer is owed from last week, paid by the run


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Stats:
    """Latencies (seconds) and statuses per operation, and every error with its reason."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, seconds: float, status: int, error: str | None) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            self.statuses[name][status] += 1
            if error:
                self.errors.append(f"{name}: {error}")

    def summary(self) -> dict[str, Any]:
        operations = {}
        for name, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            operations[name] = {
                "requests": len(values), "statuses": dict(self.statuses[name]),
                "p50_ms": round(percentile(ordered, 50) * 1000, 1),
                "p95_ms": round(percentile(ordered, 95) * 1000, 1),
                "p99_ms": round(percentile(ordered, 99) * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1),
                "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
            }
        total = sum(len(v) for v in self.latencies.values())
        every = sorted(x for v in self.latencies.values() for x in v)
        return {
            "requests": total, "errors": len(self.errors),
            "error_rate": round(len(self.errors) / total, 6) if total else 0.0,
            "p50_ms": round(percentile(every, 50) * 1000, 1) if every else None,
            "p99_ms": round(percentile(every, 99) * 1000, 1) if every else None,
            "operations": operations, "first_errors": self.errors[:20],
        }


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Client:
    """One simulated person: a keep-alive HTTP connection and a bearer token. Statuses
    outside ``ok`` are errors (a refusal the scenario expects, such as 409
    no-task-available, is passed in ``ok``)."""

    def __init__(self, port: int, token: str, stats: Stats) -> None:
        self.port, self.token, self.stats = port, token, stats
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, name: str, method: str, path: str, body: Any = None,
             ok: tuple[int, ...] = (200, 201)) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.connection.request(method, API + path, body=payload, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            self.stats.record(name, time.perf_counter() - started, 0, repr(exc))
            return 0, None
        elapsed = time.perf_counter() - started
        data = json.loads(raw) if raw and response.getheader("Content-Type", "").endswith(
            "json") else None
        error = None if status in ok else f"{status} {raw[:200]!r}"
        self.stats.record(name, elapsed, status, error)
        return status, data


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    organisation_id: uuid.UUID
    project_id: uuid.UUID
    schedule_id: uuid.UUID
    trainers: list[str]  # tokens
    managers: list[str]
    finance: str
    trainer_ids: list[uuid.UUID]


def prepare(url: str) -> Database:
    """Wipe the database and migrate it to head."""
    name = make_url(url).database or ""
    if "soak" not in name and "test" not in name:
        raise SystemExit(f"refusing to wipe database {name!r}: its name must contain 'soak'")
    admin = make_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    database = Database(url, pool_size=4, max_overflow=4)
    settings = Settings(env=Environment.TEST, database_url=url,
                        migrations_dir=str(ROOT / "migrations"))
    with database.engine.connect() as connection:
        migrate.upgrade(settings, "head", connection=connection)
        connection.commit()
    return database


def seed(database: Database, standin: StripeStandin, trainers: int, managers: int,
         tasks: int) -> World:
    """An organisation, its staff, trainers with Stripe accounts and last week's pay
    owed, a per-task project (half the work sampled for review) with its task pool, and a
    weekly payout schedule whose latest moment has passed."""
    session = database.session()
    factories.bind(session)
    try:
        boss = factories.StaffFactory(role=Role.VENDOR_MANAGER)
        organisation = boss.organisation
        staff = [boss] + [factories.StaffFactory(role=Role.VENDOR_MANAGER,
                                                 organisation=organisation)
                          for _ in range(managers - 1)]
        fin = factories.StaffFactory(role=Role.FINANCE, organisation=organisation)
        project = factories.ProjectFactory(manager=boss, capacity=trainers + 10,
                                           review_sample_percent=50, rate=RATE)
        people = [factories.UserFactory() for _ in range(trainers)]
        factories.staff(project, *people)
        last_week = clock.now() - timedelta(days=8)
        for person in people:
            account = standin.add_account(payouts_enabled=True)
            factories.payout_account(person, method="stripe", stripe_account_id=account)
            with time_machine.travel(last_week, tick=False):
                factories.earned(person, organisation.id, OWED_BEFORE)
        now = clock.now()
        schedule = PayoutSchedule(
            organisation_id=organisation.id, name="Weekly", weekday=now.weekday(), hour=0,
            minute=0, timezone="UTC", minimums={}, auto_approve=False, active=True,
            created_at=now - timedelta(days=30), updated_at=now - timedelta(days=30))
        session.add(schedule)
        session.add_all(
            Task(project_id=project.id, external_id=f"soak-{n}", redundancy=1, open_slots=1,
                 payload={"prompt": f"Which accent is clip {n}?"})
            for n in range(tasks))
        session.commit()
        lifetime = timedelta(hours=6)
        return World(
            organisation_id=organisation.id, project_id=project.id, schedule_id=schedule.id,
            trainers=[factories.token_for(p, lifetime=lifetime) for p in people],
            managers=[factories.token_for(m, lifetime=lifetime) for m in staff],
            finance=factories.token_for(fin, lifetime=lifetime),
            trainer_ids=[p.id for p in people],
        )
    finally:
        factories.bind(None)
        session.close()


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, standin: StripeStandin, port: int, workers: int) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WORKFORCE_")},
        "WORKFORCE_ENV": "test", "WORKFORCE_DATABASE_URL": url,
        "WORKFORCE_EMAIL_SENDER": "memory", "WORKFORCE_LOG_LEVEL": "WARNING",
        "WORKFORCE_STRIPE_API_KEY": standin.api_key or "sk_test_x",
        "WORKFORCE_STRIPE_API_BASE": standin.url,
        "WORKFORCE_STRIPE_WEBHOOK_SECRET": standin.webhook_secret,
        "WORKFORCE_STRIPE_CONNECT_WEBHOOK_SECRET": standin.connect_webhook_secret,
        "WORKFORCE_SCHEDULER_ENABLED": "false",
        # The load is the point here: the per-caller budget would only answer 429s.
        "WORKFORCE_API_RATE_LIMIT": "1000000 per minute",
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-c", "from workforce.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", API + "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- the people -----------------------------------------------------------------------------


@dataclass
class Ledgerbook:
    """What the clients were told: submissions acknowledged, decisions made."""

    submitted: Counter = field(default_factory=Counter)  # assignment id -> acknowledgements
    decided: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def trainer(client: Client, world: World, book: Ledgerbook, stop: threading.Event,
            pick: random.Random) -> None:
    project = world.project_id
    while not stop.is_set():
        status, lease = client.call("claim", "POST", f"/projects/{project}/claims",
                                    ok=(200, 201, 409))
        if status in (200, 201):
            answer = {"accent": pick.choice(["hk", "gz"]), "note": "soak"}
            status, done = client.call(
                "submit", "POST", f"/me/assignments/{lease['id']}/submit",
                {"answer": answer, "active_seconds": pick.randint(1, 120)})
            if status == 200:
                with book.lock:
                    book.submitted[done["id"]] += 1
        elif status == 409:
            revise(client, book, pick)
            stop.wait(0.05)
        client.call("earnings", "GET", "/me/earnings/summary")
        if pick.random() < 0.2:
            client.call("earnings_items", "GET", "/me/earnings/items?limit=20")


def revise(client: Client, book: Ledgerbook, pick: random.Random) -> None:
    """Hand in again whatever a reviewer sent back for revision."""
    status, page = client.call("my_assignments", "GET",
                               "/me/assignments?state=revision_requested&limit=10")
    for item in (page or {}).get("items", []) if status == 200 else []:
        status, done = client.call(
            "resubmit", "POST", f"/me/assignments/{item['id']}/submit",
            {"answer": {"accent": "hk", "note": "revised"}, "active_seconds": 30},
            ok=(200, 409))
        if status == 200:
            with book.lock:
                book.submitted[done["id"]] += 1


def review_pass(client: Client, world: World, book: Ledgerbook, pick: random.Random,
                *, revisions: bool = True) -> int:
    """Decide one page of the review queue; returns how many were decided."""
    status, page = client.call("review_queue", "GET",
                               f"/projects/{world.project_id}/reviews?limit=20")
    decided = 0
    for item in (page or {}).get("items", []) if status == 200 else []:
        roll = pick.random()
        if roll < 0.8 or (not revisions and roll >= 0.9):
            body: dict[str, Any] = {"decision": "approve"}
        elif roll < 0.9:
            body = {"decision": "reject", "rejection_category": "incorrect",
                    "message": "The accent is the other one."}
        else:
            body = {"decision": "request_revision", "message": "Listen again, please."}
        # Another manager may have decided it first: 409 is that, not an error.
        status, _ = client.call("review", "POST",
                                f"/assignments/{item['assignment_id']}/review", body,
                                ok=(200, 409))
        if status == 200:
            decided += 1
            with book.lock:
                book.decided[item["assignment_id"]] = body["decision"]
    return decided


def manager(client: Client, world: World, book: Ledgerbook, stop: threading.Event,
            pick: random.Random) -> None:
    while not stop.is_set():
        if not review_pass(client, world, book, pick):
            stop.wait(0.2)


def finance(client: Client, world: World, stop: threading.Event, start_after: float,
            database: Database, standin: StripeStandin, outcome: dict[str, Any]) -> None:
    """Run now, approve, ask for processing; then process as the scheduler's job does."""
    if stop.wait(start_after):
        return
    status, run = client.call("run_now", "POST", f"/payout-schedules/{world.schedule_id}/runs")
    if status not in (200, 201):
        return
    outcome["run_id"] = run["id"]
    client.call("approve_run", "POST", f"/payout-runs/{run['id']}/approve")
    client.call("process_run", "POST", f"/payout-runs/{run['id']}/process", ok=(202,))
    started = time.perf_counter()
    result = processing.process_run(database, uuid.UUID(run["id"]), standin.gateway(),
                                    rate=100)
    outcome["processed_in_s"] = round(time.perf_counter() - started, 2)
    outcome["paid"], outcome["failed"] = result.paid, result.failed


# --- the checks -----------------------------------------------------------------------------


def check(database: Database, world: World, book: Ledgerbook, standin: StripeStandin,
          outcome: dict[str, Any]) -> dict[str, Any]:
    """Every submission accounted for exactly once, earnings once per approval, the
    ledger sound, the payout run paid once per item."""
    problems: list[str] = []
    with database.unit_of_work() as session:
        rows = session.execute(select(Assignment.id, Assignment.state, Assignment.submitted_at)
                               .where(Assignment.project_id == world.project_id)).all()
        handed_in = {str(r.id) for r in rows if r.submitted_at is not None}
        acknowledged = set(book.submitted)
        if handed_in != acknowledged:
            problems.append(f"submissions: {len(acknowledged - handed_in)} acknowledged but "
                            f"not stored, {len(handed_in - acknowledged)} stored but never "
                            "acknowledged")
        states = Counter(r.state.value for r in rows)
        approved = {str(r.id) for r in rows if r.state is AssignmentState.APPROVED}
        earned = Counter(str(source) for source in session.scalars(
            select(EarningEvent.source_id).where(EarningEvent.project_id == world.project_id)))
        if set(earned) != approved or any(n != 1 for n in earned.values()):
            problems.append(f"earnings: {len(earned)} sources for {len(approved)} approvals, "
                            f"duplicates {[k for k, n in earned.items() if n != 1][:5]}")
        open_slots = session.scalar(select(func.sum(Task.open_slots)).where(
            Task.project_id == world.project_id))
        # A rejected, released or expired assignment gave its slot back.
        taken = sum(1 for r in rows if r.state in SLOT_STATES)
        tasks = session.scalar(select(func.count()).select_from(Task).where(
            Task.project_id == world.project_id))
        if open_slots + taken != tasks:
            problems.append(f"slots: {open_slots} open + {taken} taken != {tasks} tasks")
        balance_problems = ledger.check_balances(session)
        problems += [f"ledger: {p}" for p in balance_problems]
        items: list[PayoutItem] = []
        if "run_id" in outcome:
            run = session.get(PayoutRun, uuid.UUID(outcome["run_id"]))
            items = list(session.scalars(select(PayoutItem).where(PayoutItem.run_id == run.id)))
            groups = Counter(t["transfer_group"] for t in standin.transfers)
            for item in items:
                if item.state is not ItemState.PAID:
                    problems.append(f"payout item {item.id} is {item.state.value}")
                if groups[f"payout-item-{item.id}"] != 1:
                    problems.append(f"payout item {item.id}: "
                                    f"{groups[f'payout-item-{item.id}']} transfers")
            if len(items) != len(world.trainer_ids):
                problems.append(f"{len(items)} payout items for {len(world.trainer_ids)} "
                                "trainers")
        else:
            problems.append("the payout run was not created")
    return {
        "submissions": len(handed_in), "acknowledged": sum(book.submitted.values()),
        "assignment_states": dict(states), "approved_and_paid_once": len(approved),
        "payout_items": len(items), "transfers": len(standin.transfers),
        "problems": problems,
    }


# --- the run --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--trainers", type=int, default=16)
    parser.add_argument("--managers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--tasks", type=int, default=0,
                        help="task pool (default: enough for the run, 40 per trainer-minute)")
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL",
                                                                  DEFAULT_URL))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", help="write the report as JSON here too")
    args = parser.parse_args(argv)
    tasks = args.tasks or max(200, int(40 * args.trainers * args.seconds / 60))

    database = prepare(args.database_url)
    standin = StripeStandin().serve()
    world = seed(database, standin, args.trainers, args.managers, tasks)
    port = free_port()
    server = start_server(args.database_url, standin, port, args.workers)
    stats, book, stop, outcome = Stats(), Ledgerbook(), threading.Event(), {}
    pick = random.Random(args.seed)
    threads = [
        threading.Thread(target=trainer, args=(Client(port, token, stats), world, book, stop,
                                               random.Random(pick.random())))
        for token in world.trainers
    ] + [
        threading.Thread(target=manager, args=(Client(port, token, stats), world, book, stop,
                                               random.Random(pick.random())))
        for token in world.managers
    ] + [threading.Thread(target=finance, args=(
        Client(port, world.finance, stats), world, stop, args.seconds / 3, database, standin,
        outcome))]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        stop.wait(args.seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        elapsed = time.perf_counter() - started
        # Drain: hand in revisions and decide everything still waiting.
        drain = Client(port, world.managers[0], stats)
        for _ in range(200):
            for token in world.trainers:
                revise(Client(port, token, stats), book, pick)
            if not review_pass(drain, world, book, pick, revisions=False):
                break
    finally:
        stop_server(server)
    checks = check(database, world, book, standin, outcome)
    standin.close()
    database.dispose()
    summary = stats.summary()
    report = {
        "seconds": round(elapsed, 1), "trainers": args.trainers, "managers": args.managers,
        "gunicorn_workers": args.workers, "tasks": tasks,
        "throughput_rps": round(summary["requests"] / elapsed, 1), **summary,
        "payout": outcome, "checks": checks,
    }
    text_report = json.dumps(report, indent=2, default=str)
    print(text_report)
    if args.output:
        Path(args.output).write_text(text_report + "\n")
    return 1 if checks["problems"] or summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
