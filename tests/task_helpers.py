"""Helpers for the task tests: building import files and calling the task endpoints."""

from __future__ import annotations

import json
import uuid
from typing import Any

from werkzeug.test import TestResponse

from tests.client import ApiClient
from tests.factories import ProjectFactory, staff
from workforce.accounts.models import User
from workforce.projects.models import Project

API = "/api/v1"
JSONL = "application/x-ndjson"


def row(external_id: str, prompt: str = "Which accent is this?", **extra: Any) -> dict:
    """One JSON-lines task; ``media_urls`` and ``instructions`` go into the payload."""
    payload = {"prompt": prompt}
    for key in ("media_urls", "instructions"):
        if key in extra:
            payload[key] = extra.pop(key)
    return {"external_id": external_id, "payload": payload, **extra}


def jsonl(rows: list[Any]) -> bytes:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows
    ).encode()


def import_file(
    client: ApiClient,
    user: User,
    project: Project | uuid.UUID,
    body: bytes,
    *,
    content_type: str = JSONL,
    skip_invalid: bool | None = None,
) -> TestResponse:
    project_id = getattr(project, "id", project)
    query = "" if skip_invalid is None else f"?skip_invalid={str(skip_invalid).lower()}"
    return client.post(
        f"{API}/projects/{project_id}/tasks/import{query}", as_user=user, data=body,
        content_type=content_type,
    )


def claim(client: ApiClient, trainer: User, project: Project) -> TestResponse:
    return client.post(f"{API}/projects/{project.id}/claims", as_user=trainer)


def answered(response: TestResponse, status: int = 200) -> dict:
    """The JSON of an answer that must have this status."""
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def claimed(client: ApiClient, trainer: User, project: Project) -> dict:
    return answered(claim(client, trainer, project), 201)


def reveal(client: ApiClient, trainer: User, assignment_id: str) -> TestResponse:
    return client.post(f"{API}/me/assignments/{assignment_id}/reveal", as_user=trainer)


def revealed(client: ApiClient, trainer: User, assignment_id: str) -> dict:
    return answered(reveal(client, trainer, assignment_id))


def working(client: ApiClient, trainer: User, project: Project) -> dict:
    """A new lease whose task the trainer sees: claimed, and revealed when it carries a
    content warning (sensitive and graphic work is handed out without its content)."""
    lease = claimed(client, trainer, project)
    return lease if lease["revealed_at"] else revealed(client, trainer, lease["id"])


def submit(
    client: ApiClient, trainer: User, assignment_id: str, answer: Any = "Hong Kong",
    active_seconds: int = 60,
) -> TestResponse:
    return client.post(
        f"{API}/me/assignments/{assignment_id}/submit", as_user=trainer,
        json={"answer": answer, "active_seconds": active_seconds},
    )


def submitted(client: ApiClient, trainer: User, assignment_id: str, **kwargs: Any) -> dict:
    return answered(submit(client, trainer, assignment_id, **kwargs))


def review(
    client: ApiClient, reviewer: User, assignment_id: str, decision: str, **body: Any
) -> TestResponse:
    return client.post(
        f"{API}/assignments/{assignment_id}/review", as_user=reviewer,
        json={"decision": decision, **body},
    )


def staffed_project(*trainers: User, **kwargs: Any) -> Project:
    """An active per-task project (200 USD cents a task) with the trainers staffed."""
    project = ProjectFactory(**kwargs)
    staff(project, *trainers)
    return project
