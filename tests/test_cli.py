"""The ``workforce`` command, run in-process against the test database."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import PASSWORD
from workforce import demo
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.assessments.models import Assessment, AssessmentState
from workforce.cli import main, served_url


@pytest.fixture
def run(app: Flask, session: Session):
    runner = app.test_cli_runner()

    def invoke(*args: str, **kwargs):
        result = runner.invoke(main, list(args), catch_exceptions=False, **kwargs)
        session.expire_all()
        return result

    return invoke


def test_demo_seeds_once_and_prints_tokens_once(run, session: Session, client) -> None:
    first = run("demo")
    assert first.exit_code == 0, first.output
    tokens = [line.split()[-1] for line in first.output.splitlines() if "wf_" in line]
    assert len(tokens) == 6
    users = session.scalars(select(User).where(User.email.like("%@demo.example.org"))).all()
    assert sorted(u.role for u in users) == sorted(
        [Role.ADMIN, Role.VENDOR_MANAGER, Role.FINANCE, Role.TRAINER, Role.TRAINER, Role.TRAINER]
    )
    # Every printed token works.
    for token in tokens:
        assert client.get("/api/v1/me", token=token).status_code == 200
    # A published, paid listening test is there to try.
    assessment = session.scalars(select(Assessment)).one()
    assert assessment.state is AssessmentState.PUBLISHED
    assert [len(v.questions) for v in assessment.versions] == [4]
    assert assessment.versions[0].stipend_amount == 500
    # Mei (the first trainer) is staffed on both projects and has work to claim.
    mei = tokens[3]
    mine = client.get("/api/v1/me/projects", token=mei).get_json()["items"]
    assert sorted(p["pay_model"] for p in mine) == ["hourly"] + ["per_task"] * 5
    labelling = next(p for p in mine if p["name"].endswith("Accent labelling"))
    claim = client.post(f"/api/v1/projects/{labelling['id']}/claims", token=mei, json={})
    assert claim.status_code == 201, claim.get_data(as_text=True)
    assert claim.get_json()["external_id"] == "clip-001"
    # Her welcome bonus is payable, and her bank details are ready for the weekly run.
    summary = client.get("/api/v1/me/earnings/summary", token=mei).get_json()
    usd = next(c for c in summary["currencies"] if c["currency"] == "USD")
    assert usd["payable"] == 500
    assert client.get("/api/v1/me/payout-account", token=mei).get_json()["ready"] is True
    # The red-teaming project carries its warning, and joining it needs consent first.
    market = client.get("/api/v1/marketplace/projects", token=mei).get_json()["items"]
    red_team = next(p for p in market if p["name"].startswith("Red-team"))
    assert red_team["content_warning"]["sensitivity"] == "graphic"
    refused = client.post(f"/api/v1/marketplace/projects/{red_team['id']}/applications",
                          token=mei,
                          json={})
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert refused.get_json()["type"].endswith("consent-required")
    schedules = client.get("/api/v1/payout-schedules", token=tokens[2]).get_json()["items"]
    assert [(s["name"], s["timezone"]) for s in schedules] == [("Weekly", "Europe/Dublin")]

    second = run("demo")
    assert second.exit_code == 0
    assert "present already" in second.output
    assert "wf_" not in second.output
    count = session.scalar(select(func.count()).select_from(Organisation).where(
        Organisation.slug == demo.DEMO_SLUG))
    assert count == 1
    assert session.scalar(select(func.count()).select_from(User).where(
        User.email.like("%@demo.example.org"))) == 6
    assert session.scalar(select(func.count()).select_from(Assessment)) == 1


def test_demo_seeds_projects_with_task_templates_and_gold(run, client) -> None:
    """A voice naturalness test (rating and accent, on audio), a chatbot comparison
    (pairwise with a reason) and rubric writing (20 criteria or more, cited), each with
    gold tasks that score Mei's work."""
    tokens = [line.split()[-1] for line in run("demo").output.splitlines() if "wf_" in line]
    manager, mei = tokens[1], tokens[3]
    mine = {p["name"]: p["id"] for p in
            client.get("/api/v1/me/projects", token=mei).get_json()["items"]}
    kinds = {}
    for name, project_id in mine.items():
        template = client.get(f"/api/v1/projects/{project_id}/template", token=mei).get_json()
        if template["version"] is not None:
            kinds[name] = [f["kind"] for f in template["fields"]]
    voice, compare, rubric, reading = (
        next(n for n in kinds if word in n)
        for word in ("naturalness", "Chatbot", "Rubric", "read aloud"))
    # The read-aloud task asks for a recording (tests/test_uploads.py takes one).
    assert kinds == {voice: ["rating", "single_choice"], compare: ["pairwise"],
                     rubric: ["rubric"], reading: ["recording"]}
    for name in (voice, compare, rubric):
        tasks = client.get(f"/api/v1/projects/{mine[name]}/tasks", token=manager,
                           query_string={"limit": 50}).get_json()["items"]
        assert sum(t["gold_answer"] is not None for t in tasks) >= 1

    lease = client.post(f"/api/v1/projects/{mine[voice]}/claims", token=mei, json={})
    assert lease.status_code == 201, lease.get_data(as_text=True)
    lease = lease.get_json()
    [mos, accent] = lease["template"]["fields"]
    assert (mos["settings"]["min"], mos["settings"]["max"]) == (1, 5)
    assert mos["settings"]["min_label"] and mos["settings"]["max_label"]
    assert [o["value"] for o in accent["settings"]["options"]] == ["yue-HK", "yue-CN", "other"]
    assert lease["payload"]["media_urls"][0].endswith(".ogg")
    done = client.post(f"/api/v1/me/assignments/{lease['id']}/submit", token=mei,
                       json={"answer": {"naturalness": 4, "accent": "yue-HK"},
                             "active_seconds": 60})
    assert done.status_code == 200, done.get_data(as_text=True)

    lease = client.post(f"/api/v1/projects/{mine[compare]}/claims", token=mei,
                        json={}).get_json()
    first, second = (r["id"] for r in lease["payload"]["responses"])
    assert first.endswith("-a") and second == first[:-1] + "b"  # the task's own two
    done = client.post(f"/api/v1/me/assignments/{lease['id']}/submit", token=mei, json={
        "answer": {"preference": {"choice": "B", "strength": 1,
                                  "reason": "B is shorter, which I prefer here."}},
        "active_seconds": 60})
    assert done.status_code == 200, done.get_data(as_text=True)
    # The rating within its tolerance and the accent: 1; the wrong side: 0.
    [quality] = client.get("/api/v1/me/quality", token=mei).get_json()["organisations"]
    assert (quality["gold_scored"], quality["quality_score"]) == (2, "0.5000")

    settings = client.get(f"/api/v1/projects/{mine[rubric]}/template",
                          token=mei).get_json()["fields"][0]["settings"]
    assert settings["min_criteria"] >= 20 and settings["min_citations"] >= 1


