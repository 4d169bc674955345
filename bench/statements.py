"""What each statement of a claim-and-submit pair costs PostgreSQL, workforce beside the
floors: ``python -m bench.statements [--pairs N] [workforce|floor|stack ...]``.

In process (Flask's test clients, one pair at a time, no contention), on the kept
small-size database (``python -m bench run --size small --keep`` made it). For each
system: the CPU its backends spent a pair (``/proc``, as the claims benchmark reads it)
and, per statement, from ``pg_stat_statements``: runs a pair, how many of its runs were
planned (psycopg prepares a statement on its fifth run; after that, 0 means PostgreSQL
reuses one generic plan, 1 that it plans again for every run's parameters), and the mean
planning and execution time. That needs the server to load the extension
(``shared_preload_libraries = 'pg_stat_statements'`` and
``pg_stat_statements.track_planning = on``, then a restart); without it only the CPU a
pair is reported. Round 5 of ``bench/RESULTS.md`` found with it the two claim statements
planned on every run.
"""

from __future__ import annotations

import os
import time

import click
import psycopg

from bench import claims, database, generate, servers

WARM_UP = 20
# Pairs go round the first trainers, staffed on both claim projects (the claims
# benchmark's clients are trainers 1 to 128).
TRAINERS = 60
PER_STATEMENT = """
    SELECT calls, plans, total_plan_time, total_exec_time, query FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query NOT LIKE '%%pg_stat%%'
    ORDER BY total_plan_time + total_exec_time DESC"""


def _systems(name: str) -> dict:
    """The two apps' test clients with their routes and project, made on first use:
    the environment must name the database before either app is imported."""
    os.environ.update(servers.workforce_env(database.sqlalchemy_url(name)))
    os.environ["BENCH_FLOOR_DATABASE"] = database.psycopg_url(name)
    os.environ.setdefault("WORKFORCE_LOG_LEVEL", "WARNING")
    from bench import floor, stack
    from workforce.app import create_app

    return {
        "workforce": (create_app().test_client(), "/api/v1/projects/{p}/claims",
                      "/api/v1/me/assignments/{a}/submit", generate.seq_project(1)),
        "floor": (floor.app.test_client(), "/floor/projects/{p}/claims",
                  "/floor/assignments/{a}/submit", generate.seq_project(2)),
        "stack": (stack.app.test_client(), "/stack/projects/{p}/claims",
                  "/stack/assignments/{a}/submit", generate.seq_project(2)),
    }


def _pair(system: tuple, trainer: int, pause: float = 0.0) -> None:
    client, claim, submit, project = system
    headers = {"Authorization": f"Bearer {generate.token('trainer', trainer)}"}
    claimed = client.post(claim.format(p=project), json={}, headers=headers)
    if claimed.status_code not in (200, 201):
        raise RuntimeError(f"claim: {claimed.status_code} {claimed.get_data()[:300]!r}")
    time.sleep(pause)
    submitted = client.post(submit.format(a=claimed.get_json()["id"]), headers=headers,
                            json={"answer": {"label": "yue-HK"}, "active_seconds": 3})
    if submitted.status_code != 200:
        raise RuntimeError(f"submit: {submitted.status_code} {submitted.get_data()[:300]!r}")


def _has_statements(monitor: psycopg.Connection) -> bool:
    loaded = monitor.execute(
        "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
    if loaded is None:
        try:
            monitor.execute("CREATE EXTENSION pg_stat_statements")
        except psycopg.Error:
            return False
    try:
        monitor.execute("SELECT pg_stat_statements_reset()")
    except psycopg.Error:  # the library is not preloaded by the server
        return False
    return True


@click.command()
@click.option("--pairs", default=300, show_default=True)
@click.option("--pause-ms", default=0.0, show_default=True,
              help="The client waits this long after each request, as a slower app would "
                   "(the database's CPU a pair rises with the time between requests).")
@click.option("--database", "name", default=None,
              help="The database (default: the small size's, workforce_bench_small).")
@click.argument("systems", nargs=-1, type=click.Choice(["workforce", "floor", "stack"]))
def main(pairs: int, pause_ms: float, name: str | None, systems: tuple[str, ...]) -> None:
    name = name or database.name_for("small")
    url = database.psycopg_url(name)
    claims.reset_projects(url, [generate.seq_project(1), generate.seq_project(2)])
    made = _systems(name)
    with psycopg.connect(url, autocommit=True) as monitor:
        for system in systems or ("workforce", "floor", "stack"):
            for n in range(WARM_UP):
                _pair(made[system], 1 + n % TRAINERS)
            per_statement = _has_statements(monitor)
            before = claims.backend_cpu(monitor)
            started = time.perf_counter()
            for n in range(pairs):
                _pair(made[system], 1 + n % TRAINERS, pause_ms / 1000)
                time.sleep(pause_ms / 1000)
            wall = time.perf_counter() - started
            after = claims.backend_cpu(monitor)
            cpu = sum(value - before.get(pid, 0.0) for pid, value in after.items())
            click.echo(f"== {system}: {pairs} pairs, {wall / pairs * 1000:.2f} ms a pair, "
                       f"the database's CPU {cpu / pairs * 1000:.2f} ms a pair")
            if per_statement:
                _report(monitor.execute(PER_STATEMENT).fetchall(), pairs)


def _report(rows: list[tuple], pairs: int) -> None:
    planning = sum(row[2] for row in rows) / pairs * 1000
    running = sum(row[3] for row in rows) / pairs * 1000
    click.echo(f"   planning {planning:.0f} µs a pair, execution {running:.0f} µs a pair")
    click.echo("   runs/pair  planned  plan µs  exec µs  statement")
    for calls, plans, plan_ms, exec_ms, query in rows:
        if calls < pairs // 2:
            continue
        click.echo(f"   {calls / pairs:9.2f}  {plans / calls:7.2f}  {plan_ms / calls * 1000:7.0f}"
                   f"  {exec_ms / calls * 1000:7.0f}  {' '.join(query.split())[:90]}")


if __name__ == "__main__":
    main()
