"""Every error is application/problem+json with a request id, never a stack trace."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, QualificationFactory, StaffFactory, UserFactory
from workforce.accounts.models import Role, User
from workforce.api.security import policy_of
from workforce.app import create_app
from workforce.db import Database
from workforce.notifications.models import Notification, OutboundEmail
from workforce.notifications.senders import MemorySender
from workforce.notifications.services import OUTBOX_KEY
from workforce.settings import Settings

SIGNUP = "/api/v1/auth/signup"


def signup_body(**overrides: object) -> dict:
    return {
        "email": "new.trainer@example.org",
        "password": "a long enough password",
        "display_name": "New Trainer",
        "country": "HK",
        "timezone": "Asia/Hong_Kong",
        "languages": ["yue-HK"],
        **overrides,
    }


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_malformed_json_is_400(client: ApiClient) -> None:
    response = client.post(
        SIGNUP, data='{"email": ', headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 400, code="malformed-json")
    assert "JSON" in body["detail"]


DEEP = "[" * 200_000  # parsing it overflows the interpreter's stack


def _body_routes(app: Flask) -> list[tuple[str, str, frozenset[Role] | None]]:
    """Every route that takes a body: (method, URL with made-up ids, roles allowed)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        policy = policy_of(app.view_functions[rule.endpoint])
        assert policy is not None, rule.endpoint
        url = re.sub(r"<(?:uuid:)?\w+>", lambda _m: str(uuid.uuid4()), rule.rule)
        found += [(method, url, policy.roles)
                  for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"})]
    assert len(found) > 80  # the walk is not vacuous
    return found


def test_json_nested_too_deep_to_parse_is_400_on_every_route(
    app: Flask, client: ApiClient
) -> None:
    """Found end to end: '[' * 200000 as the body of PATCH /me was a 500 (the parser's
    RecursionError is no ValueError). Every route that takes a body answers 400."""
    callers = {role: (UserFactory() if role is Role.TRAINER else StaffFactory(role=role))
               for role in Role}
    wrong = []
    for method, url, roles in _body_routes(app):
        caller = None if roles is None else callers[sorted(roles)[0]]
        response = client.request(method, url, as_user=caller, data=DEEP,
                                  content_type="application/json")
        if response.status_code != 400 or "malformed-json" not in response.get_json()["type"]:
            wrong.append(f"{method} {url}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("depth", [900, 5_000])
def test_deep_but_parseable_json_is_an_answer_not_a_crash(
    client: ApiClient, depth: int
) -> None:
    """Nesting the parser manages (or nearly) must not overflow the checks after it."""
    trainer = UserFactory()
    body = "[" * depth + '"a\\u0000"' + "]" * depth
    response = client.patch("/api/v1/me", as_user=trainer, data=body,
                            content_type="application/json")
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    assert_problem(response, response.status_code)


EDGES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")


@pytest.mark.parametrize("edge", EDGES)
def test_times_utc_cannot_hold_are_422_out_of_range(client: ApiClient, edge: str) -> None:
    """Found end to end: each of these was a 500 (an OverflowError converting to UTC)."""
    project = ProjectFactory()
    manager = StaffFactory(role=Role.VENDOR_MANAGER, organisation_id=project.organisation_id)
    admin = StaffFactory(role=Role.ADMIN, organisation_id=project.organisation_id)
    qualification = QualificationFactory(organisation_id=project.organisation_id)
    trainer = UserFactory()
    query = {"since": edge, "until": edge}
    calls = {
        "effective_from": client.post(
            f"/api/v1/projects/{project.id}/rates", as_user=manager,
            json={"amount": 300, "effective_from": edge, "reason": "A new rate."}),
        "expires_at": client.post(
            f"/api/v1/qualifications/{qualification.id}/grants", as_user=manager,
            json={"trainer_id": str(trainer.id), "reason": "Passed in person.",
                  "expires_at": edge}),
        "since": client.get("/api/v1/audit-events", as_user=admin, query_string=query),
        "from": client.get("/api/v1/me/time-entries", as_user=trainer,
                           query_string={"from": edge, "to": edge}),
    }
    for field, response in calls.items():
        body = assert_problem(response, 422, code="validation-error")
        assert body["errors"][field] == ["Out of range."], (field, body)


def test_unknown_route_is_404(client: ApiClient) -> None:
    for path in ("/api/v1/nothing-here", "/", "/api/v2/users"):
        assert_problem(client.get(path), 404, code="not-found")


def test_a_path_converter_that_does_not_match_is_404(client: ApiClient) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    assert_problem(client.get("/api/v1/users/not-a-uuid", as_user=admin), 404, code="not-found")


def test_wrong_method_is_405_with_allow(client: ApiClient) -> None:
    response = client.delete("/api/v1/me")
    assert_problem(response, 405, code="method-not-allowed")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed
    assert "DELETE" not in allowed
    response = client.get(SIGNUP)
    assert_problem(response, 405, code="method-not-allowed")
    assert "POST" in response.headers["Allow"]


def test_an_oversized_body_is_413(client: ApiClient, settings: Settings, session: Session) -> None:
    assert settings.max_body_bytes == 1_048_576
    padding = "x" * (settings.max_body_bytes + 1)
    response = client.post(SIGNUP, json=signup_body(display_name=padding))
    assert_problem(response, 413, code="payload-too-large")
    assert count(session, User) == 0


def test_an_oversized_body_is_413_even_for_an_authenticated_caller(client: ApiClient) -> None:
    user = UserFactory()
    response = client.patch(
        "/api/v1/me", as_user=user,
        data=json.dumps({"display_name": "y" * 2_000_000}),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413, code="payload-too-large")


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", json.dumps(signup_body())),
        ("application/x-www-form-urlencoded", "email=a%40example.org&password=abcdefghijkl"),
        ("application/xml", "<signup/>"),
        (None, json.dumps(signup_body())),
    ],
)
def test_a_body_that_is_not_json_is_refused(
    client: ApiClient, session: Session, content_type: str | None, data: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(SIGNUP, data=data, headers=headers)
    assert_problem(response, 415, code="unsupported-media-type")
    assert count(session, User) == 0


@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/password-reset"],
)
def test_nul_characters_anywhere_in_a_body_are_422(client: ApiClient, path: str) -> None:
    body = signup_body()
    body["languages"] = ["en-GB", "yue\x00"]  # json.dumps writes it as \u0000
    response = client.post(path, data=json.dumps(body),
                           headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 422, code="validation-error")
    assert list(problem["errors"]) == ["languages.1"]


