"""The organisation's pay policy: stipends required, the payout hold period and the
notice period, read by staff and changed by admins."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory, earned
from workforce.accounts.models import AuditEvent, Organisation, Role

POLICY = "/api/v1/organisation/pay-policy"


def test_staff_read_the_defaults(client: ApiClient) -> None:
    finance = StaffFactory(role=Role.FINANCE)
    assert client.get(POLICY, as_user=finance).get_json() == {
        "requires_paid_assessments": False, "payout_hold_days": 0, "notice_period_days": 7,
    }


def test_an_admin_changes_some_fields_and_the_change_is_audited(
    client: ApiClient, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    response = client.patch(POLICY, as_user=admin, json={"payout_hold_days": 14})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "requires_paid_assessments": False, "payout_hold_days": 14, "notice_period_days": 7,
    }
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "organisation.pay_policy_changed",
        AuditEvent.organisation_id == admin.organisation_id,
    )).one()
    assert event.before["payout_hold_days"] == 0 and event.after["payout_hold_days"] == 14


def test_money_earned_after_a_longer_hold_period_waits_for_it(
    client: ApiClient, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    trainer = UserFactory()
    earned(trainer, admin.organisation_id, 300)
    client.patch(POLICY, as_user=admin, json={"payout_hold_days": 3})
    earned(trainer, admin.organisation_id, 200)

    summary = client.get("/api/v1/me/earnings/summary", as_user=trainer).get_json()
    usd = next(c for c in summary["currencies"] if c["currency"] == "USD")
    assert (usd["payable"], usd["on_hold"]) == (300, 200)


@pytest.mark.parametrize(("body", "field"), [
    ({"payout_hold_days": 2.0}, "payout_hold_days"),
    ({"payout_hold_days": "2"}, "payout_hold_days"),
    ({"payout_hold_days": -1}, "payout_hold_days"),
    ({"payout_hold_days": 61}, "payout_hold_days"),
    ({"notice_period_days": 91}, "notice_period_days"),
    ({"requires_paid_assessments": "yes please"}, "requires_paid_assessments"),
    ({"organisation_id": "00000000-0000-0000-0000-000000000000"}, "organisation_id"),
    ({}, "_schema"),
])
def test_bad_changes_are_refused_and_change_nothing(
    client: ApiClient, session: Session, body: dict, field: str
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    response = client.patch(POLICY, as_user=admin, json={"notice_period_days": 3, **body}
                            if field != "_schema" else body)
    problem = assert_problem(response, 422, code="validation-error")
    assert field in problem["errors"]
    session.expire_all()
    organisation = session.get(Organisation, admin.organisation_id)
    assert (organisation.payout_hold_days, organisation.notice_period_days) == (0, 7)


def test_only_admins_change_it_and_trainers_do_not_read_it(client: ApiClient) -> None:
    organisation = OrganisationFactory()
    for role in (Role.FINANCE, Role.VENDOR_MANAGER, Role.REVIEWER):
        staff = StaffFactory(role=role, organisation=organisation)
        assert_problem(client.patch(POLICY, as_user=staff, json={"payout_hold_days": 1}), 403)
    assert_problem(client.get(POLICY, as_user=UserFactory()), 403)
