"""The Stripe stand-in behaves like Stripe where payouts depend on it, and the Stripe
gateway maps its answers (and failures) onto the gateway interface."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
import time_machine

from tests.stripe_standin import (
    FIXTURES_PATH,
    StripeStandin,
    decode_form,
    stripe_standin,
)
from workforce.billing.gateways import GatewayError, InsufficientBalance
from workforce.billing.gateways.stripe import (
    STRIPE_API_VERSION,
    StripeGateway,
    gateway_from_settings,
)
from workforce.settings import Settings

__all__ = ["stripe_standin"]  # the fixture, imported for pytest


def call(standin: StripeStandin, method: str, path: str, params: Any = (),
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    """A raw HTTP request to the stand-in, form-encoded like the library does."""
    body = urlencode(params).encode() if method == "POST" else None
    url = standin.url + path + (f"?{urlencode(params)}" if method == "GET" and params else "")
    request = urllib.request.Request(url, data=body, method=method, headers={  # noqa: S310
        "Authorization": f"Bearer {standin.api_key}", **(headers or {}),
    })
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def pay(gateway: StripeGateway, destination: str, *, key: str, amount: int = 1500,
        group: str = "item-1") -> Any:
    return gateway.create_transfer(
        amount=amount, currency="EUR", destination=destination, transfer_group=group,
        metadata={"payout_item_id": group}, idempotency_key=key,
    )


@pytest.fixture
def gateway(stripe_standin: StripeStandin) -> StripeGateway:
    return stripe_standin.gateway(timeout=1.0)


@pytest.fixture
def ready_account(stripe_standin: StripeStandin) -> str:
    return stripe_standin.add_account(payouts_enabled=True)


# --- shapes ---------------------------------------------------------------------------


def test_answers_in_the_fixture_shapes(stripe_standin, gateway, ready_account):
    fixtures = json.loads(FIXTURES_PATH.read_text())["resources"]
    transfer = pay(gateway, ready_account, key="k1")
    stored = stripe_standin.transfer(transfer.id)
    assert set(stored) == set(fixtures["transfer"])
    assert stored["object"] == "transfer" and stored["id"].startswith("tr_")
    assert (stored["amount"], stored["currency"], stored["destination"]) == (
        1500, "eur", ready_account
    )
    assert stored["metadata"] == {"payout_item_id": "item-1"}
    assert set(stripe_standin.account(ready_account)) >= set(fixtures["account"])
    status, balance, _ = call(stripe_standin, "GET", "/v1/balance")
    assert status == 200 and set(balance) == set(fixtures["balance"])


def test_every_request_names_our_api_version_which_the_library_speaks(stripe_standin,
                                                                     gateway):
    """The version is ours, not the installed library's default; and the library is of
    the same release (its typed parameters and objects are that release's)."""
    gateway.create_account(email="mei@example.org", country="HK", idempotency_key="k1")
    assert [r.stripe_version for r in stripe_standin.requests] == [STRIPE_API_VERSION]
    assert STRIPE_API_VERSION.split(".")[1] == stripe.api_version.split(".")[1]


def test_connected_account_and_onboarding_link(stripe_standin, gateway):
    account = gateway.create_account(email="ada@example.com", country="de",
                                     idempotency_key="trainer-1")
    assert account.id.startswith("acct_") and not account.payouts_enabled
    assert account.requirements["currently_due"]
    stored = stripe_standin.account(account.id)
    assert (stored["type"], stored["country"], stored["email"]) == (
        "express", "DE", "ada@example.com"
    )
    url = gateway.create_account_link(account.id, refresh_url="https://app.example/refresh",
                                      return_url="https://app.example/done")
    assert url.startswith(stripe_standin.url)
    assert stripe_standin.account_links[-1]["return_url"] == "https://app.example/done"

    stripe_standin.set_account(account.id, payouts_enabled=True)
    ready = gateway.retrieve_account(account.id)
    assert ready.payouts_enabled and ready.requirements["currently_due"] == []


def test_opening_the_onboarding_link_completes_onboarding(stripe_standin, gateway):
    account = stripe_standin.add_account()
    url = gateway.create_account_link(account, refresh_url="https://app.example/refresh",
                                      return_url="https://app.example/done")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url, timeout=5)
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"] == "https://app.example/done"
    assert stripe_standin.account(account)["payouts_enabled"] is True


