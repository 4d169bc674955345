"""``python -m bench``: generate the data and run the five benchmarks beside their floors.

    python -m bench run --size small            # what `make bench` runs (< 5 minutes)
    python -m bench run --size full --keep      # the marketplace scale; keep the database
    python -m bench run --size full --reuse     # run again on the kept database
    python -m bench generate --size medium      # only the data
    python -m bench drop --size full            # drop a kept database
    python -m bench run --size small --reuse --only claims --pgbouncer
                                                # the claims through a PgBouncer
    python -m bench run --size small --reuse --only send --load 4
                                                # with 4 CPU burners (bench/load.py)

The database is ``workforce_bench_<size>`` on ``WORKFORCE_BENCH_SERVER`` (default
``postgresql://postgres@127.0.0.1:5432``; ``WORKFORCE_BENCH_PREFIX`` replaces
``workforce_bench``, for several people sharing one server); it is dropped after the run
unless ``--keep``. ``--database`` names another. The figures go to ``bench/RESULTS.md``
(the section of that size, ``<size>-pgbouncer`` with ``--pgbouncer``) and
``var/bench/results-<size>.json``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from bench import (
    claims,
    database,
    earnings,
    generate,
    payout_build,
    payout_send,
    report,
    task_import,
)
from bench import pgbouncer as bench_pgbouncer
from bench.load import burning
from bench.servers import ROOT, gunicorn, workforce_env
from bench.sizes import SIZES, size_named
from bench.stats import load, machine
from workforce.settings import Settings

BENCHMARKS = ("claims", "earnings", "build", "send", "import")


def _overrides(values: tuple[str, ...]) -> dict[str, int]:
    parsed = {}
    for value in values:
        key, _, number = value.partition("=")
        parsed[key] = int(number)
    return parsed


@click.group()
def main() -> None:
    """Benchmarks of workforce's hot paths, each beside its floor."""


@main.command()
@click.option("--size", type=click.Choice(list(SIZES)), default="small", show_default=True)
@click.option("--set", "overrides", multiple=True, help="Override a size field: tasks=500000.")
@click.option("--resume-at", default=None,
              help="Continue a stopped generation at this step (e.g. 'journal entries').")
def generate_(size: str, overrides: tuple[str, ...], resume_at: str | None) -> None:
    """Create and fill the size's database (and keep it)."""
    chosen = size_named(size, **_overrides(overrides))
    name = database.name_for(size)
    if resume_at is None:
        _check_disk(chosen)
        database.create(name)
    generate.generate(database.psycopg_url(name), chosen, log=click.echo,
                      resume_at=resume_at)
    click.echo(f"{name}: {database.size_of(name)}")


main.add_command(generate_, name="generate")


@main.command()
@click.option("--size", type=click.Choice(list(SIZES)), default="small", show_default=True)
def drop(size: str) -> None:
    """Drop the size's database."""
    database.drop(database.name_for(size))


@main.command()
@click.option("--size", type=click.Choice(list(SIZES)), default="small", show_default=True)
@click.option("--set", "overrides", multiple=True, help="Override a size field: tasks=500000.")
@click.option("--keep/--drop", default=False, help="Keep the database after the run.")
@click.option("--reuse", is_flag=True, help="Use the kept database instead of generating.")
@click.option("--only", multiple=True, type=click.Choice(BENCHMARKS))
@click.option("--senders", default=Settings.payout_concurrency, show_default=True,
              help="Payout requests in flight (WORKFORCE_PAYOUT_CONCURRENCY).")
@click.option("--pgbouncer", is_flag=True,
              help="The HTTP benchmarks' servers reach PostgreSQL through a PgBouncer in "
                   "transaction pooling mode (started for the run).")
@click.option("--database", "database_name", default=None,
              help="The database's name (default workforce_bench_<size>).")
@click.option("--load", "burners", default=0, show_default=True,
              help="Start this many CPU-burning processes, each in a session of its own, "
                   "for the benchmarks (a machine under load, whatever else runs).")
