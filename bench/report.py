"""Writing a run's figures into bench/RESULTS.md: the section of its size is replaced
(between ``<!-- run:<size> -->`` markers); everything else in the file is kept."""

from __future__ import annotations

import re
from pathlib import Path


def _yes(ok: bool) -> str:
    return "met" if ok else "**missed**"


def section(results: dict) -> str:
    size, bench = results["size"], results.get("benchmarks", {})
    lines = [
        f"### Last run at size `{size['name']}`"
        f"{' through PgBouncer (transaction pooling)' if results.get('pgbouncer') else ''} "
        f"({results['started_at']}, {results['minutes']} min)",
        "",
        f"- Machine: {results['machine']['cpu']}, {results['machine']['memory']}, "
        f"PostgreSQL {results['machine']['postgresql']}, Python {results['machine']['python']}.",
        f"- Load average (1, 5, 15 min) at start {results['load_at_start']}, at end "
        f"{results['load_at_end']}: the 2 CPUs are shared with other engineers' test runs, "
        "so compare ratios, not absolute figures."
        + (f" With {results['burners']} CPU burners (`--load`)." if results.get("burners")
           else ""),
        f"- Data: {size['organisations']} organisations, {size['trainers']:,} trainers, "
        f"{size['projects']:,} projects, {size['tasks']:,} tasks, {size['postings']:,} "
        f"postings (trainer 200: {size['small_trainer_postings']:,}, trainer 201: "
        f"{size['large_trainer_postings']:,}); database {results.get('database_size', '?')}.",
    ]
    if "rerun" in results:
        lines.append(f"- Rerun of {', '.join(results['rerun']['benchmarks'])} at "
                     f"{results['rerun']['at']} (load {results['rerun']['load_at_start']}"
                     + (f", {results['rerun']['burners']} CPU burners"
                        if results['rerun'].get('burners') else "")
                     + "), after a change; the other figures are from the run above.")
    if "generation_seconds" in results:
        total = sum(results["generation_seconds"].values())
        lines.append(f"- Generated in {total:.0f} s ("
                     + ", ".join(f"{k} {v:.0f} s" for k, v in
                                 results["generation_seconds"].items()) + ").")
    lines.append("")
    if "claims" in bench:
        lines += _claims(bench["claims"], size)
    if "earnings" in bench:
        e = bench["earnings"]
        lines += ["#### 2. Earnings summary and first page of line items (one client)", "",
                  "| route | trainer | requests | p50 ms | p99 ms |",
                  "| --- | --- | ---: | ---: | ---: |"]
        for r in e["rows"]:
            lines.append(f"| {r['route']} | {r['trainer']} | {r['requests']} | "
                         f"{r['p50_ms']} | {r['p99_ms']} |")
        lines.append("")
        for route, ratio in e["ratios"].items():
            large = next(r for r in e["rows"] if r["route"] == route and r["trainer"] == "large")
            lines.append(f"- {route}: large / small p99 = **{ratio}** (target ≤ 1.5: "
                         f"{_yes(ratio <= 1.5)}); large p99 {large['p99_ms']} ms (target < 20: "
                         f"{_yes(large['p99_ms'] < 20)})")
        lines.append("")
    if "build" in bench:
        b = bench["build"]
        lines += ["#### 3. Payout run build", "",
                  "| trainers | items | workforce s | floor s | ratio | peak MB | growth MB |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for label, r in b["orgs"].items():
            lines.append(f"| {label} | {r['workforce']['items']:,} | "
                         f"{r['workforce']['seconds']:.2f} | {r['floor']['seconds']:.2f} | "
                         f"{r['ratio']} | {r['workforce']['peak_rss_mb']:.0f} | "
                         f"{r['workforce']['rss_growth_mb']:.1f} |")
        ratio = b["orgs"]["all"]["ratio"]
        lines += ["", f"- All trainers: workforce / floor time = **{ratio}** (target ≤ 2: "
                  f"{_yes(ratio <= 2)}); memory growth from a tenth of the trainers to all: "
                  f"{b['memory_growth_mb']} MB.", ""]
    if "send" in bench:
        s = bench["send"]
        lines += ["#### 4. Payout sending (stand-in answering after 50 ms, limit 100/s)", "",
                  "| who | in flight | items | seconds | items/s | share of limit "
                  "| CPU ms an item | refused (429) | load before → after |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for label in ("workforce", "one_sender", "floor"):
            r = s[label]
            senders = r.get("senders", s["workforce"]["senders"])
            lines.append(f"| {label.replace('_', ' ')} | {senders} | "
                         f"{r['items']} | {r['seconds']} | {r['per_second']} | "
                         f"{r['share_of_limit']} | {r.get('cpu_ms_per_item', '—')} | "
                         f"{r.get('refused_for_rate', '—')} | "
                         f"{r.get('load_before', '—')} → {r.get('load_after', '—')} |")
        share = s["workforce"]["share_of_limit"]
        lines += ["", f"- workforce: **{share:.0%}** of the limit (target ≥ 90%: "
                  f"{_yes(share >= 0.9)}); workforce / floor = {s['ratio_to_floor']}.",
                  f"- Checks: {s['checks']}", ""]
    if "import" in bench:
        i = bench["import"]
        lines += ["#### 5. Task import (JSON lines)", "",
                  "| rows | file MB | workforce rows/s | COPY rows/s | ratio | growth MB |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in i["files"].values():
            lines.append(f"| {r['rows']:,} | {r['file_mb']} | "
                         f"{r['workforce']['rows_per_second']:.0f} | "
                         f"{r['floor']['rows_per_second']:.0f} | {r['ratio']} | "
                         f"{r['workforce']['rss_growth_mb']:.1f} |")
        ratio = i["files"]["all"]["ratio"]
        lines += ["", f"- workforce / COPY = **{ratio}** (target ≥ 0.25: {_yes(ratio >= 0.25)}); "
                  f"memory growth from a quarter of the file to all of it: "
                  f"{i['memory_growth_mb']} MB.", ""]
    return "\n".join(lines)


def _claims(c: dict, size: dict) -> list[str]:
    lines = ["#### 1. Claim and submit (gunicorn, "
             f"{size['workers']} sync workers each, {size['claim_seconds']:.0f} s per "
             "system and client count, in rounds alternating them; `stack`: workforce's app, "
             "limiter and token check running the floor's SQL with hand-built answers; "
             "`machinery`: two authenticated `GET /api/v1/me` per pair, the cost of any "
             "request before its own work; database: CPU of the database's PostgreSQL "
             "backends a pair, from `/proc`)",
             "", "| clients | system | pairs/s | p50 ms | p99 ms | database ms a pair | errors "
             "| load |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in c["runs"]:
        lines.append(f"| {r['clients']} | {r['system']} | {r['throughput']} | "
                     f"{r['p50_ms']} | {r['p99_ms']} | {r.get('db_ms_per_pair', '')} | "
                     f"{r['errors']} | {r['load_before']} |")
    lines.append("")
    for n, ratio in c.get("db_ratios", {}).items():
        lines.append(f"- {n} clients: workforce / floor database CPU a pair = **{ratio}** "
                     f"(target ≤ 1.25: {_yes(ratio <= 1.25)})")
    for n, ratio in c.get("db_stack_ratios", {}).items():
        lines.append(f"- {n} clients: workforce / stack database CPU a pair = {ratio} (the "
                     "stack sends the floor's SQL at the pace of workforce's app)")
    for n, ratio in c.get("stack_ratios", {}).items():
        lines.append(f"- {n} clients: workforce / stack throughput = **{ratio}** "
                     f"(target ≥ 0.5: {_yes(ratio >= 0.5)})")
    lines += [f"- {n} clients: workforce / floor throughput = {ratio}"
              for n, ratio in c["ratios"].items()]
    lines += [f"- {n} clients: machinery / floor throughput = {ratio}: two workforce "
              "requests with no work of their own run at this share of the floor's "
              "whole claim and submit" for n, ratio in c.get("machinery_ratios", {}).items()]
    checks = c["checks"]
    sound = not any(v for k, v in checks.items() if k != "assignments")
    lines += [f"- After the runs: {checks['assignments']:,} assignments; tasks over "
              f"redundancy {checks['tasks_over_redundancy']}, a trainer twice on a task "
              f"{checks['trainer_twice_on_a_task']}, open slots wrong "
              f"{checks['open_slots_wrong']} ({_yes(sound)}).", ""]
    return lines


def write(path: Path, results: dict) -> None:
    name = results["size"]["name"] + ("-pgbouncer" if results.get("pgbouncer") else "")
    start, end = f"<!-- run:{name} -->", f"<!-- /run:{name} -->"
    block = f"{start}\n{section(results)}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        marker = "<!-- runs -->"
        text = text.replace(marker, f"{marker}\n\n{block}") if marker in text \
            else f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text)
