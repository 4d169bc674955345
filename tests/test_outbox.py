"""The e-mail outbox: nothing leaves before commit, everything leaves once, failures retry."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, UserFactory
from workforce.accounts import services
from workforce.accounts.models import PasswordReset, Role
from workforce.db import Database
from workforce.errors import Conflict
from workforce.notifications.models import EmailStatus, OutboundEmail
from workforce.notifications.outbox import MAX_ATTEMPTS, Outbox
from workforce.notifications.senders import Email, LogSender, MemorySender
from workforce.notifications.services import queue_email
from workforce.settings import Settings

RESET = "/api/v1/auth/password-reset"


@dataclass
class FlakySender:
    """Fails the first ``failures`` sends, then delivers."""

    failures: int
    attempts: int = 0
    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionRefusedError("mail server down")
        self.sent.append(email)


@pytest.fixture
def outbox(app: Flask) -> Outbox:
    return app.extensions["workforce"].outbox


def rows(session: Session) -> list[OutboundEmail]:
    session.expire_all()
    return list(session.scalars(select(OutboundEmail).order_by(OutboundEmail.created_at)))


def queue(database: Database, to: str = "someone@example.org") -> uuid.UUID:
    with database.unit_of_work() as uow:
        email_id = queue_email(uow, to, "Subject", "Body")
    return email_id


# --- through the API -------------------------------------------------------------------


def test_an_email_queued_by_a_failed_request_is_never_sent(
    client: ApiClient, session: Session, mail: MemorySender, outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = UserFactory()
    original = services.request_password_reset

    def reset_then_fail(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)
        raise Conflict("Something later in the request failed.")

    monkeypatch.setattr(services, "request_password_reset", reset_then_fail)
    response = client.post(RESET, json={"email": user.email})
    assert_problem(response, 409, code="conflict")
    assert mail.sent == []
    assert rows(session) == []
    assert session.scalar(select(func.count()).select_from(PasswordReset)) == 0
    # Not later either.
    assert outbox.deliver() == 0
    assert mail.sent == []


def test_an_email_queued_by_a_successful_request_is_sent_once(
    client: ApiClient, session: Session, mail: MemorySender, outbox: Outbox
) -> None:
    user = UserFactory()
    response = client.post(RESET, json={"email": user.email})
    assert response.status_code == 202
    assert [m.to for m in mail.sent] == [user.email]
    assert "Reset token: wfr_" in mail.sent[0].body
    (row,) = rows(session)
    assert row.status is EmailStatus.SENT
    assert row.attempts == 1 and row.sent_at is not None and row.last_error is None
    # The scheduler's pass finds nothing left to send.
    assert outbox.deliver() == 0
    assert outbox.deliver([row.id]) == 0
    assert len(mail.sent) == 1


def test_an_unknown_address_sends_nothing_and_answers_the_same(
    client: ApiClient, session: Session, mail: MemorySender
) -> None:
    response = client.post(RESET, json={"email": "nobody@example.org"})
    assert response.status_code == 202
    assert mail.sent == [] and rows(session) == []


# --- with services directly ----------------------------------------------------------


def test_an_email_queued_in_a_rolled_back_unit_of_work_is_never_sent(
    database: Database, session: Session, mail: MemorySender, outbox: Outbox
) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        queue_email(uow, "someone@example.org", "Subject", "Body")
        raise RuntimeError("the change failed")
    assert mail.sent == []
    assert rows(session) == []
    assert outbox.deliver() == 0
    assert mail.sent == []


def test_an_email_is_sent_only_after_commit(
    database: Database, session: Session, mail: MemorySender
) -> None:
    with database.unit_of_work() as uow:
        queue_email(uow, "someone@example.org", "Subject", "Body")
        assert mail.sent == []  # queued, not sent, while the transaction is open
    assert mail.sent == [Email("someone@example.org", "Subject", "Body")]
    (row,) = rows(session)
    assert row.status is EmailStatus.SENT and row.attempts == 1


def test_a_failing_sender_leaves_the_email_pending_for_later(
    database: Database, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = FlakySender(failures=1)
    monkeypatch.setattr(outbox, "sender", flaky)
    queue(database)  # the commit succeeds even though delivery fails
    (row,) = rows(session)
    assert row.status is EmailStatus.PENDING
    assert row.attempts == 1
    assert row.last_error == "ConnectionRefusedError: mail server down"
    assert row.sent_at is None and flaky.sent == []

    assert outbox.deliver() == 1
    (row,) = rows(session)
    assert row.status is EmailStatus.SENT and row.attempts == 2 and row.sent_at is not None
    assert [m.to for m in flaky.sent] == ["someone@example.org"]
    assert outbox.deliver() == 0
    assert len(flaky.sent) == 1


def test_an_email_fails_for_good_after_max_attempts(
    database: Database, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = FlakySender(failures=10**6)
    monkeypatch.setattr(outbox, "sender", flaky)
    queue(database)  # attempt 1, after commit
    for attempt in range(2, MAX_ATTEMPTS + 1):
        (row,) = rows(session)
        assert row.status is EmailStatus.PENDING, attempt
        assert outbox.deliver() == 0
        (row,) = rows(session)
        assert row.attempts == attempt
    assert row.status is EmailStatus.FAILED
    assert row.last_error == "ConnectionRefusedError: mail server down"
    assert flaky.attempts == MAX_ATTEMPTS

    # A failed e-mail is not retried, even once the server is back.
    working = MemorySender()
    monkeypatch.setattr(outbox, "sender", working)
    assert outbox.deliver() == 0
    assert outbox.deliver([row.id]) == 0
    assert working.sent == []
    (row,) = rows(session)
    assert row.attempts == MAX_ATTEMPTS


def test_one_failing_email_does_not_hold_up_the_others(
    database: Database, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = FlakySender(failures=10**6)
    monkeypatch.setattr(outbox, "sender", down)
    queue(database, "first@example.org")
    queue(database, "second@example.org")
    assert all(r.status is EmailStatus.PENDING for r in rows(session))

    @dataclass
    class Picky:
        sent: list[Email] = field(default_factory=list)

        def send(self, email: Email) -> None:
            if email.to == "first@example.org":
                raise OSError("mailbox unavailable")
            self.sent.append(email)

    picky = Picky()
    monkeypatch.setattr(outbox, "sender", picky)
    assert outbox.deliver() == 1
    by_address = {r.to_address: r for r in rows(session)}
    assert by_address["first@example.org"].status is EmailStatus.PENDING
    assert by_address["first@example.org"].last_error == "OSError: mailbox unavailable"
    assert by_address["first@example.org"].attempts == 2
    assert by_address["second@example.org"].status is EmailStatus.SENT
    assert [m.to for m in picky.sent] == ["second@example.org"]


def test_deliver_with_ids_sends_only_those(
    database: Database, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "sender", FlakySender(failures=10**6))
    first = queue(database, "first@example.org")
    queue(database, "second@example.org")
    working = MemorySender()
    monkeypatch.setattr(outbox, "sender", working)
    assert outbox.deliver([first]) == 1
    assert [m.to for m in working.sent] == ["first@example.org"]
    assert outbox.deliver() == 1
    assert [m.to for m in working.sent] == ["first@example.org", "second@example.org"]
    assert outbox.deliver() == 0


# --- one-time secrets are not kept --------------------------------------------------------

SECRET = re.compile(r"wf[ir]_[A-Za-z0-9_-]{43}")
INVITATIONS = "/api/v1/invitations"


def stored(session: Session) -> str:
    """Everything the outbox table holds, as one text."""
    return "\n".join(str(value) for row in rows(session)
                     for value in (row.subject, row.body, row.secret, row.last_error))


def outbox_settings(client: ApiClient) -> Settings:
    return client.client.application.extensions["workforce"].settings


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record, with its extra fields."""
    return "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)


