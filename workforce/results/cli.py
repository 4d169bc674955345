"""``workforce results``: a project's results written to a file, with a progress bar;
the stream the downloads serve (``results.exports``), read with the command's own
read-only session."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from workforce.billing.cli import UtcTime
from workforce.errors import Conflict, NotFound
from workforce.results import exports


@click.group(cls=AppGroup)
def results() -> None:
    """A project's results: approved answers, aggregates, preference pairs."""


@results.command("export")
@click.argument("project_id", type=click.UUID)
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="jsonl",
              show_default=True, help="jsonl: one task a line (the API's items); csv: one "
              "row per task; preferences: one line per pairwise judgment, ties left out.")
@click.option("--since", type=UtcTime(), default=None,
              help="Only tasks whose result changed at or after this ISO 8601 time (with "
                   "its offset): an incremental sync from the last updated_at read.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              default="-", show_default=True, help="The file to write; - for stdout.")
def export(project_id: uuid.UUID, fmt: str, since: datetime | None, output: str) -> None:
    """Write PROJECT_ID's results, streamed (memory stays flat whatever the size), with a
    progress bar on stderr counted in tasks."""
    extension = current_app.extensions["workforce"]
    reading = extension.database.reading
    with reading() as session:
        try:
            project = exports.export_project(session, None, project_id)
        except NotFound as exc:
            raise click.ClickException(f"no project {project_id}") from exc
        if fmt == "preferences":
            try:
                exports.require_preferences(session, project.id)
            except Conflict as exc:
                raise click.ClickException(exc.detail) from exc
        total = exports.count_rows(session, project.id, since)
        extra = {"fields": exports.csv_fields(session, project.id)} if fmt == "csv" else {}
    target = click.open_file(output, "w", encoding="utf-8", atomic=output != "-")
    with target as out, click.progressbar(length=total, label=f"{fmt} of {total} tasks",
                                          file=sys.stderr) as bar:
        for chunk in exports.LINES[fmt](reading, project.id,
                                        secret=extension.settings.pseudonym_secret,
                                        since=since, progress=bar.update, **extra):
            out.write(chunk)
    if output != "-":
        click.echo(f"{total} tasks written to {output}", err=True)
