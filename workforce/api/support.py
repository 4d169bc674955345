"""Wellbeing: flags on disturbing content and their triage, support cases, check-ins,
and the aggregated figures managers see per project."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, STAFF_ROLES, Role
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.support_schemas import (
    CaseActionSchema,
    CaseListArgs,
    CheckInCreateSchema,
    CheckInReceiptSchema,
    CheckInSchema,
    CheckInStatusSchema,
    ConfirmSchema,
    DismissSchema,
    EscalateSchema,
    FlagCreateSchema,
    FlagListArgs,
    FlagReceiptSchema,
    MyCaseSchema,
    MyFlagSchema,
    ProjectWellbeingSchema,
    StaffCaseSchema,
    StaffFlagSchema,
    StaffNoteCreateSchema,
    TrainerNoteCreateSchema,
    WellbeingArgs,
)
from workforce.api.uow import db_session
from workforce.wellbeing import cases, checkins, figures, flags
from workforce.wellbeing.support_models import UNTRIAGED

blp = Blueprint(
    "support", __name__, url_prefix="/api/v1",
    description="Flags and triage, support cases, check-ins and aggregated wellbeing figures",
)


# --- flags (trainers) ----------------------------------------------------------------


@blp.route("/me/assignments/<uuid:assignment_id>/flag", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(FlagCreateSchema)
@blp.response(201, FlagReceiptSchema)
@blp.refuses(404, 409, 422)
def flag_task(args: dict, assignment_id: uuid.UUID):
    """Flag a task you hold or held: category, severity, a note, and whether you need
    support (a case opens at once for the organisation's wellbeing contact). With
    `return_task` the lease is released. A `high` flag hides the task from every other
    trainer until it is triaged. The time spent (claim to flag, never past the lease's
    expiry) is paid on per-task projects, up to twice the estimated task time, whatever
    triage decides, and flagged work never lowers your approval rate or quality score.
    The answer carries the organisation's support resources. 404 for a task you never
    had; 409 `already-flagged`, `not-leased`."""
    return flags.flag_task(db_session(), current_user(), assignment_id, **args)


@blp.route("/me/flags")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MyFlagSchema))
def list_my_flags(args: dict):
    """Your flags, newest first, with what became of them."""
    return flags.list_my_flags(db_session(), current_user(), page_request(args))


# --- triage (managers) ---------------------------------------------------------------


@blp.route("/flags")
@blp.requires(*MANAGERS)
@blp.arguments(FlagListArgs, location="query")
@blp.response(200, page_of(StaffFlagSchema))
@blp.refuses(404)
def list_flags(args: dict):
    """The organisation's flags, newest first: those waiting for triage unless `state`
    says otherwise; filter by `project_id` and `severity`. Never says who flagged."""
    page = page_request(args)
    state = args.get("state")
    return flags.list_flags(
        db_session(), current_user(), page, project_id=args.get("project_id"),
        severity=args.get("severity"), states=(state,) if state else UNTRIAGED,
    )


@blp.route("/flags/<uuid:flag_id>")
@blp.requires(*MANAGERS)
@blp.response(200, StaffFlagSchema)
@blp.refuses(404)
def get_flag(flag_id: uuid.UUID):
    """One of the organisation's flags."""
    return flags.get_flag(db_session(), current_user(), flag_id)


@blp.route("/flags/<uuid:flag_id>/confirm", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(ConfirmSchema)
@blp.response(200, StaffFlagSchema)
@blp.refuses(404, 409, 422)
def confirm_flag(args: dict, flag_id: uuid.UUID):
    """The flag was right. `scope` `task` or `project` raises that content warning
    (to `sensitivity`, default at least `sensitive`, adding `content_categories`,
    default the flag's); a project's trainers are told. A hidden task is offered again,
    with its new warning. 409 `illegal-transition` once triaged."""
    return flags.confirm_flag(db_session(), current_user(), flag_id, **args)


@blp.route("/flags/<uuid:flag_id>/dismiss", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(DismissSchema)
@blp.response(200, StaffFlagSchema)
@blp.refuses(404, 409)
def dismiss_flag(args: dict, flag_id: uuid.UUID):
    """The flag was not borne out: a reason the trainer sees is required. A hidden
    task is offered again; the trainer's pay and standing are unchanged."""
    return flags.dismiss_flag(db_session(), current_user(), flag_id, reason=args["reason"])


@blp.route("/flags/<uuid:flag_id>/escalate", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(EscalateSchema)
@blp.response(200, StaffFlagSchema)
@blp.refuses(404, 409)
def escalate_flag(args: dict, flag_id: uuid.UUID):
    """Hand an open flag to the wellbeing contact (else the admins), told in the app
    and by e-mail. A hidden task stays hidden until it is confirmed or dismissed."""
    return flags.escalate_flag(db_session(), current_user(), flag_id, note=args["note"])


# --- support cases -------------------------------------------------------------------


@blp.route("/me/support-cases")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MyCaseSchema))
def list_my_cases(args: dict):
    """Your support cases, newest first."""
    return cases.list_my_cases(db_session(), current_user(), page_request(args))


@blp.route("/me/support-cases/<uuid:case_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, MyCaseSchema)
@blp.refuses(404)
def get_my_case(case_id: uuid.UUID):
    """One of your support cases, with your notes and those shared with you."""
    return cases.get_my_case(db_session(), current_user(), case_id)


@blp.route("/me/support-cases/<uuid:case_id>/notes", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(TrainerNoteCreateSchema)
@blp.response(201, MyCaseSchema)
@blp.refuses(404, 409)
def add_my_note(args: dict, case_id: uuid.UUID):
    """Write to the case's handlers (409 `case-closed` once closed)."""
    return cases.add_trainer_note(db_session(), current_user(), case_id, args["body"])


@blp.route("/support-cases")
@blp.requires(*STAFF_ROLES)
@blp.arguments(CaseListArgs, location="query")
@blp.response(200, page_of(StaffCaseSchema))
def list_cases(args: dict):
    """The organisation's support cases, newest first, for its wellbeing contact and
    admins (other staff handle none and see an empty list); filter by `state`,
    `trainer_id`."""
    page = page_request(args)
    return cases.list_cases(db_session(), current_user(), page, state=args.get("state"),
                            trainer_id=args.get("trainer_id"))


@blp.route("/support-cases/<uuid:case_id>")
@blp.requires(*STAFF_ROLES)
@blp.response(200, StaffCaseSchema)
@blp.refuses(404)
def get_case(case_id: uuid.UUID):
    """A case of the organisation (404 for anyone but its handlers)."""
    return cases.get_case(db_session(), current_user(), case_id)


@blp.route("/support-cases/<uuid:case_id>/acknowledge", methods=["POST"])
@blp.requires(*STAFF_ROLES)
@blp.arguments(CaseActionSchema)
@blp.response(200, StaffCaseSchema)
@blp.refuses(404, 409)
def acknowledge_case(args: dict, case_id: uuid.UUID):
    """Take the case on; the trainer is told (with the note, if shared)."""
    return cases.acknowledge_case(db_session(), current_user(), case_id,
                                  note=args.get("note"), shared=args["share_with_trainer"])


@blp.route("/support-cases/<uuid:case_id>/close", methods=["POST"])
@blp.requires(*STAFF_ROLES)
@blp.arguments(CaseActionSchema)
@blp.response(200, StaffCaseSchema)
@blp.refuses(404, 409)
def close_case(args: dict, case_id: uuid.UUID):
    """Close the case; the trainer is told."""
    return cases.close_case(db_session(), current_user(), case_id,
                            note=args.get("note"), shared=args["share_with_trainer"])


@blp.route("/support-cases/<uuid:case_id>/notes", methods=["POST"])
@blp.requires(*STAFF_ROLES)
@blp.arguments(StaffNoteCreateSchema)
@blp.response(201, StaffCaseSchema)
@blp.refuses(404, 409)
def add_case_note(args: dict, case_id: uuid.UUID):
    """A note on the case: internal, or shared with the trainer (who is told)."""
    return cases.add_handler_note(db_session(), current_user(), case_id, args["body"],
                                  shared=args["share_with_trainer"])


# --- check-ins -----------------------------------------------------------------------


@blp.route("/me/check-in")
@blp.requires(Role.TRAINER)
@blp.response(200, CheckInStatusSchema)
def check_in_status():
    """Whether a check-in is due (`check_in_due`: sensitive work since your last
    check-in reached the organisation's threshold), and where it would go."""
    return checkins.status(db_session(), current_user())


@blp.route("/me/check-ins", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(CheckInCreateSchema)
@blp.response(201, CheckInReceiptSchema)
@blp.refuses(409, 422)
def check_in(args: dict):
    """Check in: mood 1 to 5, an optional private note, a support request. A request or
    a mood of 1 or 2 opens a support case at once. 409 `no-sensitive-work` before any
    sensitive work; 422 for an organisation you did no sensitive work for."""
    return checkins.check_in(db_session(), current_user(), **args)


@blp.route("/me/check-ins")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CheckInSchema))
def list_my_check_ins(args: dict):
    """Your check-ins, newest first."""
    return checkins.list_my_check_ins(db_session(), current_user(), page_request(args))


# --- aggregated figures (managers) ---------------------------------------------------


@blp.route("/projects/<uuid:project_id>/wellbeing")
@blp.requires(*MANAGERS)
@blp.arguments(WellbeingArgs, location="query")
@blp.response(200, ProjectWellbeingSchema)
@blp.refuses(404)
def project_wellbeing(args: dict, project_id: uuid.UUID):
    """De-identified figures for the last `weeks` complete weeks: exposure hours,
    flags by category and the check-in mood distribution. A figure drawn from fewer
    trainers than the organisation's `min_group_size` is replaced by
    `suppressed: true` and a reason."""
    return figures.project_figures(db_session(), current_user(), project_id,
                                   weeks=args["weeks"])
