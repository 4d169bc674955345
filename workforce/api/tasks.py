"""Tasks: import, claims and leases, submissions, review and appeals."""

from __future__ import annotations

import uuid
from collections import Counter

from flask import current_app, request
from werkzeug.exceptions import UnsupportedMediaType

from workforce.accounts.models import MANAGERS, REVIEWERS, Role
from workforce.api.bodies import raw_body
from workforce.api.problems import members_of
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.tasks_schemas import (
    AppealCreateSchema,
    AppealDecidedSchema,
    AppealDecisionSchema,
    AppealListArgs,
    AppealSchema,
    AssignmentListArgs,
    AssignmentSchema,
    BulkReviewedSchema,
    BulkReviewSchema,
    ImportArgs,
    ImportReportSchema,
    QualitySchema,
    ReviewedSchema,
    ReviewItemSchema,
    ReviewSchema,
    StaffAppealSchema,
    StaffTaskSchema,
    SubmitSchema,
    TaskImportSchema,
    TaskListArgs,
)
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.projects import imports, reviews, tasks
from workforce.projects.imports import ImportFormat
from workforce.projects.reviews import BulkOutcome
from workforce.results import quality

blp = Blueprint(
    "tasks", __name__, url_prefix="/api/v1",
    description="Tasks: import, claims and leases, submissions, review and appeals",
)


IMPORT_TYPES = {
    "application/x-ndjson": ImportFormat.JSONL,
    "application/jsonl": ImportFormat.JSONL,
    "text/csv": ImportFormat.CSV,
}
_FILE = {"schema": {"type": "string", "format": "binary"}}
IMPORT_BODY = {
    "required": True,
    "description": "JSON lines, one task per line: `{\"external_id\": \"clip-1\", "
    "\"payload\": {\"prompt\": \"...\", \"media_urls\": [\"https://...\"], \"instructions\": "
    "\"...\"}, \"redundancy\": 3, \"priority\": 0, \"gold_answer\": null}`; or CSV with the "
    "header `external_id,prompt,media_urls,instructions,redundancy,priority,gold_answer` "
    "(media URLs separated by spaces or `|`; gold_answer as JSON text). UTF-8. A row may "
    "carry its own content warning, `sensitivity` (none, sensitive, graphic; never below "
    "the project's) and `content_categories` (required unless none; in CSV, separated by "
    "spaces or `|`), also as optional CSV columns of those names. For pairwise templates "
    "a row may carry `payload.responses`, the responses compared (A: the first, B: the "
    "second): `[{\"id\": \"a\", \"text\": \"...\"}, {\"id\": \"b\", \"text\": "
    "\"...\"}]` (2 to 10, distinct ids); in CSV the column `responses` as JSON text.",
    "content": {mimetype: _FILE for mimetype in IMPORT_TYPES},
}

# --- imports and the task list (staff) -----------------------------------------------


@blp.route("/projects/<uuid:project_id>/tasks/import", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.TASKS_WRITE)
@blp.arguments(ImportArgs, location="query")
@blp.response(201, ImportReportSchema)
@blp.doc(requestBody=IMPORT_BODY)
@blp.refuses(404, 409, 413, 415, 422)
@raw_body(*IMPORT_TYPES)
def import_tasks(args: dict, project_id: uuid.UUID):
    """Import tasks from a JSON-lines or CSV file sent as the body, streamed (up to
    `WORKFORCE_MAX_IMPORT_BYTES`, 413 beyond). An external id the project has already,
    or that came earlier in the file, creates nothing and is reported as a duplicate.
    A file with any invalid row imports nothing (422 `import-invalid` with the counts
    and `row_errors`) unless `skip_invalid=true`. Refused on closed projects (409)."""
    fmt = IMPORT_TYPES.get(request.mimetype)
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if fmt is None or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            "Send the tasks as UTF-8 with one of these content types: "
            + ", ".join(IMPORT_TYPES) + "."
        )
    # This route alone may take a body this large; it is read line by line.
    request.max_content_length = current_app.extensions["workforce"].settings.max_import_bytes
    return imports.import_tasks(
        db_session(), current_user(), project_id, request.stream, fmt=fmt,
        skip_invalid=args["skip_invalid"],
    )