def test_reset_and_invitation_tokens_are_gone_from_the_table_once_sent(
    client: ApiClient, session: Session, mail: MemorySender, caplog: pytest.LogCaptureFixture
) -> None:
    """Found end to end: every token e-mailed stayed readable in outbound_emails.body,
    so anyone with the database or a backup could accept an invitation or reset a
    password. The body holds a placeholder; the secret is erased once sent."""
    caplog.set_level(logging.DEBUG)
    user = UserFactory()
    admin = StaffFactory(role=Role.ADMIN)
    assert client.post(RESET, json={"email": user.email}).status_code == 202
    invited = client.post(INVITATIONS, as_user=admin,
                          json={"email": "rui@example.org", "role": "reviewer"})
    assert invited.status_code == 201

    reset_token, invitation_token = (SECRET.search(m.body).group() for m in mail.sent)
    assert reset_token.startswith("wfr_") and invitation_token.startswith("wfi_")
    for row in rows(session):
        assert row.status is EmailStatus.SENT and row.secret is None
        assert "Reset token: {secret}" in row.body or "Invitation token: {secret}" in row.body
    assert not SECRET.search(stored(session))
    assert not SECRET.search(logged(caplog))
    # What was sent works.
    confirm = client.post(RESET + "/confirm",
                          json={"token": reset_token, "new_password": "a new long password"})
    assert confirm.status_code == 204
    accepted = client.post("/api/v1/auth/invitations/accept", json={
        "token": invitation_token, "password": "a new long password", "display_name": "Rui"})
    assert accepted.status_code == 201


