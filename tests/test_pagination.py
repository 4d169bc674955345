"""Keyset pagination of the inbox and the audit log; the inbox's read state."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory
from workforce import pagination
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import Role, User
from workforce.errors import Invalid
from workforce.notifications.models import Notification
from workforce.notifications.services import notify
from workforce.settings import Settings

INBOX = "/api/v1/me/notifications"
AUDIT = "/api/v1/audit-events"
T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


def make_notifications(
    session: Session, user: User, count: int, *, same_time_every: int = 1, start: datetime = T0
) -> list[Notification]:
    """``count`` notifications; every ``same_time_every`` consecutive ones share a created_at."""
    made = []
    for i in range(count):
        with time_machine.travel(start + timedelta(seconds=i // same_time_every), tick=False):
            made.append(notify(session, user.id, "test.kind", f"Title {i}", f"Body {i}"))
    session.commit()
    return made


def newest_first(notifications: list[Notification]) -> list[str]:
    ordered = sorted(notifications, key=lambda n: (n.created_at, n.id), reverse=True)
    return [str(n.id) for n in ordered]


def walk(
    client: ApiClient, user: User, path: str = INBOX, *, limit: int | None = None, **params: str
) -> tuple[list[str], int]:
    """Every item id over all pages, and how many pages it took."""
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = dict(params)
        if limit is not None:
            query["limit"] = str(limit)
        if cursor is not None:
            query["cursor"] = cursor
        response = client.get(path, as_user=user, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages += 1
        if limit is not None:
            assert len(body["items"]) <= limit
        ids.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert pages < 1000, "pagination does not end"


# --- the inbox -----------------------------------------------------------------------


def test_pages_return_every_item_once_newest_first(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    made = make_notifications(session, user, 7)
    ids, pages = walk(client, user, limit=3)
    assert ids == newest_first(made)
    assert ids[0] == str(made[-1].id)  # distinct times: simply reverse creation order
    assert ids == [str(n.id) for n in reversed(made)]
    assert pages == 3


def test_an_exact_multiple_of_the_page_size_ends_without_an_empty_page(
    client: ApiClient, session: Session
) -> None:
    user = UserFactory()
    make_notifications(session, user, 6)
    ids, pages = walk(client, user, limit=3)
    assert len(ids) == 6 and pages == 2


def test_identical_timestamps_are_ordered_by_id(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    made = make_notifications(session, user, 9, same_time_every=9)
    assert len({n.created_at for n in made}) == 1
    for limit in (1, 2, 4, 9, 10):
        ids, _ = walk(client, user, limit=limit)
        assert ids == newest_first(made), limit
        assert ids == sorted(ids, key=uuid.UUID, reverse=True)


def test_ties_across_page_boundaries(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    made = make_notifications(session, user, 12, same_time_every=5)
    assert len({n.created_at for n in made}) == 3
    for limit in (2, 3, 5, 7):
        ids, _ = walk(client, user, limit=limit)
        assert ids == newest_first(made), limit


def test_new_items_do_not_shift_later_pages(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    made = make_notifications(session, user, 6)
    first = client.get(INBOX, as_user=user, query_string={"limit": 3}).get_json()
    make_notifications(session, user, 2, start=T0 + timedelta(hours=1))
    rest = client.get(
        INBOX, as_user=user, query_string={"limit": 3, "cursor": first["next_cursor"]}
    ).get_json()
    seen = [i["id"] for i in first["items"]] + [i["id"] for i in rest["items"]]
    assert seen == newest_first(made)
    assert rest["next_cursor"] is None


def test_only_the_callers_notifications_are_listed(client: ApiClient, session: Session) -> None:
    user, other = UserFactory(), UserFactory()
    mine = make_notifications(session, user, 3)
    make_notifications(session, other, 4)
    ids, _ = walk(client, user, limit=2)
    assert ids == newest_first(mine)


def test_the_default_page_size(client: ApiClient, session: Session, settings: Settings) -> None:
    user = UserFactory()
    make_notifications(session, user, settings.page_size_default + 1, same_time_every=10)
    body = client.get(INBOX, as_user=user).get_json()
    assert len(body["items"]) == settings.page_size_default
    assert body["next_cursor"] is not None


def test_limit_above_the_maximum_is_capped(
    client: ApiClient, session: Session, settings: Settings
) -> None:
    assert settings.page_size_max == 200
    user = UserFactory()
    made = make_notifications(session, user, settings.page_size_max + 5, same_time_every=50)
    for limit in (settings.page_size_max + 1, 10_000, 10**30):
        body = client.get(INBOX, as_user=user, query_string={"limit": limit}).get_json()
        assert len(body["items"]) == settings.page_size_max, limit
        assert body["next_cursor"] is not None
    ids, pages = walk(client, user, limit=10_000)
    assert ids == newest_first(made) and pages == 2


@pytest.mark.parametrize("limit", ["0", "-1", "1.5", "ten", ""])
def test_a_bad_limit_is_422(client: ApiClient, limit: str) -> None:
    user = UserFactory()
    response = client.get(INBOX, as_user=user, query_string={"limit": limit})
    body = assert_problem(response, 422, code="validation-error")
    assert list(body["errors"]) == ["limit"]


def _b64(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!!",
        "a",
        "é",
        _b64(b"not json"),
        _b64(b"[1, 2]"),
        _b64(b"5"),
        _b64(b'"text"'),
        _b64(b"\xff\xfe"),
        _b64(json.dumps({"t": "yesterday", "id": str(uuid.uuid4())}).encode()),
        _b64(json.dumps({"t": T0.isoformat(), "id": "not-a-uuid"}).encode()),
        _b64(json.dumps({"t": T0.isoformat()}).encode()),
        _b64(json.dumps({"t": 5, "id": str(uuid.uuid4())}).encode()),
        _b64(json.dumps({"t": T0.isoformat(), "id": 5}).encode()),
        # A time that exists with its offset but not once converted to UTC.
        _b64(json.dumps({"t": "0001-01-01T00:00:00+01:00", "id": str(uuid.uuid4())}).encode()),
        _b64(json.dumps({"t": "9999-12-31T23:59:59-01:00", "id": str(uuid.uuid4())}).encode()),
        "x" * 600,
    ],
)
def test_a_garbage_cursor_is_422_naming_cursor(client: ApiClient, cursor: str) -> None:
    user = UserFactory()
    response = client.get(INBOX, as_user=user, query_string={"cursor": cursor, "limit": 2})
    body = assert_problem(response, 422, code="validation-error")
    assert list(body["errors"]) == ["cursor"]


def test_a_cursor_of_a_naive_time_is_read_as_utc(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    made = make_notifications(session, user, 4)
    last = sorted(made, key=lambda n: n.created_at)[2]
    naive = last.created_at.replace(tzinfo=None).isoformat()
    cursor = _b64(json.dumps({"t": naive, "id": str(last.id)}).encode())
    body = client.get(INBOX, as_user=user, query_string={"cursor": cursor}).get_json()
    assert [i["id"] for i in body["items"]] == [str(made[1].id), str(made[0].id)]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
_cursor_payloads = st.fixed_dictionaries(
    {},
    optional={
        "t": st.one_of(_json_values, st.datetimes(timezones=st.timezones()).map(
            lambda d: d.isoformat())),
        "id": st.one_of(_json_values, st.uuids().map(str)),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=120),
    _json_values.map(lambda v: _b64(json.dumps(v).encode())),
    _cursor_payloads.map(lambda v: _b64(json.dumps(v).encode())),
))
def test_decoding_any_cursor_either_works_or_is_invalid(cursor: str) -> None:
    try:
        moment, row_id = pagination.decode_cursor(cursor)
    except Invalid as exc:
        assert exc.errors == {"cursor": ["Invalid cursor."]}
    else:
        assert moment.tzinfo is not None and isinstance(row_id, uuid.UUID)


def test_cursors_round_trip() -> None:
    row_id = uuid.uuid4()
    moment = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert pagination.decode_cursor(pagination.encode_cursor(moment, row_id)) == (moment, row_id)


def test_unread_filter_count_mark_one_and_mark_all(client: ApiClient, session: Session) -> None:
    user, other = UserFactory(), UserFactory()
    made = make_notifications(session, user, 5)
    make_notifications(session, other, 2)

    count = client.get(f"{INBOX}/unread-count", as_user=user)
    assert count.status_code == 200 and count.get_json() == {"unread": 5}

    target = made[2]
    response = client.post(f"{INBOX}/{target.id}/read", as_user=user)
    assert response.status_code == 200
    read_at = response.get_json()["read_at"]
    assert read_at is not None
    assert response.get_json()["id"] == str(target.id)
    # Reading it again keeps the first read time.
    again = client.post(f"{INBOX}/{target.id}/read", as_user=user).get_json()
    assert again["read_at"] == read_at

    assert client.get(f"{INBOX}/unread-count", as_user=user).get_json() == {"unread": 4}
    unread_ids, _ = walk(client, user, limit=2, unread="true")
    assert unread_ids == newest_first([n for n in made if n is not target])
    all_ids, _ = walk(client, user, limit=2, unread="false")
    assert all_ids == newest_first(made)
    listed = client.get(INBOX, as_user=user).get_json()["items"]
    assert {i["id"]: i["read_at"] is not None for i in listed} == {
        str(n.id): n is target for n in made
    }

    response = client.post(f"{INBOX}/read-all", as_user=user)
    assert response.status_code == 200 and response.get_json() == {"marked": 4}
    assert client.get(f"{INBOX}/unread-count", as_user=user).get_json() == {"unread": 0}
    assert client.get(INBOX, as_user=user, query_string={"unread": "true"}).get_json() == {
        "items": [], "next_cursor": None,
    }
    assert client.post(f"{INBOX}/read-all", as_user=user).get_json() == {"marked": 0}
    # The other user's inbox is untouched.
    assert client.get(f"{INBOX}/unread-count", as_user=other).get_json() == {"unread": 2}


def test_marking_an_unknown_notification_is_404(client: ApiClient) -> None:
    user = UserFactory()
    response = client.post(f"{INBOX}/{uuid.uuid4()}/read", as_user=user)
    assert_problem(response, 404, code="not-found")


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(1, 30), st.integers(1, 10))
def test_any_page_size_walks_every_item_in_order(
    client: ApiClient, session: Session, count: int, limit: int
) -> None:
    # A fresh user per example: the database is shared by every example of this test.
    user = UserFactory()
    made = make_notifications(session, user, count, same_time_every=max(1, count % 4))
    ids, pages = walk(client, user, limit=limit)
    assert ids == newest_first(made)
    assert pages == max(1, -(-count // limit))


# --- the audit log -------------------------------------------------------------------


@pytest.fixture
def audit_log(session: Session) -> dict:
    organisation = OrganisationFactory()
    admin = StaffFactory(role=Role.ADMIN, organisation=organisation)
    other_org = OrganisationFactory()
    events = []
    plan = [
        ("user.created", "user"),
        ("invitation.created", "invitation"),
        ("user.access_changed", "user"),
        ("invitation.revoked", "invitation"),
        ("user.access_changed", "user"),
    ]
    for hour, (action, object_type) in enumerate(plan):
        with time_machine.travel(T0 + timedelta(hours=hour), tick=False):
            events.append(audit.record(
                session, admin, action, object_type=object_type, object_id=uuid.uuid4(),
                organisation_id=organisation.id,
            ))
            # Noise: another organisation's events and system events at the same times.
            audit.record(session, SystemActor("job"), action, object_type=object_type,
                         object_id=uuid.uuid4(), organisation_id=other_org.id)
            audit.record(session, SystemActor("job"), action, object_type=object_type,
                         object_id=uuid.uuid4(), organisation_id=None)
    session.commit()
    return {"admin": admin, "events": events}


def audit_ids(client: ApiClient, admin: User, **params: str) -> list[str]:
    ids, _ = walk(client, admin, AUDIT, limit=2, **params)
    return ids


def expected(events: list, keep) -> list[str]:
    chosen = [e for e in events if keep(e)]
    return [str(e.id) for e in sorted(chosen, key=lambda e: (e.created_at, e.id), reverse=True)]


def test_audit_log_lists_the_organisations_events_newest_first(
    client: ApiClient, audit_log: dict
) -> None:
    ids = audit_ids(client, audit_log["admin"])
    assert ids == expected(audit_log["events"], lambda e: True)
    assert ids == [str(e.id) for e in reversed(audit_log["events"])]


def test_audit_log_filters_by_action_and_object_type(client: ApiClient, audit_log: dict) -> None:
    admin, events = audit_log["admin"], audit_log["events"]
    assert audit_ids(client, admin, action="user.access_changed") == expected(
        events, lambda e: e.action == "user.access_changed"
    )
    assert audit_ids(client, admin, object_type="invitation") == expected(
        events, lambda e: e.object_type == "invitation"
    )
    assert audit_ids(client, admin, action="user.created", object_type="invitation") == []
    target = events[1]
    assert audit_ids(client, admin, object_id=target.object_id) == [str(target.id)]
    assert audit_ids(client, admin, actor_id=str(admin.id)) == expected(events, lambda e: True)
    assert audit_ids(client, admin, actor_id=str(uuid.uuid4())) == []
    assert audit_ids(client, admin, action="no.such.action") == []


def test_audit_log_filters_by_time_with_offsets(client: ApiClient, audit_log: dict) -> None:
    admin, events = audit_log["admin"], audit_log["events"]
    since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    # since is inclusive, until exclusive: hours 1 and 2.
    window = expected(events, lambda e: since <= e.created_at < until)
    assert len(window) == 2
    assert audit_ids(client, admin, since=since.isoformat(), until=until.isoformat()) == window
    # The same instants written in Hong Kong time and with a Z.
    hong_kong = timezone(timedelta(hours=8))
    assert audit_ids(
        client, admin, since=since.astimezone(hong_kong).isoformat(),
        until=until.astimezone(hong_kong).isoformat(),
    ) == window
    assert audit_ids(
        client, admin, since=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        until=until.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ) == window
    assert audit_ids(client, admin, since=(T0 + timedelta(hours=4)).isoformat()) == [
        str(events[4].id)
    ]
    assert audit_ids(client, admin, until=T0.isoformat()) == []
    # One microsecond after an event excludes it from since.
    assert audit_ids(
        client, admin, since=(T0 + timedelta(hours=4, microseconds=1)).isoformat()
    ) == []


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", ["2030-03-01T10:00:00", "2030-03-01", "yesterday", "10:00"])
def test_audit_log_refuses_naive_or_bad_times(
    client: ApiClient, audit_log: dict, name: str, value: str
) -> None:
    response = client.get(AUDIT, as_user=audit_log["admin"], query_string={name: value})
    body = assert_problem(response, 422, code="validation-error")
    assert list(body["errors"]) == [name]


def test_audit_log_refuses_a_garbage_cursor(client: ApiClient, audit_log: dict) -> None:
    response = client.get(AUDIT, as_user=audit_log["admin"], query_string={"cursor": "nope"})
    body = assert_problem(response, 422, code="validation-error")
    assert list(body["errors"]) == ["cursor"]