@blp.route("/projects/<uuid:project_id>/imports")
@blp.requires(*MANAGERS, scope=Scope.TASKS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TaskImportSchema))
@blp.refuses(404)
def list_imports(args: dict, project_id: uuid.UUID):
    """The project's task imports, newest first, with their counts."""
    return imports.list_imports(db_session(), current_user(), project_id, page_request(args))


@blp.route("/projects/<uuid:project_id>/tasks")
@blp.requires(*REVIEWERS, scope=Scope.TASKS_READ)
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, page_of(StaffTaskSchema))
@blp.refuses(404)
def list_tasks(args: dict, project_id: uuid.UUID):
    """The project's tasks, newest first, with open slots, assignments by state and the
    gold answer. `open=true`: only tasks that still need answers."""
    page = page_request(args)
    return tasks.list_tasks(
        db_session(), current_user(), project_id, page,
        external_id=args.get("external_id"), open_only=args.get("open", False),
    )


# --- claims and leases (trainers) ----------------------------------------------------


@blp.route("/projects/<uuid:project_id>/claims", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(201, AssignmentSchema)
@blp.alt_response(200, schema=AssignmentSchema,
                  description="The caller's lease on this project that is still running.")
@blp.refuses(404, 409)
def claim(project_id: uuid.UUID):
    """Lease the next task: the highest priority (then the oldest) that still needs
    answers and that the caller has never had, for the project's lease length. One lease
    per trainer and project at a time: while one runs, it is returned (200) instead.
    The answer holds the task, its content warning (the task's own, else the project's),
    the estimated task time, the current guidelines and the task template version the
    answer must fit (`template`), never a gold answer; on a
    sensitive project when rotation is due, also `rotation` (the non-sensitive projects
    the caller is staffed on). Sensitive and graphic work comes without its content
    (`payload` null, `revealed_at` null): reveal it with `POST
    /me/assignments/{id}/reveal`, or give it back unrevealed with `.../release`. Tasks
    the caller may not take now are skipped: over an exposure limit for their level, or
    with content categories not consented to. Refused with 403
    `not-staffed`, 409 `project-paused` (with the reason and expected resume date),
    `project-suspended`, `project-closed`, `no-task-available`, or, when only skipped
    tasks are left, `exposure-limit-reached` (with `limit` and `resets_at`) or
    `consent-required` (with `missing_categories`)."""
    view, new = tasks.claim_next(db_session(), current_user(), project_id)
    return view, 201 if new else 200


@blp.route("/me/assignments")
@blp.requires(Role.TRAINER)
@blp.arguments(AssignmentListArgs, location="query")
@blp.response(200, page_of(AssignmentSchema))
def list_my_assignments(args: dict):
    """The caller's assignments, newest first, with review feedback and appeals;
    filter by `state` and `project_id`."""
    page = page_request(args)
    return tasks.list_assignments(
        db_session(), current_user(), page, state=args.get("state"),
        project_id=args.get("project_id"),
    )


@blp.route("/me/assignments/<uuid:assignment_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, AssignmentSchema)
@blp.refuses(404)
def get_my_assignment(assignment_id: uuid.UUID):
    """One of the caller's assignments, with the project's current guidelines."""
    return tasks.get_assignment(db_session(), current_user(), assignment_id)


@blp.route("/me/assignments/<uuid:assignment_id>/reveal", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, AssignmentSchema)
@blp.refuses(404, 409)
def reveal(assignment_id: uuid.UUID):
    """Show the content of a claimed sensitive or graphic task (`payload`), after its
    content warning: the exposure counts from now (`revealed_at`). The claim's checks
    apply again at this moment: 409 `exposure-limit-reached` (with `limit` and
    `resets_at`) when a limit stops the work now, `consent-required` for categories not
    consented to; the lease is cut to the moment a limit would be reached. Only a lease
    that still runs (409 `lease-expired`, `lease-released`, `not-leased`). Revealing a
    task already shown answers it unchanged. To decline, give the task back unrevealed
    (`.../release`): nothing was shown or counted, and it never touches your standing."""
    return tasks.reveal(db_session(), current_user(), assignment_id)


@blp.route("/me/assignments/<uuid:assignment_id>/extend", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, AssignmentSchema)
@blp.refuses(404, 409)
def extend(assignment_id: uuid.UUID):
    """Run the lease for another lease length from now, up to three lease lengths from
    the claim (409 `lease-limit-reached`), and on sensitive work never past the moment
    an exposure limit would be reached (409 `exposure-limit-reached` when that gains
    nothing). Only a lease that still runs (409 `lease-expired`, `lease-released`,
    `not-leased`; `project-suspended` once the project's suspension took effect) on a
    revealed task (409 `not-revealed`)."""
    return tasks.extend_lease(db_session(), current_user(), assignment_id)


@blp.route("/me/assignments/<uuid:assignment_id>/release", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, AssignmentSchema)
@blp.refuses(404, 409)
def release(assignment_id: uuid.UUID):
    """Give the task back; another trainer may claim it, the caller not again. Before a
    reveal this is the decline: nothing was shown, no exposure is counted, and (as any
    release) it never touches the caller's quality score or approval rate."""
    return tasks.release_lease(db_session(), current_user(), assignment_id)


@blp.route("/me/assignments/<uuid:assignment_id>/submit", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(SubmitSchema)
@blp.response(200, AssignmentSchema)
@blp.refuses(404, 409)
def submit(args: dict, assignment_id: uuid.UUID):
    """Hand in the answer of a running lease, or a revision that was asked for.
    `active_seconds` is capped at the time since the task was revealed (the claim, for
    work without a content warning). A lease that ran out or was released, or whose
    task was not revealed, is refused (409 `lease-expired`, `lease-released`,
    `not-revealed`), as is one on a project whose suspension has taken effect (409
    `project-suspended`, with `suspended_at`), and nothing is kept. On a project with a
    task template the answer must fit the version in force at the claim (the
    assignment's `template`): 422 `answer-invalid` with `errors` keyed by JSON pointer
    into the answer, every problem at once, nothing kept; the same for a recording or
    file field naming an upload that is not this assignment's, for another field,
    empty, deleted, or whose content does not fit (a direct upload is checked here).
    Work not sampled for review is approved and paid at once (`auto_approved`)."""
    files = current_app.extensions["workforce"].files
    return tasks.submit(
        db_session(), current_user(), assignment_id, answer=args["answer"],
        active_seconds=args["active_seconds"], files=files.store if files else None,
    )


@blp.route("/me/assignments/<uuid:assignment_id>/appeal", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(AppealCreateSchema)
@blp.response(201, AppealSchema)
@blp.refuses(404, 409)
def appeal(args: dict, assignment_id: uuid.UUID):
    """Appeal a rejection, once (409 `appeal-exists`; `not-rejected`)."""
    return reviews.appeal(db_session(), current_user(), assignment_id, args["message"])


@blp.route("/me/quality")
@blp.requires(Role.TRAINER)
@blp.response(200, QualitySchema)
def my_quality():
    """The caller's quality score (gold tasks answered correctly) and approval rate
    with each organisation they have worked for, and per project their gold accuracy
    with its Wilson interval, agreement with the aggregated answers, the aggregation
    model's skill estimate and median active seconds per task, with `definitions`
    saying how each figure is computed."""
    session, trainer = db_session(), current_user()
    return {"organisations": reviews.trainer_quality(session, trainer),
            "projects": quality.my_quality(session, trainer),
            "definitions": quality.DEFINITIONS}


# --- review and appeals (staff) ------------------------------------------------------


@blp.route("/projects/<uuid:project_id>/reviews")
@blp.requires(*REVIEWERS, scope=Scope.REVIEWS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ReviewItemSchema))
@blp.refuses(404)
def review_queue(args: dict, project_id: uuid.UUID):
    """Submitted work waiting for review, oldest first, with gold answers; nothing says
    who did it."""
    return reviews.review_queue(db_session(), current_user(), project_id, page_request(args))


@blp.route("/assignments/<uuid:assignment_id>/review", methods=["POST"])
@blp.requires(*REVIEWERS, scope=Scope.REVIEWS_WRITE)
@blp.arguments(ReviewSchema)
@blp.response(200, ReviewedSchema)
@blp.refuses(404, 409)
def review(args: dict, assignment_id: uuid.UUID):
    """Approve (pays), reject (`rejection_category` and `message` required; the task
    goes back to the pool) or `request_revision` (`message` required) submitted work of
    your organisation. The trainer is told."""
    return reviews.review(
        db_session(), current_user(), assignment_id, decision=args["decision"],
        rejection_category=args.get("rejection_category"), message=args.get("message"),
    )


@blp.route("/projects/<uuid:project_id>/reviews/bulk", methods=["POST"])
@blp.requires(*REVIEWERS, scope=Scope.REVIEWS_WRITE)
@blp.arguments(BulkReviewSchema)
@blp.response(200, BulkReviewedSchema)
@blp.refuses(404)
def review_bulk(args: dict, project_id: uuid.UUID):
    """Approve, or reject with one `rejection_category` and `message`, up to 500
    submitted assignments of the project at once. Each id is decided as a single review
    would decide it (pay, the trainer told, a rejection open to appeal, audited), on its
    own: one that cannot be decided is answered `error` with its problem and changes
    nothing, and does not undo the others. The answer lists every id in the order sent
    with its outcome. Sent again, an id already decided as asked is answered again
    (`repeated: true`) and nothing is paid twice. A body with no ids, more than 500 or
    an id twice is 422 and decides nothing."""
    results = reviews.review_many(
        db_session(), current_user(), project_id, args["assignment_ids"],
        decision=args["decision"], rejection_category=args.get("rejection_category"),
        message=args.get("message"),
    )
    counts = Counter(r.outcome for r in results)
    return {
        "approved": counts[BulkOutcome.APPROVED], "rejected": counts[BulkOutcome.REJECTED],
        "errors": counts[BulkOutcome.ERROR],
        "results": [{**vars(r), "problem": r.problem and members_of(r.problem)}
                    for r in results],
    }


@blp.route("/projects/<uuid:project_id>/appeals")
@blp.requires(*MANAGERS)
@blp.arguments(AppealListArgs, location="query")
@blp.response(200, page_of(StaffAppealSchema))
@blp.refuses(404)
def list_appeals(args: dict, project_id: uuid.UUID):
    """The project's appeals, oldest first; filter by `state` (`open` for the queue)."""
    page = page_request(args)
    return reviews.list_appeals(
        db_session(), current_user(), project_id, page, state=args.get("state")
    )


@blp.route("/appeals/<uuid:appeal_id>/decision", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(AppealDecisionSchema)
@blp.response(200, AppealDecidedSchema)
@blp.refuses(404, 409)
def decide_appeal(args: dict, appeal_id: uuid.UUID):
    """Uphold the rejection, or overturn it: the work is approved and paid, and the
    slot its rejection gave back is closed (`task_over_answered` says when another
    trainer had already taken it). A note for the trainer is required. 409
    `appeal-decided` once decided."""
    return reviews.decide_appeal(
        db_session(), current_user(), appeal_id, decision=args["decision"], note=args["note"]
    )
