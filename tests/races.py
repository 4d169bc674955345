"""Run the same request from many threads at once, released together by a barrier.

Each thread has its own Flask test client, so its own request context, session and
database connection: the races are real ones between PostgreSQL connections. Where a
transaction must stay open while another runs into it, ``Window`` holds it open until
PostgreSQL shows the other waiting (or, for a racer that skips locked rows, until it
is seen past the lock), and fails when it never does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

T = TypeVar("T")


def race(app: Flask, calls: list[Callable[[FlaskClient], T]]) -> list[T]:
    """Run every call at the same moment, each with its own test client; return the
    results in order (an exception in a call is raised here)."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[FlaskClient], T]) -> T:
        client = app.test_client()
        barrier.wait()
        return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


class Window:
    """The moment of a race in which one transaction waits for a lock another holds.

    Each racing transaction that may have to wait registers its connection (``join``);
    ``hold`` keeps the caller's transaction open until one of them is seen waiting for
    a lock (read live with ``pg_blocking_pids``, not from the statistics snapshot), and
    fails after ``timeout`` seconds: a race that never met its window fails rather than
    passes."""

    def __init__(self, timeout: float = 10) -> None:
        self.timeout = timeout
        self.waiters: list[int] = []
        self.hit = threading.Event()

    def join(self, session: Session) -> None:
        self.waiters.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def waiting(self, session: Session) -> bool:
        """Whether one of the joined transactions waits for a lock now."""
        return bool(session.execute(_SOMEONE_WAITS, {"pids": list(self.waiters)}).scalar_one())

    def hold(self, session: Session) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.hit.is_set():
            if self.waiting(session):
                self.hit.set()
            elif time.monotonic() > deadline:
                raise AssertionError("the race missed its window: no transaction waited")
            else:
                time.sleep(0.01)


    def hold_until(self, seen: Callable[[], bool], what: str) -> None:
        """Keep the caller's transaction open until ``seen()``: for a racer that must not
        wait (``SKIP LOCKED``), what it did past the caller's lock shows the window was
        met. Fails after ``timeout`` seconds, saying ``what`` was never seen."""
        deadline = time.monotonic() + self.timeout
        while not seen():
            if time.monotonic() > deadline:
                raise AssertionError(f"the race missed its window: {what}")
            time.sleep(0.01)
        self.hit.set()


_SOMEONE_WAITS = text(
    "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:pids AS integer[])) AS waiter(pid) "
    "WHERE cardinality(pg_blocking_pids(waiter.pid)) > 0)")
