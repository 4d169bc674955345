"""Hourly work: sessions, manual entries and weekly timesheets."""

from __future__ import annotations

import uuid

from workforce import db
from workforce.accounts.models import REVIEWERS, Role
from workforce.api.hourly_schemas import (
    ApproveBodySchema,
    EntryListArgs,
    ManualEntryBodySchema,
    ProjectTimesheetListArgs,
    SessionSchema,
    StaffTimesheetDetailSchema,
    StaffTimesheetSchema,
    TimeEntrySchema,
    TimesheetDetailSchema,
    TimesheetListArgs,
    TimesheetSchema,
)
from workforce.api.schemas import page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.projects import hourly, timesheets

blp = Blueprint(
    "hourly", __name__, url_prefix="/api/v1",
    description="Hourly work: sessions, manual entries and weekly timesheets",
)


# --- sessions --------------------------------------------------------------------------


@blp.route("/projects/<uuid:project_id>/sessions", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(201, SessionSchema)
@blp.refuses(404, 409)
def start_session(project_id: uuid.UUID):
    """Start a work session now on an hourly project the caller is staffed on (403
    `not-staffed` otherwise). Refused (409) with `not-hourly`, `project-paused` (with
    the reason and resume date), `project-suspended`, `project-closed`,
    `session-running` (naming the running session, on any project),
    `daily-cap-reached` / `weekly-cap-reached` (with `resets_at`),
    `timesheet-submitted`, and on sensitive projects `exposure-limit-reached` (with
    `limit` and `resets_at`) or `consent-required`. Send a heartbeat more often than the
    project's idle timeout. `exposure_limit` says when a limit would stop the session."""
    return hourly.start_session(db_session(), current_user(), project_id)


@blp.route("/me/sessions/<uuid:entry_id>/heartbeat", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, SessionSchema)
@blp.refuses(404, 409)
def heartbeat(entry_id: uuid.UUID):
    """Still working. When a cap or an exposure limit has been reached, or the project's
    suspension has taken effect, the session is closed at that moment (`end_reason`
    `cap`, `exposure_limit` or `suspended`; `cap` or `exposure_limit` says which and
    when it resets). A closed session answers
    409 `session-closed`, also one that missed its heartbeats for the idle timeout: it
    is closed at its last heartbeat."""
    session, trainer = db_session(), current_user()
    # The idle close must stand although this request then fails (a 409 rolls back).
    if hourly.close_if_lapsed(session, trainer, entry_id):
        db.commit(session)
    return hourly.heartbeat(session, trainer, entry_id)


@blp.route("/me/sessions/<uuid:entry_id>/stop", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, SessionSchema)
@blp.refuses(404)
def stop_session(entry_id: uuid.UUID):
    """Stop the session now (`stopped`); at the cap moment if a cap was reached first
    (`cap`); at the suspension's effective time if it has passed (`suspended`); at the
    last heartbeat if it had missed its heartbeats (`idle`). A closed
    session is answered as it is."""
    session, trainer = db_session(), current_user()
    hourly.close_if_lapsed(session, trainer, entry_id)
    return hourly.stop_session(session, trainer, entry_id)


# --- manual entries --------------------------------------------------------------------


@blp.route("/projects/<uuid:project_id>/time-entries", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(ManualEntryBodySchema)
@blp.response(201, TimeEntrySchema)
@blp.refuses(404, 409)
def add_time_entry(args: dict, project_id: uuid.UUID):
    """Log past work with a note. 422 when it ends before it starts, lasts more than
    24 hours, ends in the future or starts more than 14 days ago. 409 with
    `entry-overlap` (naming the entry, on any project, a running session included),
    `daily-cap-reached` / `weekly-cap-reached`, `timesheet-submitted`, `not-hourly`,
    or `project-suspended` / `project-closed` for time after the suspension took effect."""
    return hourly.add_manual_entry(db_session(), current_user(), project_id, **args)


@blp.route("/me/time-entries/<uuid:entry_id>", methods=["DELETE"])
@blp.requires(Role.TRAINER)
@blp.response(204)
@blp.refuses(404, 409)
def delete_time_entry(entry_id: uuid.UUID):
    """Remove a manual entry while its timesheet is open (409 `timesheet-submitted`
    after; `not-manual` for a session)."""
    hourly.delete_manual_entry(db_session(), current_user(), entry_id)


@blp.route("/me/time-entries")
@blp.requires(Role.TRAINER)
@blp.arguments(EntryListArgs, location="query")
@blp.response(200, page_of(TimeEntrySchema))
def list_time_entries(args: dict):
    """The caller's sessions and manual entries, latest start first; filter by project
    and by start time (`from` inclusive, `to` exclusive)."""
    page = page_request(args)
    return hourly.list_entries(db_session(), current_user(), page, **args)


# --- timesheets: trainers --------------------------------------------------------------


@blp.route("/me/timesheets")
@blp.requires(Role.TRAINER)
@blp.arguments(TimesheetListArgs, location="query")
@blp.response(200, page_of(TimesheetSchema))
def list_my_timesheets(args: dict):
    """The caller's weekly timesheets, newest first, with their amounts and any
    adjustment reason; filter by project and state."""
    page = page_request(args)
    return timesheets.list_my_timesheets(db_session(), current_user(), page, **args)


@blp.route("/me/timesheets/<uuid:timesheet_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, TimesheetDetailSchema)
@blp.refuses(404)
def get_my_timesheet(timesheet_id: uuid.UUID):
    """One of the caller's timesheets with its entries, the seconds per rate version,
    and the amount it pays (or would pay if approved in full)."""
    return timesheets.get_my_timesheet(db_session(), current_user(), timesheet_id)


@blp.route("/me/timesheets/<uuid:timesheet_id>/submit", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, TimesheetDetailSchema)
@blp.refuses(404, 409)
def submit_timesheet(timesheet_id: uuid.UUID):
    """Submit the week for approval, whatever the project's state. Refused (409) with
    `session-running`, `timesheet-empty`, or `illegal-transition` once submitted."""
    return timesheets.submit_timesheet(db_session(), current_user(), timesheet_id)


# --- timesheets: the project's organisation --------------------------------------------


@blp.route("/projects/<uuid:project_id>/timesheets")
@blp.requires(*REVIEWERS)
@blp.arguments(ProjectTimesheetListArgs, location="query")
@blp.response(200, page_of(StaffTimesheetSchema))
@blp.refuses(404)
def list_project_timesheets(args: dict, project_id: uuid.UUID):
    """The project's timesheets, newest first; filter by state (`submitted` to review)."""
    page = page_request(args)
    return timesheets.list_project_timesheets(
        db_session(), current_user(), project_id, page, **args
    )


@blp.route("/timesheets/<uuid:timesheet_id>")
@blp.requires(*REVIEWERS)
@blp.response(200, StaffTimesheetDetailSchema)
@blp.refuses(404)
def get_timesheet(timesheet_id: uuid.UUID):
    """A timesheet of the organisation's project, with its entries and amount."""
    return timesheets.get_timesheet(db_session(), current_user(), timesheet_id)


@blp.route("/timesheets/<uuid:timesheet_id>/approve", methods=["POST"])
@blp.requires(*REVIEWERS)
@blp.arguments(ApproveBodySchema)
@blp.response(200, StaffTimesheetDetailSchema)
@blp.refuses(404, 409)
def approve_timesheet(args: dict, timesheet_id: uuid.UUID):
    """Approve a submitted timesheet: in full, or `approved_seconds` fewer than logged
    with a `reason` the trainer sees (422 without one; more than logged is refused).
    Each entry is paid at the rate in force when it started; the trainer is notified,
    the approval audited, and the earning recorded once. 409 `illegal-transition` if it
    is not submitted."""
    return timesheets.approve_timesheet(db_session(), current_user(), timesheet_id, **args)