def test_unknown_account_is_a_final_error(gateway):
    with pytest.raises(GatewayError) as error:
        gateway.retrieve_account("acct_missing")
    assert (error.value.status, error.value.retryable) == (404, False)


# --- idempotency ----------------------------------------------------------------------


def test_same_key_same_parameters_replays_the_first_transfer(stripe_standin, gateway,
                                                             ready_account):
    first = pay(gateway, ready_account, key="item-1-attempt")
    again = pay(gateway, ready_account, key="item-1-attempt")
    assert again == first
    assert len(stripe_standin.transfers) == 1
    keys = [r.idempotency_key for r in stripe_standin.requests_to("POST /v1/transfers")]
    assert keys == ["item-1-attempt", "item-1-attempt"]


def test_same_key_other_parameters_is_an_idempotency_error(stripe_standin, gateway,
                                                           ready_account):
    pay(gateway, ready_account, key="k")
    with pytest.raises(GatewayError) as error:
        pay(gateway, ready_account, key="k", amount=1501)
    assert error.value.code == "idempotency_error"
    assert (error.value.status, error.value.retryable) == (400, False)
    assert len(stripe_standin.transfers) == 1


def test_keys_expire_after_24_hours_of_the_standins_clock(stripe_standin, gateway,
                                                          ready_account):
    first = pay(gateway, ready_account, key="k")
    stripe_standin.advance(24 * 3600 - 60)
    assert pay(gateway, ready_account, key="k").id == first.id
    stripe_standin.advance(120)
    second = pay(gateway, ready_account, key="k")
    assert second.id != first.id
    assert len(stripe_standin.transfers) == 2


def test_keys_expire_when_time_travels(stripe_standin, gateway, ready_account):
    first = pay(gateway, ready_account, key="k")
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=True):
        assert pay(gateway, ready_account, key="k").id != first.id


def test_expire_idempotency_keys(stripe_standin, gateway, ready_account):
    first = pay(gateway, ready_account, key="k")
    stripe_standin.expire_idempotency_keys()
    assert pay(gateway, ready_account, key="k").id != first.id


def test_a_refused_request_leaves_its_key_unused(stripe_standin, ready_account):
    status, body, _ = call(stripe_standin, "POST", "/v1/transfers", {
        "amount": 100, "currency": "eur", "destination": ready_account, "bogus": "1",
    }, headers={"Idempotency-Key": "k"})
    assert status == 400
    status, body, _ = call(stripe_standin, "POST", "/v1/transfers", {
        "amount": 100, "currency": "eur", "destination": ready_account,
    }, headers={"Idempotency-Key": "k"})
    assert status == 200 and body["object"] == "transfer"


def test_replayed_answer_says_so(stripe_standin, ready_account):
    form = {"amount": 100, "currency": "eur", "destination": ready_account}
    _, first, _ = call(stripe_standin, "POST", "/v1/transfers", form,
                       headers={"Idempotency-Key": "k"})
    status, again, headers = call(stripe_standin, "POST", "/v1/transfers", form,
                                  headers={"Idempotency-Key": "k"})
    assert status == 200 and again == first
    assert headers["Idempotent-Replayed"] == "true"


# --- parameters and authorisation -----------------------------------------------------


