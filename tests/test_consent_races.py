"""Consent withdrawal racing claims, between real PostgreSQL connections (skipped on
SQLite): whichever commits first, the trainer never keeps a lease on content they no
longer consent to."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import (
    ProjectFactory,
    TaskFactory,
    UserFactory,
    consenting,
    staff,
    token_for,
)
from tests.races import bearer, race
from workforce.projects.models import Assignment, AssignmentState, Sensitivity
from workforce.wellbeing import limits

VIOLENCE = "violence"


def call(method: str, token: str, path: str) -> Callable[[FlaskClient], Any]:
    return lambda client: client.open(path, method=method, headers=bearer(token))


def test_a_withdrawal_and_claims_at_once_leave_no_lease_on_withdrawn_content(
    live_app: Flask, live_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each claim dawdles after reading the trainer's consent, so that the withdrawal
    # lands in that window unless the trainer's row lock makes it wait.
    read_consent = limits.gate_for

    def slow_gate(*args: Any, **kwargs: Any) -> limits.Gate:
        gate = read_consent(*args, **kwargs)
        time.sleep(0.3)
        return gate

    monkeypatch.setattr(limits, "gate_for", slow_gate)
    # An ordinary project whose tasks each carry a violence warning of their own: the
    # membership does not depend on consent, so only the trainer's lock orders them.
    projects = [ProjectFactory() for _ in range(3)]
    for project in projects:
        for _ in range(3):
            TaskFactory(project=project, sensitivity=Sensitivity.GRAPHIC,
                        content_categories=[VIOLENCE])
    for _ in range(3):
        trainer = UserFactory()
        consenting(trainer, VIOLENCE)
        for project in projects:
            staff(project, trainer)
        token = token_for(trainer)
        # Use the token once first: its first use records itself, and that write
        # would line the racing requests up on the token's row.
        live_app.test_client().get("/api/v1/me", headers=bearer(token))
        calls = [call("DELETE", token, f"/api/v1/me/content-consent/{VIOLENCE}")] + [
            call("POST", token, f"/api/v1/projects/{project.id}/claims")
            for project in projects
        ]
        withdrawn, *claims = race(live_app, calls)
        assert withdrawn.status_code == 200, withdrawn.get_json()
        released = set(withdrawn.get_json()["leases_released"])
        for response in claims:
            assert response.status_code in (201, 409), response.get_json()
            if response.status_code == 201:
                # Claimed first: the withdrawal found the lease and gave it back.
                assert response.get_json()["id"] in released
            else:
                assert response.get_json()["type"].endswith("consent-required")
        live_session.expire_all()
        held = live_session.scalars(select(Assignment).where(
            Assignment.trainer_id == trainer.id,
            Assignment.state == AssignmentState.LEASED)).all()
        assert held == []