def test_demo_accounts_log_in_with_the_printed_password(run, client) -> None:
    run("demo")
    response = client.post("/api/v1/auth/login", json={
        "email": "mei@demo.example.org", "password": demo.DEMO_PASSWORD})
    assert response.status_code == 200
    assert response.get_json()["user"]["languages"] == ["yue-HK", "en-GB"]


def test_create_admin(run, session: Session) -> None:
    result = run("create-admin", "--organisation", "Cantonese Voices Ltd",
                 "--email", "Boss@Voices.example", "--display-name", "Boss",
                 "--password", "a long enough password")
    assert result.exit_code == 0, result.output
    admin = session.scalars(select(User).where(User.email == "boss@voices.example")).one()
    assert admin.role is Role.ADMIN
    assert admin.organisation.slug == "cantonese-voices-ltd"
    event = session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(admin.id))).one()
    assert event.actor_label == "cli:create-admin"

    # A second admin joins the existing organisation.
    run("create-admin", "--organisation", "Cantonese Voices Ltd", "--email", "two@voices.example",
        "--display-name", "Two", "--password", "another long password")
    assert session.scalar(select(func.count()).select_from(Organisation)) == 1


def test_create_admin_refuses_bad_input_and_writes_nothing(run, session: Session) -> None:
    result = run("create-admin", "--organisation", "Org", "--email", "x@example.org",
                 "--display-name", "X", "--password", "short")
    assert result.exit_code == 1
    assert "password" in result.output
    assert session.scalar(select(func.count()).select_from(Organisation)) == 0
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_password_is_prompted_and_hidden(run, session: Session) -> None:
    result = run("create-admin", "--organisation", "Org", "--email", "p@example.org",
                 "--display-name", "P", input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output


def test_db_upgrade_and_downgrade_on_a_fresh_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'fresh.db'}"
    env = {"WORKFORCE_DATABASE_URL": url, "WORKFORCE_ENV": "test"}
    runner = CliRunner()
    up = runner.invoke(main, ["db", "upgrade"], env=env)
    assert up.exit_code == 0, up.output
    assert (tmp_path / "var" / "fresh.db").exists()
    down = runner.invoke(main, ["db", "downgrade", "--revision", "base"], env=env)
    assert down.exit_code == 0, down.output


