"""A thin wrapper over Flask's test client that speaks JSON and bearer tokens, and checks
every JSON answer against the OpenAPI document (``tests.openapi_answers``)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests import openapi_answers
from tests.factories import token_for
from workforce.accounts.models import User


class ApiClient:
    def __init__(self, client: FlaskClient, session: Session) -> None:
        self.client = client
        self.session = session
        self._tokens: dict[Any, str] = {}

    def token(self, user: User) -> str:
        if user.id not in self._tokens:
            self._tokens[user.id] = token_for(user)
        return self._tokens[user.id]

    def request(
        self,
        method: str,
        path: str,
        *,
        as_user: User | None = None,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        headers = dict(headers or {})
        if as_user is not None:
            token = self.token(as_user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, json=json, headers=headers, **kwargs)
        openapi_answers.check(self.client.application, method, path, response)
        # What the request committed is seen by the test's own session from here on.
        self.session.expire_all()
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def every_item(self, path: str, *, as_user: User, limit: int, **query: Any) -> list[Any]:
        """Every item of a list answer, read ``limit`` at a time, page after page."""
        items: list[Any] = []
        cursor = None
        while True:
            paged = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
            response = self.get(path, as_user=as_user, query_string=paged)
            assert response.status_code == 200, response.get_json()
            items += response.get_json()["items"]
            cursor = response.get_json()["next_cursor"]
            if cursor is None:
                return items

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


def answer_text(response: TestResponse) -> str:
    """The answer as text; for a zip archive (a data export), every file in it."""
    if response.mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            return "\n".join(archive.read(name).decode() for name in archive.namelist())
    return response.get_data(as_text=True)


def assert_problem(response: TestResponse, status: int, *, code: str | None = None) -> dict:
    """The response is problem+json with this status (and type), and no stack trace."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].startswith("urn:workforce:problem:")
    if code is not None:
        assert body["type"] == f"urn:workforce:problem:{code}", body
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


# What a project's work is for, as a manager declares it before activation.
DECLARED_USE = {
    "client_kind": "ai_lab", "data_uses": ["training"],
    "restricted_uses": {"military": False, "surveillance": False, "law_enforcement": False},
    "answer_retention_days": 365,
}


def declare_use(client: ApiClient, manager: User, project_id: object, **changes: Any) -> dict:
    response = client.request("PUT", f"/api/v1/projects/{project_id}/declared-use",
                              as_user=manager, json={**DECLARED_USE, **changes})
    assert response.status_code == 200, response.get_json()
    return response.get_json()