def test_a_message_never_sent_keeps_its_secret_no_longer_than_the_token_lives(
    client: ApiClient, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    down = FlakySender(failures=10**6)
    monkeypatch.setattr(outbox, "sender", down)
    user = UserFactory()
    assert client.post(RESET, json={"email": user.email}).status_code == 202
    (row,) = rows(session)
    assert row.status is EmailStatus.PENDING and SECRET.fullmatch(row.secret or "")
    assert not SECRET.search(row.body)
    lifetime = outbox_settings(client).password_reset_lifetime

    with time_machine.travel(datetime.now(UTC) + lifetime + timedelta(seconds=1), tick=False):
        working = MemorySender()
        monkeypatch.setattr(outbox, "sender", working)
        assert outbox.deliver() == 0  # the scheduler's pass

    (row,) = rows(session)
    assert row.status is EmailStatus.FAILED and row.secret is None
    assert "expired" in (row.last_error or "")
    assert working.sent == [] and down.sent == []
    assert not SECRET.search(stored(session)) and not SECRET.search(logged(caplog))


def test_the_log_sender_logs_no_secret(
    client: ApiClient, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(outbox, "sender", FlakySender(failures=10**6))
    admin = StaffFactory(role=Role.ADMIN)
    client.post(INVITATIONS, as_user=admin, json={"email": "rui@example.org", "role": "admin"})
    (row,) = rows(session)
    token = row.secret
    assert token is not None and token.startswith("wfi_")

    monkeypatch.setattr(outbox, "sender", LogSender())
    assert outbox.deliver() == 1
    (row,) = rows(session)
    assert row.status is EmailStatus.SENT and row.secret is None
    assert "email not delivered (log sender)" in caplog.text
    assert token not in logged(caplog) and token not in stored(session)


def test_a_revoked_invitation_waiting_to_be_sent_is_not_sent(
    client: ApiClient, session: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "sender", FlakySender(failures=10**6))
    admin = StaffFactory(role=Role.ADMIN)
    invitation = client.post(INVITATIONS, as_user=admin,
                             json={"email": "rui@example.org", "role": "admin"}).get_json()
    assert client.delete(f"{INVITATIONS}/{invitation['id']}", as_user=admin).status_code == 200

    working = MemorySender()
    monkeypatch.setattr(outbox, "sender", working)
    assert outbox.deliver() == 0
    (row,) = rows(session)
    assert row.status is EmailStatus.FAILED and row.secret is None
    assert working.sent == []
