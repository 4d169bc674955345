"""The live-database harness itself: writes from racing threads are really committed."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, UserFactory
from tests.races import race
from workforce.accounts.models import ApiToken


def test_racing_requests_each_commit(live_app: Flask, live_session: Session) -> None:
    trainer = UserFactory()
    login = {"email": trainer.email, "password": PASSWORD}

    results = race(live_app, [
        lambda client: client.post("/api/v1/auth/login", json=login) for _ in range(8)
    ])

    live_session.expire_all()
    assert [r.status_code for r in results] == [200] * 8, results[0].get_data(as_text=True)
    tokens = live_session.scalars(select(ApiToken).where(ApiToken.user_id == trainer.id))
    assert len(list(tokens)) == 8