@pytest.mark.parametrize(("path", "form", "param"), [
    ("/v1/transfers", {"amount": 1, "currency": "eur", "destination": "acct_x",
                       "payout_item": "1"}, "payout_item"),
    ("/v1/transfers", {"amount": 1, "currency": "eur", "destination": "acct_x",
                       "metdata[item]": "1"}, "metdata"),
    ("/v1/accounts", {"type": "express", "capabilites[transfers][requested]": "true"},
     "capabilites"),
    ("/v1/account_links", {"account": "acct_x", "type": "account_onboarding",
                           "return": "https://x"}, "return"),
    ("/v1/transfers/tr_x/reversals", {"amount": 1, "reason": "x"}, "reason"),
])
def test_parameters_the_library_does_not_define_are_refused(stripe_standin, path, form,
                                                            param):
    status, body, _ = call(stripe_standin, "POST", path, form)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert stripe_standin.transfers == [] and stripe_standin.accounts == {}


def test_list_parameters_are_checked_too(stripe_standin):
    status, body, _ = call(stripe_standin, "GET", "/v1/transfers", {"group": "x"})
    assert (status, body["error"]["param"]) == (400, "group")
    status, _, _ = call(stripe_standin, "GET", "/v1/transfers",
                        {"transfer_group": "x", "created[gte]": 1, "limit": 3})
    assert status == 200


def test_missing_required_parameter(stripe_standin):
    status, body, _ = call(stripe_standin, "POST", "/v1/transfers", {"amount": 1})
    assert status == 400 and body["error"]["param"] in {"currency", "destination"}


def test_nested_form_keys_decode_to_their_top_level_name():
    assert decode_form([("metadata[item_id]", "7"), ("capabilities[transfers][requested]",
                                                     "true"), ("expand[0]", "a"),
                        ("expand[1]", "b")]) == {
        "metadata": {"item_id": "7"}, "capabilities": {"transfers": {"requested": "true"}},
        "expand": ["a", "b"],
    }


def test_requires_a_secret_test_key(stripe_standin):
    status, body, _ = call(stripe_standin, "GET", "/v1/balance",
                           headers={"Authorization": "Bearer sk_test_wrong"})
    assert status == 401 and "Invalid API Key" in body["error"]["message"]
    status, _, _ = call(stripe_standin, "GET", "/v1/balance", headers={"Authorization": ""})
    assert status == 401
    wrong = stripe_standin.gateway(api_key="sk_test_wrong")
    with pytest.raises(GatewayError) as error:
        wrong.retrieve_account("acct_x")
    assert (error.value.status, error.value.retryable) == (401, False)


def test_transfer_to_an_account_without_the_transfers_capability(stripe_standin, gateway):
    account = stripe_standin.add_account(payouts_enabled=False)
    with pytest.raises(GatewayError) as error:
        pay(gateway, account, key="k")
    assert error.value.code == "insufficient_capabilities_for_transfer"
    assert not error.value.retryable and stripe_standin.transfers == []


# --- failures -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 409, 429])
def test_transient_failures_are_retryable_and_make_nothing(stripe_standin, gateway,
                                                           ready_account, status):
    stripe_standin.fail_next("POST /v1/transfers", status=status)
    with pytest.raises(GatewayError) as error:
        pay(gateway, ready_account, key="k")
    assert (error.value.status, error.value.retryable) == (status, True)
    assert stripe_standin.transfers == []
    # The key was not used up: the retry makes the one transfer.
    assert pay(gateway, ready_account, key="k").amount == 1500
    assert len(stripe_standin.transfers) == 1


def test_rate_limit_answer_carries_retry_after(stripe_standin, ready_account):
    stripe_standin.fail_next("POST /v1/transfers", status=429, retry_after=2)
    status, body, headers = call(stripe_standin, "POST", "/v1/transfers",
                                 {"amount": 1, "currency": "eur", "destination": ready_account})
    assert (status, headers["Retry-After"], body["error"]["code"]) == (429, "2", "rate_limit")


