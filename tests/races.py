"""Run the same request from many threads at once, released together by a barrier.

Each thread has its own Flask test client, so its own request context, session and
database connection: the races are real ones between PostgreSQL connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient

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
