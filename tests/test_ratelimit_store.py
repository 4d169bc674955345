"""The rate-limit store that several API processes share (README, Deploying): with
``WORKFORCE_RATE_LIMIT_STORAGE_URI=redis://...`` a caller's budget is one budget across
processes, not one per process; a store that cannot be used stops the start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from workforce.settings import Settings, SettingsError

REDIS = ("127.0.0.1", 6379)

# One API process: two anonymous requests from one client address, statuses printed.
PROCESS = """
import json, sys
from workforce.app import create_app
app = create_app(configure_logging=False)
client = app.test_client()
statuses = [client.get("/api/v1/health", environ_base={"REMOTE_ADDR": sys.argv[1]}).status_code
            for _ in range(2)]
print(json.dumps(statuses))
"""


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("uri", "named"),
    [("reids://127.0.0.1:6379", "unknown storage scheme"),
     ("memory", "unknown storage scheme"),
     ("redis://cache:port", "Port could not be cast"),
     ("memcached://127.0.0.1:11211", "pymemcache")],
)
def test_a_store_that_cannot_be_used_stops_the_start(uri: str, named: str) -> None:
    with pytest.raises(SettingsError, match=f"WORKFORCE_RATE_LIMIT_STORAGE_URI: .*{named}"):
        Settings.from_env({"WORKFORCE_RATE_LIMIT_STORAGE_URI": uri})


def test_the_documented_redis_store_is_installed_with_the_service() -> None:
    # Building the store connects to nothing: this holds with no Redis running.
    settings = Settings.from_env({"WORKFORCE_RATE_LIMIT_STORAGE_URI": "redis://cache:6379"})
    assert settings.rate_limit_storage_uri == "redis://cache:6379"


@pytest.mark.slow
@pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")
def test_two_processes_spend_one_budget(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WORKFORCE_ENV": "test",
        "WORKFORCE_DATABASE_URL": f"sqlite:///{tmp_path / 'workforce.db'}",
        "WORKFORCE_RATE_LIMIT_STORAGE_URI": "redis://{}:{}".format(*REDIS),
        "WORKFORCE_API_RATE_LIMIT": "3 per minute",
    }
    # A client address no earlier run has used: the budget starts empty.
    address = "10.{}.{}.{}".format(*uuid.uuid4().bytes[:3])

    def process() -> list[int]:
        done = subprocess.run([sys.executable, "-c", PROCESS, address], env=env,  # noqa: S603 (our own code)
                              capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert process() == [200, 200]
    # Per process, the second would have two requests left; the shared store has one.
    assert process() == [200, 429]
