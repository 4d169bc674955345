"""The ``workforce`` command: serve, scheduler, jobs, db, create-admin, demo, payouts,
results.

Commands get the app from Flask: ``AppGroup`` wraps each in ``with_appcontext``, which
builds it once through the group's ``ScriptInfo`` (the tests hand in their own app with
``app.test_cli_runner()``). Commands that need no app say so (``with_appcontext=False``,
or the plain ``db`` group).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo, pass_script_info
from werkzeug.serving import WSGIRequestHandler

from workforce.billing.cli import payouts
from workforce.errors import JobFailed
from workforce.results.cli import results
from workforce.settings import Settings, SettingsError

log = logging.getLogger("workforce.cli")


def _settings(**kwargs: Any) -> Settings:
    try:
        return Settings.from_env(**kwargs)
    except SettingsError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


def _script_info() -> ScriptInfo:
    """How ``with_appcontext`` makes the app: from the environment's settings, with the
    defaults a command puts in ``data["defaults"]`` before it asks (``serve``)."""
    info = ScriptInfo(set_debug_flag=False, load_dotenv_defaults=False)

    def create() -> Flask:
        from workforce.app import create_app

        return create_app(_settings(defaults=info.data.get("defaults")))

    info.create_app = create
    return info


@click.group(cls=AppGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """workforce: the crowd workforce marketplace backend."""
    if ctx.obj is None:
        ctx.obj = _script_info()


main.add_command(payouts)
main.add_command(results)


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0),
              help="Serve with gunicorn and this many worker processes (0: development server).")
@click.option("--scheduler/--no-scheduler", default=None,
              help="Run the scheduler in this process (default: WORKFORCE_SCHEDULER_ENABLED). "
                   "Only with the development server; with --workers run `workforce scheduler`.")
@pass_script_info
def serve(info: ScriptInfo, host: str, port: int, workers: int,
          scheduler: bool | None) -> None:
    """Serve the API (and, in development, the scheduler beside it).

    Links in e-mail point at WORKFORCE_PUBLIC_BASE_URL, or, when it is not set, at this
    server's own address and port."""
    info.data["defaults"] = {"public_base_url": served_url(host, port)}
    app = info.load_app()
    settings = app.extensions["workforce"].settings
    if workers:
        if scheduler:
            raise click.UsageError("--scheduler runs with the development server only; "
                                   "start `workforce scheduler` as its own process")
        _serve_gunicorn(app, host, port, workers)
        return
    embedded = settings.scheduler_enabled if scheduler is None else scheduler
    background = _start_background_scheduler(app) if embedded else None
    click.echo(f"workforce API on http://{host}:{port}/api/v1 (docs: /api/v1/docs)"
               + (" with the scheduler" if background else ""))
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True,
                request_handler=_QuietRequestHandler)
    finally:
        if background is not None:
            background.shutdown(wait=True)
        click.echo("workforce stopped")


def served_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches ``workforce serve --host H --port P``."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler, without ``Server: Werkzeug/x Python/y``: the
    versions in use are nobody's business."""

    def version_string(self) -> str:
        return "workforce"


def _start_background_scheduler(app: Any) -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler

    from workforce.jobs import build_scheduler

    scheduler = build_scheduler(BackgroundScheduler, app.extensions["workforce"])
    scheduler.start()
    return scheduler


def _serve_gunicorn(app: Any, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    database = app.extensions["workforce"].database

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)  # workforce logs every request itself
            # Connections opened in the master must not be shared with the workers.
            self.cfg.set("post_fork", lambda _server, _worker: database.engine.dispose(close=False))

        def load(self) -> Any:
            return app

    Server().run()


@main.command()
def scheduler() -> None:
    """Run the scheduler in this process until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from workforce.jobs import build_scheduler
    from workforce.results import methods

    # crowd-kit imported once, at the start (in a thread: the jobs start at once), so
    # that no aggregation run waits seconds for it. Only here: the web processes (and
    # ``serve``'s scheduler beside them) never load it until they aggregate.
    methods.import_in_background()
    blocking = build_scheduler(BlockingScheduler, current_app.extensions["workforce"])
    click.echo("workforce scheduler running; jobs: "
               + ", ".join(job.id for job in blocking.get_jobs()))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        blocking.start()
    click.echo("scheduler stopped")


@main.group()
def jobs() -> None:
    """The scheduler's jobs, listed or run once by hand."""


