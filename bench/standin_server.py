"""The Stripe stand-in in a process of its own for the sending benchmark, so its threads
do not share the benchmark's interpreter lock.

It answers every request after ``--latency`` seconds, refuses more than ``--rate-limit``
requests a second with 429, and opens ``--accounts`` connected accounts ready for
payouts. It prints one JSON line (its address and the account ids), then serves until a
line arrives on standard input: ``refused`` prints the requests refused for the rate
so far and goes on serving; ``report`` prints the transfers per payout item and the
requests refused for the rate, and exits.
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.stripe_standin import StripeStandin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rate-limit", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=0)
    args = parser.parse_args()
    standin = StripeStandin(api_key=None).serve()
    standin.latency = args.latency
    standin.rate_limit = args.rate_limit
    accounts = [standin.add_account(payouts_enabled=True) for _ in range(args.accounts)]
    print(json.dumps({"url": standin.url, "accounts": accounts}), flush=True)
    # ``refused`` prints the requests refused for the rate so far (asked between the
    # benchmark's phases, to say whose they were); anything else ends the serving.
    while sys.stdin.readline().strip() == "refused":
        print(json.dumps({"refused_for_rate": standin.rate_limited}), flush=True)
    per_item: dict[str, int] = {}
    for transfer in standin.transfers:
        item = (transfer.get("metadata") or {}).get("payout_item_id")
        if item:
            per_item[item] = per_item.get(item, 0) + 1
    print(json.dumps({"transfers_per_item": per_item, "transfers": len(standin.transfers),
                      "refused_for_rate": standin.rate_limited}), flush=True)
    standin.close()


if __name__ == "__main__":
    main()