def test_bad_configuration_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["demo"], env={"WORKFORCE_ENV": "production"})
    assert result.exit_code == 1
    assert "WORKFORCE_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_scheduler_registers_the_jobs(app: Flask) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from workforce.jobs import build_scheduler

    scheduler = build_scheduler(BackgroundScheduler, app.extensions["workforce"])
    assert {job.id for job in scheduler.get_jobs()} == {
        "notifications.deliver_outbox", "accounts.purge_expired_credentials",
        "assessments.close_expired_attempts", "projects.expire_leases",
        "projects.close_idle_sessions", "projects.apply_due_suspensions",
        "projects.refresh_budgets",
        "standing.follow_up_account_actions",
        "projects.auto_approve_submissions", "projects.auto_approve_timesheets",
        "billing.create_due_runs", "billing.process_approved_runs", "billing.reconcile",
        "wellbeing.close_sessions_at_limits",
        "wellbeing.prompt_due_check_ins",
        "billing.settle_fair_pay", "billing.grant_counselling_allowances",
        "privacy.prepare_data_exports", "privacy.delete_expired_exports",
        "privacy.carry_out_erasures",
        "integrations.deliver_webhooks", "integrations.purge_old_webhook_events",
        "results.aggregate", "uploads.delete_expired_files",
    }


