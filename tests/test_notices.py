
"""Notices that reach people (issue 19): stored as a kind and its parameters, put into
words in the reader's language when read (in-app) or queued (e-mail, plain text and
HTML); e-mailed for every event about money or access, and turned off only for others."""

from __future__ import annotations

import email
import email.policy
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
)
from tests.payout_helpers import approved_run_by_api, finance_user, item_of, trainer_owed
from tests.task_helpers import answered, claim, submit
from workforce.accounts.models import User
from workforce.db import Database
from workforce.i18n import HONG_KONG, LOCALES, MAINLAND
from workforce.jobs import run_job
from workforce.money import Money
from workforce.notifications import services as notifications
from workforce.notifications.models import Notification, OutboundEmail
from workforce.notifications.render import render
from workforce.notifications.senders import Email, MemorySender
from workforce.notifications.texts import NOTICES, moment, money
from workforce.projects.models import Project

API = "/api/v1"
T0 = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False):
        yield


def reader(locale: str | None, **fields: Any) -> User:
    return UserFactory(locale=locale, timezone=fields.pop("timezone", "Asia/Hong_Kong"),
                       **fields)


def staffed(*trainers: User, **fields: Any) -> tuple[Project, User]:
    manager = StaffFactory()
    project = ProjectFactory(name="粵語錄音", manager=manager, **fields)
    for trainer in trainers:
        MemberFactory(project=project, trainer=trainer)
    return project, manager


def mails_to(mail: MemorySender, user: User) -> list[Email]:
    return [sent for sent in mail.sent if sent.to == user.email]


def deliver(app: Flask) -> None:
    """The outbox job's pass: it sends what a project's members are told (written by the
    thousand, not sent by the request itself)."""
    app.extensions["workforce"].outbox.deliver()


