"""Bodies of the hourly-work endpoints: sessions, manual entries and timesheets.

Durations are whole seconds; money is integer minor units with its ISO 4217 code.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from marshmallow import Schema, fields, pre_dump, validate

from workforce.api.schemas import MoneySchema, PageArgs, PeriodArgs, Text, UtcDateTime
from workforce.projects.hourly import NOTE_MAX, CapKind, SessionView
from workforce.projects.models import EntryEndReason, EntrySource, TimesheetState
from workforce.projects.timesheets import ADJUSTMENT_REASON_MAX


class SessionCapSchema(Schema):
    kind = fields.Enum(CapKind, by_value=True)
    minutes = fields.Integer(metadata={"description": "The cap, in minutes per local "
                                       "day or week (Monday) of the trainer."})
    at = UtcDateTime(metadata={"description": "When the cap is (or was) reached."})
    resets_at = UtcDateTime(metadata={"description": "When that cap starts afresh: the "
                                          "next local midnight, or Monday midnight."})


class SessionLimitSchema(Schema):
    limit = fields.String(metadata={
        "description": "graphic_daily, weekly_exposure, break or graphic_cutoff."})
    at = UtcDateTime(metadata={"description": "When the limit is (or was) reached."})
    resets_at = UtcDateTime()
    detail = fields.String()


class TimeEntrySchema(Schema):
    """A work session (``source`` session; running while ``ended_at`` is null) or a
    manual entry with its note."""

    id = fields.UUID()
    project_id = fields.UUID()
    timesheet_id = fields.UUID()
    source = fields.Enum(EntrySource, by_value=True)
    started_at = UtcDateTime()
    ended_at = UtcDateTime(allow_none=True)
    running = fields.Function(lambda entry: entry.ended_at is None, dump_only=True)
    seconds = fields.Integer(
        allow_none=True, metadata={"description": "Null while the session runs."}
    )
    last_heartbeat_at = UtcDateTime(allow_none=True)
    end_reason = fields.Enum(
        EntryEndReason, by_value=True, allow_none=True,
        metadata={"description": "stopped, idle (closed at the last heartbeat), cap (closed "
                  "when a cap was reached), exposure_limit (closed when a wellbeing exposure "
                  "limit was reached), paused, suspended or left."},
    )
    note = fields.String()


class SessionSchema(TimeEntrySchema):
    cap = fields.Nested(
        SessionCapSchema, allow_none=True,
        metadata={"description": "Running: when a cap would close the session if it ran on "
                  "(null without caps). Closed by a cap: that cap and when it resets."},
    )

    exposure_limit = fields.Nested(
        SessionLimitSchema, allow_none=True,
        metadata={"description": "Sensitive projects: when an exposure limit would stop the "
                  "session if it ran on; for one a limit stopped, that limit."},
    )

    @pre_dump
    def _flatten(self, view: SessionView, **_: Any) -> SimpleNamespace:
        # The entry's own attributes, plus the cap and the exposure limit (``running``
        # is derived from them).
        names = [name for name in self.fields
                 if name not in ("running", "cap", "exposure_limit")]
        return SimpleNamespace(
            **{name: getattr(view.entry, name) for name in names}, cap=view.cap,
            exposure_limit=view.exposure_limit,
        )


class ManualEntryBodySchema(Schema):
    started_at = UtcDateTime(
        required=True,
        metadata={"description": "ISO 8601 with an offset, e.g. 2030-01-07T09:00:00+08:00."},
    )
    ended_at = UtcDateTime(required=True)
    note = Text(required=True, validate=validate.Length(min=1, max=NOTE_MAX),
                metadata={"description": "What the time was spent on (required)."})


class EntryListArgs(PageArgs, PeriodArgs):
    """``from`` and ``to`` bound when an entry starts."""

    project_id = fields.UUID()


class TimesheetListArgs(PageArgs):
    project_id = fields.UUID()
    state = fields.Enum(TimesheetState, by_value=True)


class ProjectTimesheetListArgs(PageArgs):
    state = fields.Enum(TimesheetState, by_value=True)


class PayPartSchema(Schema):
    rate_id = fields.UUID()
    hourly_rate = fields.Nested(MoneySchema, attribute="hourly")
    seconds = fields.Integer()


class TimesheetTrainerSchema(Schema):
    id = fields.UUID()
    display_name = fields.String()


class TimesheetSchema(Schema):
    """A trainer's week on one project. Until approval, ``amount`` is what approving
    every logged second would pay (a running session counted up to now); once
    approved (``amount_is_final``), what was paid."""

    id = fields.UUID(attribute="timesheet.id")
    project_id = fields.UUID(attribute="timesheet.project_id")
    project_name = fields.String()
    trainer_id = fields.UUID(attribute="timesheet.trainer_id")
    week_start = fields.Date(attribute="timesheet.week_start",
                             metadata={"description": "Monday, in the trainer's time zone."})
    week_end = fields.Date()
    state = fields.Enum(TimesheetState, by_value=True, attribute="timesheet.state")
    submitted_at = UtcDateTime(attribute="timesheet.submitted_at", allow_none=True)
    logged_seconds = fields.Integer()
    approved_seconds = fields.Integer(attribute="timesheet.approved_seconds", allow_none=True)
    adjustment_reason = fields.String(
        attribute="timesheet.adjustment_reason", allow_none=True,
        metadata={"description": "Why fewer seconds were approved than logged."},
    )
    amount = fields.Nested(MoneySchema)
    amount_is_final = fields.Boolean()
    parts = fields.List(
        fields.Nested(PayPartSchema),
        metadata={"description": "Seconds paid at each rate version (each entry at the rate "
                  "in force when it started, in order, up to the approved total); the "
                  "amount is their sum, rounded once."},
    )
    auto_approved = fields.Boolean(attribute="timesheet.auto_approved")
    reviewed_at = UtcDateTime(attribute="timesheet.reviewed_at", allow_none=True)


class TimesheetDetailSchema(TimesheetSchema):
    entries = fields.List(fields.Nested(TimeEntrySchema))


class StaffTimesheetSchema(TimesheetSchema):
    trainer = fields.Nested(TimesheetTrainerSchema)


class StaffTimesheetDetailSchema(StaffTimesheetSchema):
    entries = fields.List(fields.Nested(TimeEntrySchema))


class ApproveBodySchema(Schema):
    approved_seconds = fields.Integer(
        strict=True, validate=validate.Range(min=0),
        metadata={"description": "Defaults to every second logged; fewer needs a reason."},
    )
    reason = Text(
        validate=validate.Length(min=1, max=ADJUSTMENT_REASON_MAX),
        metadata={"description": "Why fewer seconds are approved; the trainer sees it."},
    )
