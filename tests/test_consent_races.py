"""Consent withdrawal racing claims, between real PostgreSQL connections (skipped on
SQLite): whichever commits first, the trainer never keeps a lease on content they no
longer consent to."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
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
from tests.races import Window, bearer, race
from workforce.projects.models import Assignment, AssignmentState, Sensitivity
from workforce.wellbeing import limits, withdrawal

VIOLENCE = "violence"


def call(method: str, token: str, path: str) -> Callable[[FlaskClient], Any]:
    return lambda client: client.open(path, method=method, headers=bearer(token))


def after(event: threading.Event, then: Callable[[FlaskClient], Any]
          ) -> Callable[[FlaskClient], Any]:
    return lambda client: event.wait(10) and then(client)


def test_a_withdrawal_and_claims_at_once_leave_no_lease_on_withdrawn_content(
    live_app: Flask, live_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The withdrawal is sent once a claim has read the trainer's consent, and that claim
    # holds its transaction open until the withdrawal is seen waiting for it (the
    # trainer's row lock): without that lock it would land in the window and pass.
    read_consent, withdraw = limits.gate_for, withdrawal.withdraw
    now = SimpleNamespace()  # this trainer's race: its window, and a claim having read

    def slow_gate(session: Session, *args: Any, **kwargs: Any) -> limits.Gate:
        gate = read_consent(session, *args, **kwargs)
        now.read.set()
        now.window.hold(session)
        return gate

    def watched_withdraw(session: Session, *args: Any) -> Any:
        now.window.join(session)
        return withdraw(session, *args)

    monkeypatch.setattr(limits, "gate_for", slow_gate)
    monkeypatch.setattr(withdrawal, "withdraw", watched_withdraw)
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
        now.window, now.read = Window(), threading.Event()
        calls = [after(now.read, call("DELETE", token, f"/api/v1/me/content-consent/{VIOLENCE}"))]
        calls += [call("POST", token, f"/api/v1/projects/{project.id}/claims")
                  for project in projects]
        withdrawn, *claims = race(live_app, calls)
        assert now.window.hit.is_set()
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
