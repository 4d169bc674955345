"""Starting and stopping the gunicorn servers the HTTP benchmarks talk to."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(target: str, env: dict[str, str], *, workers: int, log: Path,
             probe: str) -> Iterator[int]:
    """Serve ``target`` (``module:app``) with ``workers`` sync workers; yields the port
    once ``probe`` answers, and stops the server (its own process group) afterwards."""
    port = free_port()
    gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
    with log.open("ab") as out:
        process = subprocess.Popen(
            [gunicorn_bin, "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
             "--backlog", "2048", "--timeout", "120", target],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out,
            start_new_session=True,
        )
    try:
        _wait_for(port, probe, process)
        yield port
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """Stop a server started in a session of its own, with all its children."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for(port: int, probe: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")


def workforce_env(database_url: str) -> dict[str, str]:
    """workforce as in production (JSON request logs at INFO, no debug), on the bench
    database; the scheduler is not running, as it would not be in an API process.
    Production refuses a non-https public address, so the bench gives it one. Each
    client is a trainer looping flat out (about 10 requests a second at the floor's
    pace), far past the API-wide budget of a real trainer, so that budget is raised
    (the limiter still runs and its cost is counted) rather than answering 429."""
    return {
        "WORKFORCE_ENV": "production",
        "WORKFORCE_SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
        "WORKFORCE_DATABASE_URL": database_url,
        "WORKFORCE_EMAIL_SENDER": "log",
        "WORKFORCE_SCHEDULER_ENABLED": "false",
        "WORKFORCE_PUBLIC_BASE_URL": "https://workforce.example.org",
        "WORKFORCE_API_RATE_LIMIT": "100000 per minute",
    }
