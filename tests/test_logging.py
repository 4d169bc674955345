"""One structured line per request; secrets never reach the log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from tests.client import ApiClient
from tests.factories import PASSWORD, UserFactory
from workforce.logs import JsonFormatter, TextFormatter


class _Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines() -> Iterator[_Lines]:
    handler = _Lines(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_one_json_line_per_request(client: ApiClient, json_lines: _Lines) -> None:
    user = UserFactory()
    response = client.get("/api/v1/me", as_user=user, headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    entries = [json.loads(line) for line in json_lines.lines]
    requests = [e for e in entries if e["logger"] == "workforce.request"]
    assert len(requests) == 1
    entry = requests[0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/me"
    assert entry["status"] == 200
    assert entry["user_id"] == str(user.id)
    assert entry["request_id"] == "abc-123"
    assert isinstance(entry["duration_ms"], float)


def test_tokens_and_passwords_are_never_logged(client: ApiClient, json_lines: _Lines) -> None:
    user = UserFactory(email="quiet@example.org")
    login = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    token = login.get_json()["token"]
    client.get("/api/v1/me", token=token)
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong " + PASSWORD})
    logged = "\n".join(json_lines.lines)
    assert json_lines.lines
    assert token not in logged
    assert PASSWORD not in logged
    assert "Bearer" not in logged


def test_secret_looking_extras_are_redacted() -> None:
    record = logging.makeLogRecord({"msg": "x", "token": "wf_abc", "password": "p", "ok": 1})
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        assert "wf_abc" not in line
        assert "=p" not in line and '"p"' not in line
        assert "[redacted]" in line
