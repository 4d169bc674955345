"""Benchmark 2: a trainer's earnings summary and first page of line items, over HTTP
against the same gunicorn, for a trainer with ``small_trainer_postings`` postings and one
with ``large_trainer_postings``, in a database of ``postings`` postings.

One client, requests alternating between the two trainers so both see the same load.
Target: the large trainer's p99 within 1.5 times the small one's and under 20 ms.
"""

from __future__ import annotations

import http.client
import json
import time

from bench import generate
from bench.stats import percentile

ROUTES = {"summary": "/api/v1/me/earnings/summary", "items": "/api/v1/me/earnings/items?limit=50"}


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.getheader("Connection", "").lower() == "close":
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    json.loads(body)
    return response.status, elapsed


def bench(port: int, requests: int, log=print) -> dict:
    trainers = {"small": generate.SMALL_TRAINER, "large": generate.LARGE_TRAINER}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(20):  # warm up: caches, prepared statements, every worker
        for n in trainers.values():
            for path in ROUTES.values():
                _get(conn, path, generate.token("trainer", n))
    for _ in range(requests):
        for who, n in trainers.items():
            for route, path in ROUTES.items():
                _, elapsed = _get(conn, path, generate.token("trainer", n))
                times.setdefault((route, who), []).append(elapsed)
    conn.close()
    rows = []
    for (route, who), values in sorted(times.items()):
        rows.append({"route": route, "trainer": who, "requests": len(values),
                     "p50_ms": round(percentile(values, 50) * 1000, 2),
                     "p99_ms": round(percentile(values, 99) * 1000, 2)})
    ratios = {}
    for route in ROUTES:
        small = next(r for r in rows if r["route"] == route and r["trainer"] == "small")
        large = next(r for r in rows if r["route"] == route and r["trainer"] == "large")
        ratios[route] = round(large["p99_ms"] / small["p99_ms"], 2) if small["p99_ms"] else 0
        log(f"  {route}: small p50 {small['p50_ms']} p99 {small['p99_ms']} ms; large p50 "
            f"{large['p50_ms']} p99 {large['p99_ms']} ms; large/small p99 {ratios[route]}")
    return {"rows": rows, "ratios": ratios,
            "target": "large p99 <= 1.5 x small p99 and < 20 ms"}