def run(size: str, overrides: tuple[str, ...], keep: bool, reuse: bool, only: tuple[str, ...],
        senders: int, pgbouncer: bool, database_name: str | None, burners: int) -> None:
    """Generate (unless --reuse), run the benchmarks, write bench/RESULTS.md."""
    chosen = size_named(size, **_overrides(overrides))
    name = database_name or database.name_for(size)
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    selected = only or BENCHMARKS
    started = time.monotonic()
    results: dict = {"size": asdict(chosen), "machine": machine(),
                     "load_at_start": [round(x, 2) for x in load()],
                     "started_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "pgbouncer": pgbouncer}
    try:
        if reuse and database.exists(name):
            click.echo(f"reusing {name}")
            database.migrate(name)
        else:
            _check_disk(chosen)
            click.echo(f"generating {name} ({chosen.name})")
            database.create(name)
            results["generation_seconds"] = generate.generate(
                database.psycopg_url(name), chosen, log=click.echo)
        results["database_size"] = database.size_of(name)
        with burning(burners):
            results["burners"] = burners
            results["benchmarks"] = _run(name, chosen, selected, workdir, senders, pgbouncer)
        previous = _results_file(workdir, size, pgbouncer)
        if only and previous.exists():
            # A partial rerun: keep the other benchmarks' figures of the last full run.
            earlier = json.loads(previous.read_text())
            results["benchmarks"] = {**earlier.get("benchmarks", {}),
                                     **results["benchmarks"]}
            results["rerun"] = {"benchmarks": list(only), "at": results["started_at"],
                                "load_at_start": results["load_at_start"],
                                "burners": burners}
            for key in ("started_at", "load_at_start", "generation_seconds", "minutes",
                        "load_at_end"):
                if key in earlier:
                    results[key] = earlier[key]
    finally:
        if "rerun" not in results:
            results["load_at_end"] = [round(x, 2) for x in load()]
            results["minutes"] = round((time.monotonic() - started) / 60, 1)
        if not keep:
            database.drop(name)
            click.echo(f"dropped {name}")
    _results_file(workdir, size, pgbouncer).write_text(
        json.dumps(results, indent=2, default=str))
    report.write(ROOT / "bench" / "RESULTS.md", results)
    click.echo(f"done in {(time.monotonic() - started) / 60:.1f} min; bench/RESULTS.md updated")


def _results_file(workdir: Path, size: str, pgbouncer: bool) -> Path:
    return workdir / f"results-{size}{'-pgbouncer' if pgbouncer else ''}.json"


def _run(name: str, size, selected, workdir: Path, senders: int, pgbouncer: bool) -> dict:
    sa_url, pg_url = database.sqlalchemy_url(name), database.psycopg_url(name)
    out: dict = {}
    if "claims" in selected or "earnings" in selected:
        with _servers(name, size, workdir, pgbouncer) as ports:
            if "earnings" in selected:
                click.echo("earnings summary and line items")
                out["earnings"] = earnings.bench(ports.workforce, size.earnings_requests,
                                                 log=click.echo)
            if "claims" in selected:
                click.echo("claim and submit" + (" through PgBouncer" if pgbouncer else ""))
                out["claims"] = claims.bench(pg_url, ports, size.claim_clients,
                                             size.claim_seconds, log=click.echo)
    if "build" in selected:
        click.echo("payout run build")
        out["build"] = payout_build.bench(sa_url, pg_url, log=click.echo)
    if "send" in selected:
        click.echo("payout sending")
        out["send"] = payout_send.bench(sa_url, pg_url, size, senders, log=click.echo)
    if "import" in selected:
        click.echo("task import")
        out["import"] = task_import.bench(sa_url, pg_url, size.import_rows, workdir,
                                          log=click.echo)
    return out


@contextlib.contextmanager
def _servers(name: str, size, workdir: Path, pgbouncer: bool) -> Iterator[claims.Ports]:
    """workforce, the floor and the stack under gunicorn, each with ``size.workers``
    workers, reaching the database directly or through one PgBouncer."""
    with contextlib.ExitStack() as stack:
        sa_url, pg_url = database.sqlalchemy_url(name), database.psycopg_url(name)
        floor_env = {"BENCH_FLOOR_DATABASE": pg_url}
        if pgbouncer:
            bouncer = stack.enter_context(bench_pgbouncer.running(make_url(sa_url)))
            sa_url = bench_pgbouncer.pooled(make_url(sa_url), bouncer).render_as_string(
                hide_password=False)
            floor_env = {"BENCH_FLOOR_DATABASE": database.psycopg_url(name, port=bouncer),
                         "BENCH_FLOOR_POOLER": "pgbouncer"}
        env = workforce_env(sa_url)

        def serve(target: str, extra: dict[str, str], log: str, probe: str) -> int:
            return stack.enter_context(gunicorn(target, extra, workers=size.workers,
                                                log=workdir / log, probe=probe))

        yield claims.Ports(
            workforce=serve("bench.wsgi:workforce", env, "workforce.log", "/api/v1/health"),
            floor=serve("bench.floor:app", floor_env, "floor.log", "/floor/health"),
            stack=serve("bench.stack:app", {**env, **floor_env}, "stack.log",
                        "/api/v1/health"))


def _check_disk(size) -> None:
    """Refuse to start when the data would leave less than 10 GB free (about 1 KB per
    task and per posting, indexes included, plus the import files)."""
    free = shutil.disk_usage(ROOT).free
    need = (size.tasks + size.postings + 2 * size.import_rows) * 1024
    if free - need < 10 * 2**30:
        raise click.ClickException(
            f"{need / 2**30:.1f} GB needed, {free / 2**30:.1f} GB free: not enough room")


if __name__ == "__main__":
    main()