def inbox(client: ApiClient, user: User, **headers: str) -> list[dict]:
    response = client.get(f"{API}/me/notifications", as_user=user, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


# --- one notice in each language --------------------------------------------------------

BONUS = {"organisation": "Acme", "amount": money(Money(123456, "HKD")), "reason": "Care."}


@pytest.mark.parametrize("locale, title, body", [
    ("en", "A bonus of HK$1,234.56", "Acme granted you a bonus of HK$1,234.56. Reason: Care."),
    (HONG_KONG, "HK$1,234.56 的獎金", "Acme 向你發放 HK$1,234.56 的獎金。原因：Care."),
    (MAINLAND, "HK$1,234.56 的奖金", "Acme 向你发放了 HK$1,234.56 的奖金。原因：Care."),
])
def test_a_notice_in_each_language(locale: str, title: str, body: str) -> None:
    text = render("earnings.bonus", BONUS, locale)
    assert (text.title, text.body) == (title, body)


@pytest.mark.parametrize("locale, when", [
    ("en", "Mar 15, 2025, 5:30:00\u202fPM (Hong Kong Standard Time)"),
    (HONG_KONG, "2025年3月15日 下午5:30:00（香港標準時間）"),
    (MAINLAND, "2025年3月15日 17:30:00（香港标准时间）"),
])
def test_moments_are_shown_in_the_readers_named_time_zone(locale: str, when: str) -> None:
    params = {"project": "P", "effective_from": moment(datetime(2025, 3, 15, 9, 30, tzinfo=UTC)),
              "rate": money(Money(250, "USD")), "previous_rate": None, "hourly": True,
              "reason": "R"}
    text = render("project.rate_changed", params, locale, "Asia/Hong_Kong")
    assert when in text.body
    assert "US$2.50" in text.body if locale != "en" else "$2.50" in text.body



def test_every_time_zone_is_named_in_every_shipped_locale() -> None:
    """Whatever zone a reader chose, the moment names it: never CLDR's "Unknown Region"
    (UTC and the Etc/ zones are named by their offset), in winter and in summer."""
    params = {"project": "P", "rate": money(Money(250, "USD")), "previous_rate": None,
              "hourly": True, "reason": "R"}
    for when in (datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
                 datetime(2025, 7, 15, 9, 30, tzinfo=UTC)):
        params["effective_from"] = moment(when)
        for zone in sorted(zoneinfo.available_timezones()):
            for locale in LOCALES:
                body = render("project.rate_changed", params, locale, zone).body
                assert "nknown" not in body and "未知" not in body, (zone, locale, body)
    assert "(UTC)" in render("project.rate_changed", params, "en", "UTC").body
    assert "(UTC-08:00)" in render("project.rate_changed", params, "en", "Etc/GMT+8").body


def test_every_notice_renders_in_every_shipped_locale_with_every_part() -> None:
    for kind, notice in NOTICES.items():
        params = {name: "x" for name in _placeholders(notice)}
        for locale in LOCALES:
            text = render(kind, params, locale)
            assert text.title and text.body and "%(" not in text.title + text.body, kind
            if locale != "en":
                assert render(kind, params, "en").body != text.body, (kind, locale)


def _placeholders(notice: Any) -> set[str]:
    parts = notice.title + notice.body
    return {name for part in parts for name in re.findall(r"%\((\w+)\)s", part.text)} | {
        part.when.lstrip("!") for part in parts if part.when}


# --- in-app: words at read time ----------------------------------------------------------


def test_the_inbox_speaks_the_readers_language_and_follows_a_change_of_it(
    client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    trainer = reader(HONG_KONG)
    _, manager = staffed(trainer)
    session.commit()
    granted = client.post(f"{API}/bonuses", as_user=manager, json={
        "trainer_id": str(trainer.id), "amount": 5000, "currency": "USD",
        "reason": "Great work.", "idempotency_key": "b-1"})
    assert granted.status_code == 201, granted.get_json()

    [note] = inbox(client, trainer)
    assert note["title"] == "US$50.00 的獎金"
    [sent] = mails_to(mail, trainer)  # a bonus is money: e-mailed, in the saved language
    assert sent.subject == "US$50.00 的獎金" and "原因：Great work." in sent.body
    # Stored: the kind, its parameters and the English words.
    row = session.scalars(select(Notification).where(Notification.user_id == trainer.id)).one()
    assert row.params["amount"] == {"$money": [5000, "USD"]}
    assert row.title == "A bonus of $50.00"

    changed = client.patch(f"{API}/me", as_user=trainer, json={"locale": MAINLAND})
    assert changed.status_code == 200, changed.get_json()
    [note] = inbox(client, trainer)
    assert note["title"] == "US$50.00 的奖金"
    assert "发放了 US$50.00 的奖金" in note["body"]


def test_without_a_saved_language_the_inbox_follows_accept_language(
    client: ApiClient, session: Session,
) -> None:
    trainer = reader(None)
    notifications.tell(session, trainer.id, "project.resumed",
                       {"project": "Cantonese", "suspension_cancelled": True})
    session.commit()
    response = client.get(f"{API}/me/notifications", as_user=trainer,
                          headers={"Accept-Language": "yue"})
    assert response.headers["Content-Language"] == HONG_KONG
    [note] = response.get_json()["items"]
    assert note["title"] == "Cantonese 已恢復"
    assert note["body"] == "Cantonese 的工作已重新開放。先前公布的中止安排已取消。"
    [note] = inbox(client, trainer)
    assert note["body"] == "Work on Cantonese is open again. The announced suspension is cancelled."


def test_older_notifications_keep_their_stored_english(
    client: ApiClient, session: Session,
) -> None:
    trainer = reader(MAINLAND)
    session.add(Notification(user_id=trainer.id, kind="project.resumed", title="Old title",
                             body="Old words.", data={}, created_at=datetime.now(UTC)))
    session.commit()
    [note] = inbox(client, trainer)
    assert (note["title"], note["body"]) == ("Old title", "Old words.")


# --- e-mails: the recipient's language, plain text and HTML -----------------------------


def test_an_email_in_each_language_has_a_plain_and_an_html_part(
    app: Flask, client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    readers = {locale: reader(None if locale == "en" else locale) for locale in LOCALES}
    project, manager = staffed(*readers.values())
    session.commit()
    paused = client.post(f"{API}/projects/{project.id}/pause", as_user=manager, json={
        "reason": "Waiting for <audio> & data.",
        "expected_resume_at": (T0 + 10 * DAY).isoformat()})
    assert paused.status_code == 200, paused.get_json()
    assert mail.sent == []
    deliver(app)

    subjects = {"en": "粵語錄音 is paused", HONG_KONG: "粵語錄音 已暫停",
                MAINLAND: "粵語錄音 已暂停"}
    resume = {"en": "It is expected to resume on Mar 22, 2025.",
              HONG_KONG: "預計於 2025年3月22日 恢復。", MAINLAND: "预计于 2025年3月22日 恢复。"}
    for locale, user in readers.items():
        [sent] = mails_to(mail, user)
        assert sent.subject == subjects[locale]
        message = email.message_from_bytes(bytes(sent.message("workforce@example.org")),
                                           _class=EmailMessage, policy=email.policy.default)
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert resume[locale] in plain and resume[locale] in html
        assert "Waiting for <audio> & data." in plain
        assert "Waiting for &lt;audio&gt; &amp; data." in html and "<audio>" not in html
        assert f'<html lang="{locale}">' in html


def test_one_time_link_emails_are_translated_and_keep_their_secret_apart(
    client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    user = reader(HONG_KONG, email="reset@example.org")
    session.commit()
    asked = client.post(f"{API}/auth/password-reset", json={"email": user.email})
    assert asked.status_code == 202, asked.get_json()
    [sent] = mails_to(mail, user)
    assert sent.subject == "重設你的 workforce 密碼"
    assert "重設代碼：wfr_" in sent.body and "重設代碼：wfr_" in (sent.html or "")


# --- e-mails for every event about money or access ---------------------------------------


def test_suspension_announced_with_its_date_and_kill_fee_then_applied(
    app: Flask, client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    trainer = reader(MAINLAND)
    project, manager = staffed(trainer)
    session.commit()
    announced = client.post(f"{API}/projects/{project.id}/suspension", as_user=manager,
                            json={"reason": "预算撤回。", "effective_at": (T0 + DAY).isoformat()})
    assert announced.status_code == 201, announced.get_json()
    deliver(app)
    [sent] = mails_to(mail, trainer)
    assert sent.subject == "粵語錄音 将被中止"
    assert ("粵語錄音 将于 2025年3月13日 17:30:00（香港标准时间） 起中止。"
            "原因：预算撤回。") in sent.body
    assert "终止补偿金 US$0.00" in sent.body  # nothing earned in the 14 days before

    with time_machine.travel(T0 + 2 * DAY, tick=False):
        assert run_job("projects.apply_due_suspensions", app.extensions["workforce"]) == (
            "suspensions applied: 1")
        deliver(app)
    applied = [m for m in mails_to(mail, trainer) if m.subject == "粵語錄音 已中止"]
    assert len(applied) == 1 and "已提交的工作仍会得到审核并支付报酬" in applied[0].body


def test_resume_removal_and_rate_change_are_emailed(
    app: Flask, client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    trainer = reader("en")
    project, manager = staffed(trainer)
    session.commit()
    base = f"{API}/projects/{project.id}"
    assert client.post(f"{base}/pause", as_user=manager,
                       json={"reason": "Audit."}).status_code == 200
    assert client.post(f"{base}/resume", as_user=manager).status_code == 200
    rate = client.post(f"{base}/rates", as_user=manager, json={
        "amount": 900, "reason": "Harder clips.", "effective_from": (T0 + DAY).isoformat()})
    assert rate.status_code == 201, rate.get_json()
    [member] = client.get(f"{base}/members", as_user=manager).get_json()["items"]
    removed = client.post(f"{base}/members/{member['id']}/remove", as_user=manager,
                          json={"reason": "Left the team."})
    assert removed.status_code == 200, removed.get_json()
    deliver(app)

    sent = {m.subject: m for m in mails_to(mail, trainer)}
    assert sorted(sent) == sorted(["粵語錄音 is paused", "粵語錄音 has resumed",
                                   "Pay rate changed: 粵語錄音", "Removed from project: 粵語錄音"])
    rate_mail = sent["Pay rate changed: 粵語錄音"]
    assert "pays $9.00 a task" in rate_mail.body and "Harder clips." in rate_mail.body


def test_payouts_sent_and_failed_are_emailed(
    app: Flask, client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    fin = finance_user()
    paid_one = trainer_owed(fin.organisation_id, 4200, method="manual")
    failed_one = trainer_owed(fin.organisation_id, 900, method="manual")
    paid_one.locale, failed_one.locale = HONG_KONG, MAINLAND
    session.commit()
    with time_machine.travel(datetime(2025, 3, 17, 3, 0, tzinfo=UTC), tick=False):
        approved_run_by_api(client, session, fin)
        sent = client.post(f"{API}/payout-items/{item_of(session, paid_one).id}/manual-payment",
                           as_user=fin, json={"reference": "BANK-1"})
        assert sent.status_code == 200, sent.get_json()
        failed = client.post(
            f"{API}/payout-items/{item_of(session, failed_one).id}/manual-failure",
            as_user=fin, json={"reason": "Account closed."})
        assert failed.status_code == 200, failed.get_json()
    # A run's items are many: the outbox job sends these (finance was told the run waits).
    assert mails_to(mail, paid_one) == mails_to(mail, failed_one) == []
    deliver(app)

    [to_paid] = mails_to(mail, paid_one)
    assert to_paid.subject == "已發出 US$42.00 的付款"
    assert "參考編號：BANK-1" in to_paid.body
    [to_failed] = mails_to(mail, failed_one)
    assert to_failed.subject == "US$9.00 的付款失败"
    assert "Account closed." in to_failed.body and "待付余额" in to_failed.body


@pytest.mark.parametrize("kind", sorted(k for k, n in NOTICES.items()
                                        if n.in_app and n.email and n.email_required))
def test_money_and_access_emails_go_out_for_every_kind(
    app: Flask, session: Session, mail: MemorySender, kind: str,
) -> None:
    """The registry's side of every kind the services send (the quality rules' kind
    included, which another module raises)."""
    trainer = reader(HONG_KONG)
    params = {name: "x" for name in _placeholders(NOTICES[kind])}
    notifications.tell(session, trainer.id, kind, params)
    session.commit()
    deliver(app)
    [sent] = mails_to(mail, trainer)
    assert sent.subject == render(kind, params, HONG_KONG).title and sent.html


# --- a quality rule's restriction: access, told and e-mailed in the reader's language ---

FAST = {"kind": "fast_submissions", "sample_size": 1, "max_fast": 0, "min_seconds": 600,
        "duration_hours": 24}


def restricted(client: ApiClient, trainer: User, manager_locale: str | None = None) -> User:
    """A project whose rule catches the trainer's first submission (5 s, under 600 s);
    returns its manager."""
    project, manager = staffed(trainer, review_sample_percent=0)
    manager.locale = manager_locale
    TaskFactory(project=project)
    answered(client.post(f"{API}/projects/{project.id}/quality-rules", as_user=manager,
                         json=FAST), 201)
    lease = answered(claim(client, trainer, project), 201)
    answered(submit(client, trainer, lease["id"], active_seconds=5))
    return manager


@pytest.mark.parametrize("locale, title, until, why", [
    ("en", "Restricted on 粵語錄音",
     "until Mar 13, 2025, 5:30:00\u202fPM (Hong Kong Standard Time).",
     "Why: 1 of your last 1 submissions were submitted in under 600 seconds, more than the "
     "rule's 0."),
    (HONG_KONG, "你在 粵語錄音 受到限制", "2025年3月13日 下午5:30:00",
     "原因：你最近 1 次提交中有 1 次在 600 秒內提交，多於規則容許的 0 次。"),
    (MAINLAND, "你在 粵語錄音 受到限制", "2025年3月13日 17:30:00",
     "原因：你最近 1 次提交中有 1 次在 600 秒内提交，超过规则允许的 0 次。"),
])
def test_a_quality_restriction_is_told_and_emailed_in_the_trainers_language(
    client: ApiClient, mail: MemorySender, locale: str, title: str, until: str, why: str,
) -> None:
    trainer = reader(locale)
    restricted(client, trainer)
    [note] = inbox(client, trainer)
    assert (note["kind"], note["title"]) == ("quality.restricted", title)
    assert until in note["body"] and why in note["body"]
    [email] = mails_to(mail, trainer)  # access: e-mailed, and it cannot be turned off
    assert email.subject == title and until in email.body and why in email.body
    assert NOTICES["quality.restricted"].email_required


def test_a_managers_notice_of_an_appeal_and_the_decision_are_in_each_readers_language(
    client: ApiClient, mail: MemorySender,
) -> None:
    trainer = reader(HONG_KONG)
    manager = restricted(client, trainer, manager_locale=MAINLAND)
    [restriction] = answered(client.get(f"{API}/me/quality-restrictions",
                                        as_user=trainer))["items"]
    answered(client.post(f"{API}/me/quality-restrictions/{restriction['id']}/appeal",
                         as_user=trainer, json={"appeal": "錄音斷咗。"}))
    [to_manager] = mails_to(mail, manager)
    assert to_manager.subject == "有质量限制待复核：粵語錄音"
    assert "请维持、缩短或解除该限制" in to_manager.body and "錄音斷咗" not in to_manager.body
    [alert] = inbox(client, manager)
    assert alert["kind"] == "quality.appeal_received"
    assert alert["title"] == "有质量限制待复核：粵語錄音"

    answered(client.post(f"{API}/quality-restrictions/{restriction['id']}/decision",
                         as_user=manager, json={"decision": "lift", "reason": "片段太短。"}))
    decided = [m for m in mails_to(mail, trainer) if m.subject.startswith("關於你的限制")]
    assert [m.subject for m in decided] == ["關於你的限制的決定：粵語錄音"]
    assert "你在 粵語錄音 的限制已解除" in decided[0].body and "片段太短。" in decided[0].body


# --- preferences ----------------------------------------------------------------------------

PREFS = f"{API}/me/notification-preferences"


def test_a_trainer_turns_off_an_email_about_neither_money_nor_access(
    client: ApiClient, session: Session, mail: MemorySender,
) -> None:
    trainer = reader("en")
    project, manager = staffed()
    session.commit()
    listed = {p["kind"]: p for p in client.get(PREFS, as_user=trainer).get_json()["email"]}
    assert listed["project.invited"] == {"kind": "project.invited", "topic": "work",
                                         "email": True, "required": False}
    assert listed["payout.failed"]["required"] is True

    off = client.patch(PREFS, as_user=trainer, json={"email": {"project.invited": False}})
    assert off.status_code == 200, off.get_json()
    assert {p["kind"]: p["email"] for p in off.get_json()["email"]}["project.invited"] is False

    invited = client.post(f"{API}/projects/{project.id}/invitations", as_user=manager,
                          json={"trainer_ids": [str(trainer.id)]})
    assert invited.status_code == 200, invited.get_json()
    assert [n["kind"] for n in inbox(client, trainer)] == ["project.invited"]
    assert mails_to(mail, trainer) == []


def test_emails_about_money_and_access_cannot_be_turned_off(
    client: ApiClient, session: Session,
) -> None:
    trainer = reader(HONG_KONG)
    session.commit()
    refused = client.patch(PREFS, as_user=trainer, json={"email": {
        "project.invited": False, "payout.failed": False, "no.such": False}})
    problem = assert_problem(refused, 422, code="email-required")
    assert problem["detail"] == "有關款項及存取權限的電郵不能關閉。"
    assert problem["errors"] == {"email.payout.failed": ["有關款項的電郵不能關閉。"],
                                 "email.no.such": ["沒有這種以電郵發送的通知。"]}
    # Nothing changed, not even the kind that may be turned off.
    listed = {p["kind"]: p["email"] for p in client.get(PREFS, as_user=trainer).get_json()["email"]}
    assert listed["project.invited"] is True and listed["payout.failed"] is True


def test_notices_told_together_reach_each_reader_in_their_language_in_four_statements(
    session: Session, database: Database
) -> None:
    """``tell_many`` (a batch of payments): each reader's inbox and e-mail in their own
    language, nothing e-mailed to the one who turned the kind off, and a statement each
    for the users, their opt-outs, the notifications and the e-mails."""
    readers = [reader(None), reader(HONG_KONG), reader(MAINLAND)]
    notifications.set_email_preferences(session, readers[2], {"project.invited": False})
    notices = [notifications.Notice(r.id, {"project": f"Project {n}", "message": ""},
                                    {"n": n}) for n, r in enumerate(readers)]
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(statement.split()[0])

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        ids = notifications.tell_many(session, "project.invited", notices)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)

    assert statements == ["SELECT", "SELECT", "INSERT", "INSERT"]
    told = {n.id: n for n in session.scalars(
        select(Notification).where(Notification.id.in_(ids)))}
    assert [(told[i].user_id, told[i].data) for i in ids] == [
        (r.id, {"n": n}) for n, r in enumerate(readers)]
    emails = {e.to_address: e for e in session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_address.in_([r.email for r in readers])))}
    assert set(emails) == {readers[0].email, readers[1].email}
    for r in readers[:2]:
        expected = render("project.invited", {"project": f"Project {readers.index(r)}",
                                              "message": ""}, r.locale, r.timezone)
        assert emails[r.email].subject == expected.title
    assert emails[readers[0].email].subject != emails[readers[1].email].subject


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=st.dictionaries(st.sampled_from(sorted(k for k, n in NOTICES.items()
                                                      if n.in_app and n.email)), st.booleans()))
def test_preferences_never_silence_money_or_access(session: Session, choices: dict) -> None:
    user = StaffFactory()
    allowed = {k: v for k, v in choices.items() if not NOTICES[k].email_required}
    notifications.set_email_preferences(session, user, allowed)
    for preference in notifications.email_preferences(session, user):
        assert preference.email is (True if preference.required
                                    else allowed.get(preference.kind, True))
        assert notifications.wants_email(session, user, preference.kind) is preference.email


def test_notices_told_at_one_time_are_read_in_the_order_they_were_told(
    client: ApiClient, session: Session
) -> None:
    """A request tells a trainer several things at one ``now`` (a decision, then its
    taking effect); the inbox (newest first, by time then id) keeps that order, since
    notification ids increase as they are made (``db.ordered_id``)."""
    trainer = UserFactory()
    amounts = [100 * n for n in range(1, 11)]
    with time_machine.travel(datetime(2030, 1, 7, 8, tzinfo=UTC), tick=False):
        for amount in amounts:
            notifications.tell(session, trainer.id, "earnings.bonus",
                               {**BONUS, "amount": money(Money(amount, "HKD"))})
        session.commit()
    titles = [item["title"] for item in inbox(client, trainer)]
    assert titles == [f"A bonus of HK${amount / 100:,.2f}" for amount in amounts[::-1]]