def test_failures_match_their_route_only(stripe_standin, gateway, ready_account):
    stripe_standin.fail_next("GET /v1/transfers/*", status=500, times=2)
    transfer = pay(gateway, ready_account, key="k")
    for _ in range(2):
        with pytest.raises(GatewayError):
            gateway.retrieve_transfer(transfer.id)
    assert gateway.retrieve_transfer(transfer.id).id == transfer.id


def test_remembered_failure_replays_for_the_same_key(stripe_standin, gateway, ready_account):
    stripe_standin.fail_next("POST /v1/transfers", status=500, remember=True)
    for _ in range(2):
        with pytest.raises(GatewayError):
            pay(gateway, ready_account, key="k")
    assert pay(gateway, ready_account, key="other").amount == 1500


def test_balance_insufficient(stripe_standin, gateway, ready_account):
    stripe_standin.fail_balance_insufficient()
    with pytest.raises(InsufficientBalance) as error:
        pay(gateway, ready_account, key="k")
    assert error.value.code == "balance_insufficient" and not error.value.retryable
    assert stripe_standin.transfers == []


def test_a_real_balance_runs_out(stripe_standin, gateway, ready_account):
    stripe_standin.set_balance("eur", 2000)
    pay(gateway, ready_account, key="a", amount=1500)
    with pytest.raises(InsufficientBalance):
        pay(gateway, ready_account, key="b", amount=600)
    assert stripe_standin.balances == {"eur": 500}
    assert len(stripe_standin.transfers) == 1


def test_timeout_before_the_transfer(stripe_standin, ready_account):
    gateway = stripe_standin.gateway(timeout=0.3)
    stripe_standin.timeout_next("POST /v1/transfers", seconds=2)
    started = time.monotonic()
    with pytest.raises(GatewayError) as error:
        pay(gateway, ready_account, key="k")
    assert time.monotonic() - started < 1.5
    assert error.value.retryable and error.value.status is None
    assert stripe_standin.transfers == []


def test_timeout_after_the_transfer_is_replayed_by_its_key(stripe_standin, ready_account):
    gateway = stripe_standin.gateway(timeout=0.3)
    stripe_standin.timeout_next("POST /v1/transfers", seconds=2, process=True)
    with pytest.raises(GatewayError) as error:
        pay(gateway, ready_account, key="k")
    assert error.value.retryable
    [made] = stripe_standin.transfers
    assert pay(gateway, ready_account, key="k").id == made["id"]
    assert len(stripe_standin.transfers) == 1


def test_dropped_response_after_the_transfer_was_made(stripe_standin, gateway,
                                                      ready_account):
    stripe_standin.drop_next_response("POST /v1/transfers")
    with pytest.raises(GatewayError) as error:
        pay(gateway, ready_account, key="item-9", group="item-9")
    assert error.value.retryable and error.value.code == "connection_error"
    [made] = stripe_standin.transfers
    # Retried with the same key: the same transfer, nothing new.
    assert pay(gateway, ready_account, key="item-9", group="item-9").id == made["id"]
    # After the key's lifetime it is still found by its transfer group.
    stripe_standin.expire_idempotency_keys()
    found = gateway.find_transfer(transfer_group="item-9")
    assert found is not None and found.id == made["id"]
    assert len(stripe_standin.transfers) == 1


# --- lists, lookups, reversals --------------------------------------------------------


def test_list_pages_with_has_more_and_starting_after(stripe_standin, gateway, ready_account):
    made = [pay(gateway, ready_account, key=f"k{i}", group=f"g{i}").id for i in range(7)]
    status, page, _ = call(stripe_standin, "GET", "/v1/transfers", {"limit": 3})
    assert status == 200 and page["object"] == "list" and page["has_more"] is True
    assert [t["id"] for t in page["data"]] == made[::-1][:3]  # newest first
    status, page, _ = call(stripe_standin, "GET", "/v1/transfers",
                           {"limit": 5, "starting_after": page["data"][-1]["id"]})
    assert [t["id"] for t in page["data"]] == made[::-1][3:] and page["has_more"] is False