@jobs.command("list", with_appcontext=False)
def list_jobs() -> None:
    """Every scheduled job and when it runs."""
    from workforce.jobs import JOBS, schedule_of

    for job in JOBS:
        click.echo(f"{job.name:<40} {schedule_of(job)}")


@jobs.command("run")
@click.argument("name")
def run_job(name: str) -> None:
    """Run the job NAME once now: the code the scheduler runs, with the same row locks
    and unique keys, so it is safe beside a running scheduler. Prints what it did."""
    from workforce.jobs import BY_NAME
    from workforce.jobs import run_job as run

    if name not in BY_NAME:
        raise click.BadParameter(f"no job {name!r}; `workforce jobs list` shows them: "
                                 + ", ".join(BY_NAME), param_hint="NAME")
    try:
        click.echo(f"{name}: {run(name, current_app.extensions['workforce'])}")
    except JobFailed as failure:
        raise click.ClickException(f"{name}: {failure}") from failure


@main.group(cls=click.Group)
def db() -> None:
    """Database migrations (Alembic)."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from workforce import migrate

    migrate.upgrade(_settings(), revision)
    click.echo(f"database upgraded to {revision}")


@db.command()
@click.option("--revision", default="-1", show_default=True)
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from workforce import migrate

    migrate.downgrade(_settings(), revision)
    click.echo(f"database downgraded to {revision}")


@db.command()
def current() -> None:
    """Show the revision the database is at."""
    from workforce import migrate

    migrate.current(_settings())


@main.command("create-admin")
@click.option("--organisation", "organisation_name", required=True,
              help="Name of the organisation (created if its slug does not exist).")
@click.option("--email", required=True)
@click.option("--display-name", required=True)
@click.password_option(envvar="WORKFORCE_ADMIN_PASSWORD",
                       help="Prompted for when not given (or set WORKFORCE_ADMIN_PASSWORD).")
def create_admin(organisation_name: str, email: str, display_name: str, password: str) -> None:
    """Create an organisation's administrator."""
    from workforce.accounts import services
    from workforce.accounts.audit import SystemActor
    from workforce.accounts.models import Role
    from workforce.accounts.services import Profile, slugify
    from workforce.errors import DomainError

    def create(session: Any) -> tuple[Any, Any]:
        slug = slugify(organisation_name)
        organisation = services.find_organisation_by_slug(
            session, slug
        ) or services.create_organisation(session, organisation_name, slug)
        return organisation, services.create_staff_user(
            session, SystemActor("cli:create-admin"), organisation=organisation,
            email=email, password=password, role=Role.ADMIN,
            profile=Profile(display_name=display_name),
        )

    try:
        organisation, user = current_app.extensions["workforce"].database.run(create)
    except DomainError as exc:
        fields = getattr(exc, "errors", {})
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        raise click.ClickException(f"{exc.detail} {detail}".strip()) from exc
    click.echo(f"admin {user.email} created in {organisation.name} ({organisation.slug})")


@main.command()
def demo() -> None:
    """Seed the demo organisation, its staff and three trainers (once)."""
    from workforce import demo as demo_data

    accounts = current_app.extensions["workforce"].database.run(demo_data.seed)
    if accounts is None:
        click.echo("demo data present already; its tokens were printed when it was created "
                   "(log in with POST /api/v1/auth/login for new ones)")
        return
    click.echo(f"demo data created; password for every account: {demo_data.DEMO_PASSWORD}")
    click.echo("API tokens (shown once, valid 30 days):")
    for account in accounts:
        click.echo(f"  {account.user.role.value:<15} {account.user.email:<28} {account.token}")
    click.echo("Admin and finance log in with a code from an authenticator app too; the "
               "TOTP secrets to add to one:")
    for account in accounts:
        if account.totp_secret:
            click.echo(f"  {account.user.email:<28} {account.totp_secret}")


if __name__ == "__main__":
    sys.exit(main())
