"""Keyset pagination: of the inbox and the audit log, and of any order over a probe table
(ties, NULLs, tampered cursors); the inbox's read state."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
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
from workforce.db import UTCDateTime
from workforce.errors import Invalid
from workforce.notifications.models import Notification
from workforce.notifications.services import tell
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
            made.append(tell(session, user.id, "account.email_verified", {}))
    session.commit()
    return [session.get_one(Notification, made_id) for made_id in made]


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
        _b64(json.dumps({"t": T0.isoformat(), "id": str(uuid.uuid4())}).encode()),
        _b64(json.dumps(["yesterday", str(uuid.uuid4())]).encode()),
        _b64(json.dumps([T0.isoformat(), "not-a-uuid"]).encode()),
        _b64(json.dumps([T0.isoformat()]).encode()),
        _b64(json.dumps([5, str(uuid.uuid4())]).encode()),
        _b64(json.dumps([T0.isoformat(), 5]).encode()),
        _b64(json.dumps([None, str(uuid.uuid4())]).encode()),  # created_at is never NULL
        # A time that exists with its offset but not once converted to UTC.
        _b64(json.dumps(["0001-01-01T00:00:00+01:00", str(uuid.uuid4())]).encode()),
        _b64(json.dumps(["9999-12-31T23:59:59-01:00", str(uuid.uuid4())]).encode()),
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
    cursor = _b64(json.dumps([naive, str(last.id)]).encode())
    body = client.get(INBOX, as_user=user, query_string={"cursor": cursor}).get_json()
    assert [i["id"] for i in body["items"]] == [str(made[1].id), str(made[0].id)]


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


# --- any order: a probe table with ties and NULLs in its sort columns ----------------

probe = sa.Table(
    "pagination_probe", sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("n", sa.Integer, nullable=True),
    sa.Column("s", sa.String(4), nullable=False),
    sa.Column("t", UTCDateTime(), nullable=True),
    sa.Index("ix_pagination_probe_s_id", "s", "id"),
)
YEAR = timedelta(days=365)
_rows = st.lists(
    st.fixed_dictionaries({
        "id": st.uuids(),
        "n": st.none() | st.integers(-2, 2),
        "s": st.text(alphabet="ab", max_size=2),  # one order in every collation
        "t": st.none() | st.sampled_from([T0, T0 + timedelta(microseconds=1), T0 + YEAR]),
    }),
    max_size=25, unique_by=lambda row: row["id"],
)
# A term: (column, descending, NULLs last); NULLs last is None for the column without them.
_terms = st.tuples(st.sampled_from(["n", "t"]), st.booleans(), st.booleans()) | st.tuples(
    st.just("s"), st.booleans(), st.none())
_orders = st.lists(_terms, max_size=3, unique_by=lambda term: term[0]).flatmap(
    lambda terms: st.booleans().map(lambda down: [*terms, ("id", down, None)]))


@pytest.fixture
def probe_table(connection: sa.Connection) -> sa.Table:
    probe.create(connection)  # rolled back with the test's transaction
    return probe


def _sql(term: tuple[str, bool, bool | None]) -> Any:
    name, descending, nulls_last = term
    sql = probe.c[name].desc() if descending else probe.c[name].asc()
    return sql if nulls_last is None else sql.nulls_last() if nulls_last else sql.nulls_first()


def _in_python(rows: list[dict], order: list[tuple[str, bool, bool | None]]) -> list[uuid.UUID]:
    """``rows`` in ``order``, sorted stably one term at a time, the last term first."""
    for name, descending, nulls_last in reversed(order):
        nulls = [row for row in rows if row[name] is None]
        values = sorted((row for row in rows if row[name] is not None),
                        key=lambda row: row[name], reverse=descending)
        rows = values + nulls if nulls_last else nulls + values
    return [row["id"] for row in rows]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, order=_orders, limit=st.integers(1, 7), filtered=st.booleans())
def test_any_order_pages_every_row_once_in_order(
    session: Session, probe_table: sa.Table, monkeypatch: pytest.MonkeyPatch,
    rows: list[dict], order: list, limit: int, filtered: bool,
) -> None:
    session.execute(sa.delete(probe_table))
    if rows:
        session.execute(sa.insert(probe_table), rows)
    # With a Python filter, small batches: a page is then read over several queries.
    monkeypatch.setattr(pagination, "FILTERED_BATCH", 2)
    keep = (lambda ids: [i for i in ids if i.int % 3]) if filtered else None
    expected = [i for i in _in_python(rows, order) if not filtered or i.int % 3]
    seen: list[uuid.UUID] = []
    cursor = None
    for _ in range(len(rows) + 1):
        page = pagination.paginate(
            session, sa.select(probe_table.c.id), pagination.PageRequest(limit, cursor),
            order=[_sql(term) for term in order], keep=keep,
        )
        assert len(page.items) <= limit
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
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
_iso = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
_bad = st.one_of(
    st.sampled_from(["\\u0000", "a\\ud800", 2**63, -(2**70)]),  # what a database refuses
    _json_values, _iso, st.uuids().map(str),
)
# Cursors of the order below: a good one with one value spoilt, or anything at all.
_tampered = st.builds(
    lambda good, index, bad: [*good[:index], bad, *good[index + 1:]],
    st.tuples(st.none() | st.integers(-3, 3), st.text(alphabet="ab"), st.none() | _iso,
              st.uuids().map(str)),
    st.integers(0, 3), _bad,
) | st.lists(_bad, max_size=5)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=120) | (_tampered | _json_values).map(
    lambda v: _b64(json.dumps(v).encode().replace(b"\\\\u", b"\\u"))))  # "\\u0000" as NUL
def test_a_tampered_cursor_of_any_order_is_invalid_never_a_database_error(
    session: Session, probe_table: sa.Table, cursor: str
) -> None:
    """Whatever a client puts in a cursor is read as the sort columns' types or refused,
    before it reaches the database (where a wrong type, a NUL or a huge number fail)."""
    order = [probe.c.n.nulls_first(), probe.c.s.desc(), probe.c.t.desc().nulls_last(), probe.c.id]
    try:
        pagination.paginate(session, sa.select(probe_table), pagination.PageRequest(2, cursor),
                            order=order)
    except Invalid as exc:
        assert exc.errors == {"cursor": ["Invalid cursor."]}


def test_a_deep_page_starts_its_index_scan_at_the_cursor(
    session: Session, probe_table: sa.Table, connection: sa.Connection
) -> None:
    """``a < v OR (a = v AND id < i)`` makes PostgreSQL read the index from its start (a
    page 190,000 rows deep took 108 ms instead of 1 ms); the cursor must bound the scan."""
    if connection.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan")
    ran: list[tuple[str, Any]] = []
    sa.event.listen(connection, "before_cursor_execute",
                    lambda *args: ran.append((args[2], args[3])))
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # the table is small
    cursor = pagination.encode_cursor("ab", uuid.uuid4())
    pagination.paginate(session, sa.select(probe_table.c.id), pagination.PageRequest(5, cursor),
                        order=(probe.c.s.desc(), probe.c.id.desc()))
    statement, parameters = ran[-1]
    plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
    assert "Index Cond" in plan and "Sort" not in plan, plan


def test_an_order_must_end_unique_and_place_its_nulls() -> None:
    page = pagination.PageRequest(2)
    with pytest.raises(ValueError, match="unique"):
        pagination.paginate(None, sa.select(probe), page, order=[probe.c.s])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NULLs"):
        pagination.paginate(None, sa.select(probe), page, order=[probe.c.t, probe.c.id])  # type: ignore[arg-type]


@given(st.tuples(
    st.decimals(-(10**9), 10**9, places=4), st.integers(-(2**63), 2**63 - 1),
    st.datetimes(timezones=st.just(UTC)), st.uuids(), st.text().filter(lambda t: "\x00" not in t),
))
def test_typed_values_round_trip(values: tuple) -> None:
    kinds = (Decimal, int, datetime, uuid.UUID, str)
    assert pagination.decode_cursor(pagination.encode_cursor(*values), kinds) == values