def test_gateway_lists_every_transfer_of_a_period(stripe_standin, gateway, ready_account,
                                                  monkeypatch):
    monkeypatch.setattr("workforce.billing.gateways.stripe._PAGE_SIZE", 4)
    start = datetime(2030, 3, 2, tzinfo=UTC)
    stripe_standin.set_clock(start - timedelta(seconds=1))
    pay(gateway, ready_account, key="before", group="before")
    stripe_standin.set_clock(start)
    inside = {pay(gateway, ready_account, key=f"k{i}", group=f"g{i}").id for i in range(10)}
    stripe_standin.set_clock(start + timedelta(days=7))
    pay(gateway, ready_account, key="after", group="after")

    listed = list(gateway.list_transfers(created_from=start,
                                         created_to=start + timedelta(days=7)))
    assert {t.id for t in listed} == inside and len(listed) == 10
    assert len(stripe_standin.requests_to("GET /v1/transfers")) == 3


def test_find_transfer_by_group(stripe_standin, gateway, ready_account):
    assert gateway.find_transfer(transfer_group="nothing") is None
    made = pay(gateway, ready_account, key="k", group="payout-item-1")
    pay(gateway, ready_account, key="k2", group="payout-item-2")
    assert gateway.find_transfer(transfer_group="payout-item-1") == made


def test_reversals(stripe_standin, gateway, ready_account):
    transfer = pay(gateway, ready_account, key="k", amount=1000)
    assert gateway.reverse_transfer(transfer.id, amount=400, idempotency_key="r1") == 400
    assert gateway.reverse_transfer(transfer.id, amount=400, idempotency_key="r1") == 400
    partly = gateway.retrieve_transfer(transfer.id)
    assert partly.amount_reversed == 400 and not partly.reversed
    stripe_standin.reverse_transfer(transfer.id)
    assert gateway.retrieve_transfer(transfer.id).reversed
    with pytest.raises(GatewayError) as error:
        gateway.reverse_transfer(transfer.id, idempotency_key="r2")
    assert error.value.status == 400


# --- webhooks -------------------------------------------------------------------------


def test_signed_events_verify_with_the_library(stripe_standin, ready_account):
    body, headers = stripe_standin.signed_event(
        "account.updated", stripe_standin.account(ready_account), account=ready_account,
        secret="whsec_abc",
    )
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_abc")
    assert event.type == "account.updated" and event.account == ready_account
    assert event.data.object.id == ready_account
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body + b" ", headers["Stripe-Signature"], "whsec_abc")
    status, stored, _ = call(stripe_standin, "GET", f"/v1/events/{event.id}")
    assert status == 200 and stored["type"] == "account.updated"


def test_gateway_from_settings():
    assert gateway_from_settings(Settings()) is None
    gateway = gateway_from_settings(Settings(stripe_api_key="sk_test_x",
                                             stripe_api_base="http://127.0.0.1:1"))
    assert isinstance(gateway, StripeGateway)


def test_the_standin_answers_late_and_refuses_beyond_its_rate_limit(
    stripe_standin: StripeStandin,
) -> None:
    """What the payout-sending benchmark relies on: a latency on every answer and
    Stripe's 429 ``rate_limit`` beyond the requests allowed in one second."""
    gateway = stripe_standin.gateway()
    account = stripe_standin.add_account(payouts_enabled=True)
    stripe_standin.latency = 0.05
    started = time.perf_counter()
    gateway.retrieve_account(account)
    assert time.perf_counter() - started >= 0.05
    stripe_standin.latency = 0.0
    stripe_standin.rate_limit = 3
    for _ in range(3):
        gateway.retrieve_account(account)
    with pytest.raises(GatewayError) as refused:
        gateway.retrieve_account(account)
    assert refused.value.status == 429 and refused.value.retryable
    assert stripe_standin.rate_limited == 1
