"""The scheduler's jobs, run the way the scheduler runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import UserFactory
from workforce.accounts import jobs as accounts_jobs
from workforce.accounts import tokens
from workforce.accounts.models import ApiToken
from workforce.db import Database


def test_expired_credentials_are_purged_after_thirty_days(
    database: Database, session: Session
) -> None:
    user = UserFactory()
    start = datetime.now(UTC)
    with time_machine.travel(start - timedelta(days=40), tick=False):
        tokens.issue_token(session, user, label="old", lifetime=timedelta(hours=1))
    with time_machine.travel(start - timedelta(days=5), tick=False):
        tokens.issue_token(session, user, label="recent", lifetime=timedelta(hours=1))
    tokens.issue_token(session, user, label="live", lifetime=timedelta(hours=1))
    session.commit()

    accounts_jobs.purge_expired_credentials(database)

    session.expire_all()
    left = set(session.scalars(select(ApiToken.label).where(ApiToken.user_id == user.id)))
    assert left == {"recent", "live"}