def test_nul_characters_in_the_query_are_422(client: ApiClient, session: Session) -> None:
    from tests.factories import StaffFactory
    from workforce.accounts.models import Role

    admin = StaffFactory(role=Role.ADMIN)
    response = client.get("/api/v1/audit-events?action=a%00b", as_user=admin)
    problem = assert_problem(response, 422, code="validation-error")
    assert list(problem["errors"]) == ["action"]


def test_unknown_fields_and_wrong_types_are_422_naming_the_fields(client: ApiClient) -> None:
    response = client.post(SIGNUP, json={"email": 5, "surprise": 1})
    body = assert_problem(response, 422, code="validation-error")
    errors = body["errors"]
    assert {"email", "surprise", "password", "display_name"} <= set(errors)
    assert all(isinstance(m, list) and m and all(isinstance(s, str) for s in m)
               for m in errors.values())
    assert "email" in body["detail"] and "surprise" in body["detail"]


def test_nested_errors_are_flattened(client: ApiClient) -> None:
    response = client.post(SIGNUP, json=signup_body(languages=["en-GB", 7]))
    body = assert_problem(response, 422, code="validation-error")
    assert list(body["errors"]) == ["languages.1"]


def test_a_body_that_is_json_but_not_an_object_is_422(client: ApiClient) -> None:
    for payload in ([], "text", 5, None):
        response = client.post(
            SIGNUP, data=json.dumps(payload), headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, payload
        assert_problem(response, response.status_code)


def test_a_bad_query_parameter_is_422(client: ApiClient) -> None:
    user = UserFactory()
    response = client.get(
        "/api/v1/me/notifications", as_user=user, query_string={"limit": "many", "unread": "maybe"}
    )
    body = assert_problem(response, 422, code="validation-error")
    assert set(body["errors"]) == {"limit", "unread"}


def test_401_403_409_are_problems(client: ApiClient) -> None:
    assert_problem(client.get("/api/v1/me"), 401, code="missing-token")
    trainer = UserFactory()
    assert_problem(client.get("/api/v1/users", as_user=trainer), 403, code="role-forbidden")
    response = client.post(SIGNUP, json=signup_body(email=trainer.email))
    assert_problem(response, 409, code="email-taken")


# --- 500 -------------------------------------------------------------------------------


@pytest.fixture
def failing_app(app: Flask, settings: Settings, database: Database) -> Iterator[Flask]:
    """A second app on the same database, with a route that breaks."""
    broken = create_app(settings, database=database, email_sender=MemorySender(),
                        configure_logging=False)

    @broken.route("/api/v1/broken")
    def broken_view():
        raise RuntimeError("secret detail")

    @broken.route("/api/v1/broken-after-write", methods=["POST"])
    def broken_after_write():
        from workforce.api.uow import db_session
        from workforce.notifications.services import queue_email

        queue_email(db_session(), "victim@example.org", "Never sent", "body")
        raise RuntimeError("secret detail")

    try:
        yield broken
    finally:
        # create_app points the shared session factory at its own outbox; restore ours.
        database.session_factory.configure(info={OUTBOX_KEY: app.extensions["workforce"].outbox})


def test_an_unexpected_error_is_a_500_problem_without_details(
    failing_app: Flask, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    client = ApiClient(failing_app.test_client(), session)
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/broken", headers={"X-Request-ID": "trace-500"})
    body = assert_problem(response, 500, code="internal-error")
    text = response.get_data(as_text=True)
    assert "secret detail" not in text
    assert "Traceback" not in text and "RuntimeError" not in text
    assert body["request_id"] == "trace-500"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # It is logged, with the detail, for the people who run the service.
    assert any("secret detail" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_500_rolls_back_and_sends_nothing(failing_app: Flask, session: Session) -> None:
    client = ApiClient(failing_app.test_client(), session)
    sender = failing_app.extensions["workforce"].outbox.sender
    response = client.post("/api/v1/broken-after-write")
    assert_problem(response, 500, code="internal-error")
    assert count(session, OutboundEmail) == 0
    assert sender.sent == []


# --- request ids and headers ----------------------------------------------------------


def test_a_well_formed_request_id_is_echoed(client: ApiClient) -> None:
    response = client.get("/api/v1/nothing-here", headers={"X-Request-ID": "abc-123.XYZ_9"})
    body = assert_problem(response, 404)
    assert response.headers["X-Request-ID"] == "abc-123.XYZ_9"
    assert body["request_id"] == "abc-123.XYZ_9"
    ok = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123.XYZ_9"})
    assert ok.headers["X-Request-ID"] == "abc-123.XYZ_9"


@pytest.mark.parametrize("incoming", ["x" * 200, "has spaces", "semi;colon", "", "ünïcode",
                                      "x" * 65])
def test_a_malformed_request_id_is_replaced(client: ApiClient, incoming: str) -> None:
    response = client.get("/api/v1/nothing-here", headers={"X-Request-ID": incoming})
    body = assert_problem(response, 404)
    replaced = response.headers["X-Request-ID"]
    assert replaced != incoming
    assert uuid.UUID(hex=replaced).hex == replaced
    assert body["request_id"] == replaced


@pytest.mark.parametrize("incoming", ["abc\n", "abc\r\n", "abc\nX-Injected: 1"])
def test_a_request_id_with_a_line_break_is_replaced(client: ApiClient, incoming: str) -> None:
    # Werkzeug's client refuses such headers, so they go straight into the WSGI environ.
    response = client.client.get(
        "/api/v1/nothing-here", environ_overrides={"HTTP_X_REQUEST_ID": incoming}
    )
    body = assert_problem(response, 404, code="not-found")
    assert "X-Injected" not in response.headers
    replaced = response.headers["X-Request-ID"]
    assert uuid.UUID(hex=replaced).hex == replaced == body["request_id"]


def test_every_request_gets_its_own_id(client: ApiClient) -> None:
    ids = {client.get("/api/v1/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/nothing-here", "/api/v1/me"])
def test_security_headers(client: ApiClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_request_log_names_the_caller_of_a_failed_request(
    client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    trainer = UserFactory()
    with caplog.at_level(logging.INFO, logger="workforce.request"):
        response = client.get("/api/v1/users", as_user=trainer)
    assert_problem(response, 403, code="role-forbidden")
    (record,) = [r for r in caplog.records if r.name == "workforce.request"]
    assert record.status == 403
    assert record.user_id == str(trainer.id)


# --- a failed request writes nothing --------------------------------------------------


def test_a_failed_sign_up_writes_nothing(
    client: ApiClient, session: Session, mail: MemorySender
) -> None:
    response = client.post(SIGNUP, json=signup_body(password="short"))
    body = assert_problem(response, 422, code="validation-error")
    assert "password" in body["errors"]
    assert count(session, User) == 0
    assert count(session, Notification) == 0
    assert count(session, OutboundEmail) == 0
    assert mail.sent == []
    # The same body with a good password works, so the failure was the password.
    assert client.post(SIGNUP, json=signup_body()).status_code == 201
    assert count(session, User) == 1
    assert count(session, Notification) == 1


def test_a_sign_up_with_the_email_as_password_writes_nothing(
    client: ApiClient, session: Session
) -> None:
    response = client.post(
        SIGNUP, json=signup_body(email="Same@Example.org", password="same@example.org")
    )
    assert_problem(response, 422, code="validation-error")
    assert count(session, User) == 0
    assert count(session, Notification) == 0
