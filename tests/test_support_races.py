"""Races between PostgreSQL connections: two flags on one assignment at once, and two
schedulers prompting the same check-in at once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import TaskFactory, UserFactory, token_for, worked_task
from tests.races import bearer, race
from tests.support_helpers import API, sensitive_project
from workforce import clock
from workforce.db import Database
from workforce.notifications.models import Notification
from workforce.wellbeing import jobs as wellbeing_jobs
from workforce.wellbeing.support_models import CheckInPrompt, ContentFlag, SupportCase


def test_two_flags_on_one_assignment_at_once_make_one(
    live_app: Flask, live_session: Session
) -> None:
    trainer = UserFactory()
    project = sensitive_project(trainer)
    TaskFactory(project=project)
    token = token_for(trainer)
    client = live_app.test_client()
    held = client.post(f"{API}/projects/{project.id}/claims", headers=bearer(token)).get_json()
    shown = client.post(f"{API}/me/assignments/{held['id']}/reveal", headers=bearer(token))
    assert shown.status_code == 200
    body = {"category": "violence", "severity": "high", "need_support": True}

    results = race(live_app, [
        lambda c: c.post(f"{API}/me/assignments/{held['id']}/flag", json=body,
                         headers=bearer(token))
        for _ in range(5)
    ])

    assert Counter(r.status_code for r in results) == {201: 1, 409: 4}
    assert {r.get_json()["type"] for r in results if r.status_code == 409} == {
        "urn:workforce:problem:already-flagged"}
    live_session.expire_all()
    assert live_session.scalar(select(func.count()).select_from(ContentFlag).where(
        ContentFlag.trainer_id == trainer.id)) == 1
    assert live_session.scalar(select(func.count()).select_from(SupportCase).where(
        SupportCase.trainer_id == trainer.id)) == 1


def test_two_schedulers_prompt_a_due_check_in_once(
    live_session: Session, live_database: Database
) -> None:
    trainer = UserFactory()
    project = sensitive_project(trainer)
    now = clock.now()
    for hours in (3, 2):  # two hours of sensitive work: the default threshold
        worked_task(project, trainer, claimed_at=now - timedelta(hours=hours),
                    submitted_at=now - timedelta(hours=hours - 1))
    barrier = threading.Barrier(2)

    def scheduler() -> int:
        barrier.wait()
        return wellbeing_jobs.prompt_due_check_ins(live_database)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: scheduler(), range(2)))

    live_session.expire_all()
    assert live_session.scalar(select(func.count()).select_from(CheckInPrompt).where(
        CheckInPrompt.trainer_id == trainer.id)) == 1
    assert live_session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == trainer.id,
        Notification.kind == "wellbeing.check_in_due")) == 1