def test_jobs_are_listed_and_run_once_by_hand(run, session: Session) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.factories import ProjectFactory, TaskFactory, UserFactory, staff
    from workforce.jobs import JOBS
    from workforce.projects.models import Assignment, AssignmentState

    listed = run("jobs", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == len(JOBS)
    assert any(line.split() == ["projects.expire_leases", "every", "1", "min"]
               for line in lines)
    assert any(line.split() == ["billing.reconcile", "daily", "at", "04:41", "UTC"]
               for line in lines)

    project = ProjectFactory(lease_seconds=600)
    trainer = UserFactory()
    staff(project, trainer)
    task = TaskFactory(project=project, open_slots=0)
    claimed = datetime.now(UTC) - timedelta(hours=2)
    lease = Assignment(task_id=task.id, project_id=project.id, trainer_id=trainer.id,
                       claimed_at=claimed, lease_expires_at=claimed + timedelta(minutes=10))
    session.add(lease)
    session.commit()

    once = run("jobs", "run", "projects.expire_leases")
    assert once.exit_code == 0, once.output
    assert once.output.strip() == "projects.expire_leases: task leases expired: 1"
    assert session.get(Assignment, lease.id).state is AssignmentState.EXPIRED
    again = run("jobs", "run", "projects.expire_leases")
    assert again.output.strip() == "projects.expire_leases: nothing to do"

    unknown = run("jobs", "run", "projects.expire_everything")
    assert unknown.exit_code == 2
    assert "no job 'projects.expire_everything'" in unknown.output
    assert "billing.reconcile" in unknown.output


# --- the development server, for real ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _workforce(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and command)
        [sys.executable, "-m", "workforce.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _call(url: str, *, body: dict | None = None, token: str | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 (our own server on 127.0.0.1)
        url, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    return urllib.request.urlopen(request, timeout=10)  # noqa: S310


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``workforce serve --port P`` in development, on a SQLite database of its own."""
    port = _free_port()
    database = tmp_path_factory.mktemp("served") / "served.db"
    env = {**os.environ, "WORKFORCE_ENV": "development", "WORKFORCE_EMAIL_SENDER": "log",
           "WORKFORCE_DATABASE_URL": f"sqlite:///{database}",
           "WORKFORCE_SCHEDULER_ENABLED": "false", "WORKFORCE_ADMIN_PASSWORD": PASSWORD}
    env.pop("WORKFORCE_PUBLIC_BASE_URL", None)
    for args in (("db", "upgrade"), ("create-admin", "--organisation", "Served",
                                     "--email", "admin@example.org", "--display-name", "Ada")):
        done = _workforce(*args, env=env)
        assert done.wait(120) == 0, done.communicate()
    server = _workforce("serve", "--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _call(f"{base}/api/v1/health").close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, \
                    server.communicate(timeout=5)
                time.sleep(0.2)
        yield base, database
    finally:
        server.terminate()
        server.communicate(timeout=30)


@pytest.mark.slow
def test_the_development_server_names_no_versions(served: tuple[str, Path]) -> None:
    """Found end to end: it answered ``Server: Werkzeug/3.1.x Python/3.11.x``."""
    base, _database = served
    with _call(f"{base}/api/v1/health") as response:
        assert response.headers["Server"] == "workforce"


@pytest.mark.slow
def test_serve_port_is_the_address_in_email_links(served: tuple[str, Path]) -> None:
    """Found end to end: links said port 8000 whatever --port was. Without
    WORKFORCE_PUBLIC_BASE_URL they name the address the server listens on."""
    base, database = served
    with _call(f"{base}/api/v1/auth/login",
               body={"email": "admin@example.org", "password": PASSWORD}) as response:
        token = json.load(response)["token"]
    # An admin enrols a second factor before anything else.
    with _call(f"{base}/api/v1/me/mfa/totp", token=token, body={}) as response:
        secret = json.load(response)["secret"]
    with _call(f"{base}/api/v1/me/mfa/totp/confirm", token=token,
               body={"code": pyotp.TOTP(secret).now()}):
        pass
    with _call(f"{base}/api/v1/invitations", token=token,
               body={"email": "rui@example.org", "role": "reviewer"}) as response:
        acceptance = json.load(response)["acceptance"]
    accept_url = f"{base}/api/v1/auth/invitations/accept"
    assert acceptance["url"] == accept_url  # shown in development only
    with contextlib.closing(sqlite3.connect(database)) as db:
        (body,) = db.execute("SELECT body FROM outbound_emails").fetchone()
    assert f"POST {accept_url} before" in body


def test_served_url_of_a_wildcard_host_is_the_loopback() -> None:
    assert served_url("0.0.0.0", 8123) == "http://127.0.0.1:8123"  # noqa: S104
    assert served_url("::1", 8123) == "http://[::1]:8123"
    assert served_url("workforce.example.org", 80) == "http://workforce.example.org:80"


def test_webhook_delivery_runs_by_hand_and_says_what_it_did(run, session: Session) -> None:
    from tests.factories import StaffFactory
    from tests.webhook_receiver import receiving
    from workforce.accounts.models import Role
    from workforce.integrations import endpoints
    from workforce.integrations.catalogue import EventType
    from workforce.integrations.events import emit

    admin = StaffFactory(role=Role.ADMIN)
    with receiving() as receiver:
        endpoints.create_endpoint(session, admin, url=receiver.url,
                                  event_types=["import.finished"], allow_loopback=True)
        emit(session, admin.organisation_id, EventType.IMPORT_FINISHED, {"rows": 1})
        session.commit()
        first = run("jobs", "run", "integrations.deliver_webhooks")
        again = run("jobs", "run", "integrations.deliver_webhooks")
    assert "webhook delivery attempts: 1" in first.output
    assert "nothing to do" in again.output
    assert len(receiver.received) == 1
