"""The declared authorization policy: every route, who may call it, and for routes that
aim at an object, how "within reach" is decided. This is data written from the product's
rules (README: roles and scopes), not read from the code under test; the matrix test
(`tests/test_authz_matrix.py`) calls every route and compares the answers with it. A
route missing here fails that test.

Reach (for routes with an object in the path):

- ``organisation``: staff of the object's organisation;
- ``owner``: the trainer whose object it is (their assignment, attempt, statement...);
- ``member``: a trainer staffed on the project;
- ``eligible``: a trainer who meets the project's requirements (the marketplace);
- ``grader``: the grader who holds the grading;
- ``handler``: the admins of the case's organisation and its wellbeing contact;
- ``recipient``: the user the notification is for;
- ``holder``: the user whose token (session) it is;
- ``published``: any trainer (published assessments are open to every trainer).

Anyone else gets 404, never 403, so existence does not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.factories import PASSWORD
from workforce.accounts.models import Role

A, V, R, F, T = Role.ADMIN, Role.VENDOR_MANAGER, Role.REVIEWER, Role.FINANCE, Role.TRAINER
EVERYONE = frozenset(Role)
STAFF = frozenset({A, V, R, F})
MANAGERS = frozenset({A, V})
REVIEWERS = frozenset({A, V, R})
GRADERS = frozenset({V, R})
MONEY = frozenset({A, F})
TRAINER = frozenset({T})
ADMIN = frozenset({A})
PUBLIC = None

# One field of a task template, for the template routes.
TEMPLATE_FIELD = {"name": "summary", "label": "Summary", "kind": "text"}

Body = dict[str, Any] | Callable[[Any], dict[str, Any]] | None


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] | None  # None: public
    reach: str | None = None  # for object routes; "a|b" means either
    # Which world object each path parameter aims at, where the parameter's name alone
    # does not say (see DEFAULT_OBJECTS).
    objects: dict[str, str] = field(default_factory=dict)
    # A valid body, so that a call reaches the object lookup instead of stopping at 422.
    body: Body = None
    # Tables whose rows of the other side the caller may legitimately see (the
    # trainers' marketplace of published assessments spans organisations).
    shared: tuple[str, ...] = ()
    # A raw (non-JSON) body: (content type, bytes), for uploads.
    raw: tuple[str, bytes] | None = None
    # The one API key scope that opens the route (None: no key may call it). Only routes
    # open to admins, since a key acts with an admin's reach; never one that reaches
    # trainers' wellbeing data, the audit log, keys, staff or payout decisions.
    scope: str | None = None


DEFAULT_OBJECTS = {
    "appeal_id": "appeal", "assessment_id": "assessment", "question_id": "question",
    "assignment_id": "assignment", "attempt_id": "attempt", "flag_id": "flag",
    "grading_id": "grading", "invitation_id": "invitation", "entry_id": "ledger_entry",
    "membership_id": "membership", "case_id": "case", "payout_item_id": "payout_item",
    "item_id": "payout_item", "timesheet_id": "timesheet", "run_id": "payout_run",
    "schedule_id": "payout_schedule", "project_id": "project",
    "qualification_id": "qualification", "user_id": "user_reviewer",
    "notification_id": "notification", "payout_account_id": "payout_account",
    "export_id": "data_export",
    "key_id": "api_key",
    "endpoint_id": "webhook_endpoint",
    "action_id": "account_action",
    "rule_id": "quality_rule",
    "restriction_id": "quality_restriction",
    "token_id": "api_token",
    "upload_id": "upload",
}

HOURLY = {"project_id": "hourly_project"}
MARKET = ("organisations", "qualifications", "assessments", "assessment_versions",
          "questions")


def _trainer(side: Any) -> dict[str, Any]:
    return {"trainer_id": str(side.trainer.id), "reason": "Checked by hand."}


def _text(name: str, value: str = "Because.") -> dict[str, Any]:
    return {name: value}


POLICY: dict[str, Rule] = {
    # --- public ------------------------------------------------------------------------
    "GET /api/v1/health": Rule(PUBLIC),
    "GET /api/v1/openapi.json": Rule(PUBLIC),
    "GET /api/v1/docs": Rule(PUBLIC),
    "GET /api/v1/docs/assets/<path:filename>": Rule(PUBLIC),
    "POST /api/v1/auth/signup": Rule(PUBLIC),
    "POST /api/v1/auth/login": Rule(PUBLIC),
    "POST /api/v1/auth/password-reset": Rule(PUBLIC),
    "POST /api/v1/auth/password-reset/confirm": Rule(PUBLIC),
    "POST /api/v1/auth/invitations/accept": Rule(PUBLIC),
    "POST /api/v1/webhooks/stripe": Rule(PUBLIC),
    "POST /api/v1/webhooks/stripe/connect": Rule(PUBLIC),
    # --- the caller's own account ------------------------------------------------------
    "POST /api/v1/auth/logout": Rule(EVERYONE),
    "POST /api/v1/auth/logout-all": Rule(EVERYONE),
    "POST /api/v1/auth/password": Rule(EVERYONE),
    "GET /api/v1/me": Rule(EVERYONE),
    "PATCH /api/v1/me": Rule(EVERYONE),
    "GET /api/v1/me/notifications": Rule(EVERYONE),
    "GET /api/v1/me/notifications/unread-count": Rule(EVERYONE),
    "POST /api/v1/me/notifications/read-all": Rule(EVERYONE),
    "POST /api/v1/me/notifications/<uuid:notification_id>/read": Rule(EVERYONE, "recipient"),
    "GET /api/v1/me/notification-preferences": Rule(EVERYONE),
    "PATCH /api/v1/me/notification-preferences": Rule(
        EVERYONE, body={"email": {"project.application_declined": False}}),
    # --- the organisation, its staff and its audit log ---------------------------------
    "GET /api/v1/organisation": Rule(STAFF),
    "PATCH /api/v1/organisation": Rule(ADMIN),
    "GET /api/v1/organisation/pay-policy": Rule(STAFF),
    "PATCH /api/v1/organisation/pay-policy": Rule(ADMIN),
    "GET /api/v1/organisation/wellbeing-policy": Rule(STAFF),
    "PATCH /api/v1/organisation/wellbeing-policy": Rule(ADMIN),
    "GET /api/v1/organisation/wage-floors": Rule(frozenset({A, V, F})),
    "PUT /api/v1/organisation/wage-floors/<string:currency>": Rule(MONEY),
    "PUT /api/v1/organisation/wage-floors/<string:currency>/countries/<string:country>":
        Rule(MONEY),
    "DELETE /api/v1/organisation/wage-floors/<string:currency>/countries/<string:country>":
        Rule(MONEY),
    "GET /api/v1/users": Rule(ADMIN),
    "GET /api/v1/users/<uuid:user_id>": Rule(ADMIN, "organisation"),
    "PATCH /api/v1/users/<uuid:user_id>": Rule(ADMIN, "organisation",
                                               body={"role": "reviewer"}),
    "GET /api/v1/invitations": Rule(ADMIN),
    "POST /api/v1/invitations": Rule(ADMIN),
    "DELETE /api/v1/invitations/<uuid:invitation_id>": Rule(ADMIN, "organisation"),
    "POST /api/v1/invitations/<uuid:invitation_id>/resend": Rule(ADMIN, "organisation"),
    "GET /api/v1/audit-events": Rule(ADMIN),
    # --- API keys (people only: a key never manages keys) -------------------------------
    "GET /api/v1/api-keys": Rule(ADMIN),
    "POST /api/v1/api-keys": Rule(ADMIN, body={"name": "Pipeline", "scopes": ["tasks:write"]}),
    "GET /api/v1/api-keys/<uuid:key_id>": Rule(ADMIN, "organisation"),
    "DELETE /api/v1/api-keys/<uuid:key_id>": Rule(ADMIN, "organisation"),
    # --- qualifications and assessments (authoring) ------------------------------------
    "GET /api/v1/qualifications": Rule(REVIEWERS),
    "POST /api/v1/qualifications": Rule(MANAGERS),
    "GET /api/v1/qualifications/<uuid:qualification_id>": Rule(REVIEWERS, "organisation"),
    "PATCH /api/v1/qualifications/<uuid:qualification_id>": Rule(
        MANAGERS, "organisation", body={"description": "Cantonese listening."}),
    "POST /api/v1/qualifications/<uuid:qualification_id>/grants": Rule(
        MANAGERS, "organisation", body=_trainer),
    "POST /api/v1/qualifications/<uuid:qualification_id>/revocations": Rule(
        MANAGERS, "organisation", body=_trainer),
    "GET /api/v1/qualifications/<uuid:qualification_id>/holders": Rule(REVIEWERS, "organisation"),
    "GET /api/v1/assessments": Rule(REVIEWERS),
    "POST /api/v1/assessments": Rule(MANAGERS),
    "GET /api/v1/assessments/<uuid:assessment_id>": Rule(REVIEWERS, "organisation"),
    "PATCH /api/v1/assessments/<uuid:assessment_id>": Rule(
        MANAGERS, "organisation", body={"instructions": "Listen twice."}),
    "POST /api/v1/assessments/<uuid:assessment_id>/archive": Rule(MANAGERS, "organisation"),
    "POST /api/v1/assessments/<uuid:assessment_id>/publish": Rule(MANAGERS, "organisation"),
    "GET /api/v1/assessments/<uuid:assessment_id>/questions": Rule(MANAGERS, "organisation"),
    "POST /api/v1/assessments/<uuid:assessment_id>/questions": Rule(
        MANAGERS, "organisation", body={"kind": "free_text", "prompt": "Describe it.",
                                        "rubric": [{"id": "a", "name": "Accuracy",
                                                    "max_points": 5, "levels": [
                                                        {"points": 0, "descriptor": "No"},
                                                        {"points": 5, "descriptor": "Yes"}]}]}),
    "PATCH /api/v1/assessments/<uuid:assessment_id>/questions/<uuid:question_id>": Rule(
        MANAGERS, "organisation", body={"prompt": "Describe what you hear."}),
    "DELETE /api/v1/assessments/<uuid:assessment_id>/questions/<uuid:question_id>": Rule(
        MANAGERS, "organisation"),
    "GET /api/v1/assessments/<uuid:assessment_id>/versions": Rule(REVIEWERS, "organisation"),
    # --- attempts (trainers) and grading (staff) ---------------------------------------
    "GET /api/v1/me/assessments": Rule(TRAINER, shared=MARKET),
    "POST /api/v1/me/assessments/<uuid:assessment_id>/attempts": Rule(TRAINER, "published",
                                                                      shared=MARKET),
    "GET /api/v1/me/attempts": Rule(TRAINER, shared=MARKET),
    "GET /api/v1/me/attempts/<uuid:attempt_id>": Rule(TRAINER, "owner"),
    "PUT /api/v1/me/attempts/<uuid:attempt_id>/answers/<uuid:question_id>": Rule(
        TRAINER, "owner", body={"text": "Hong Kong."}),
    "POST /api/v1/me/attempts/<uuid:attempt_id>/submit": Rule(TRAINER, "owner"),
    "GET /api/v1/me/qualifications": Rule(TRAINER, shared=MARKET),
    "GET /api/v1/grading/queue": Rule(GRADERS),
    "GET /api/v1/grading/stats": Rule(MANAGERS),
    "POST /api/v1/grading/attempts/<uuid:attempt_id>/claim": Rule(GRADERS, "organisation"),
    "GET /api/v1/gradings/<uuid:grading_id>": Rule(GRADERS, "grader"),
    "DELETE /api/v1/gradings/<uuid:grading_id>": Rule(GRADERS, "grader"),
    "POST /api/v1/gradings/<uuid:grading_id>/submit": Rule(
        GRADERS, "grader", body={"scores": []}),
    # --- projects ------------------------------------------------------------------------
    "GET /api/v1/projects": Rule(STAFF, scope="projects:read"),
    "POST /api/v1/projects": Rule(MANAGERS, scope="projects:write"),
    "GET /api/v1/projects/<uuid:project_id>": Rule(STAFF, "organisation", scope="projects:read"),
    "PATCH /api/v1/projects/<uuid:project_id>": Rule(
        MANAGERS, "organisation", body={"description": "Label accents."}, scope="projects:write"),
    "POST /api/v1/projects/<uuid:project_id>/activate": Rule(MANAGERS, "organisation",
        scope="projects:write"),
    "GET /api/v1/projects/<uuid:project_id>/guidelines": Rule(STAFF, "organisation",
        scope="projects:read"),
    "POST /api/v1/projects/<uuid:project_id>/guidelines": Rule(
        MANAGERS, "organisation", body=_text("body", "Listen twice, then label."),
        scope="projects:write"),
    # The task template lives on the world's hourly project (its trainer is on it).
    "PUT /api/v1/projects/<uuid:project_id>/template": Rule(
        MANAGERS, "organisation", HOURLY, body={"fields": [TEMPLATE_FIELD]},
        scope="projects:write"),
    "GET /api/v1/projects/<uuid:project_id>/template": Rule(
        EVERYONE, "organisation|eligible", HOURLY, scope="projects:read"),
    "GET /api/v1/projects/<uuid:project_id>/template/versions": Rule(
        EVERYONE, "organisation|eligible", HOURLY, scope="projects:read"),
    "GET /api/v1/projects/<uuid:project_id>/template/versions/<int:number>": Rule(
        EVERYONE, "organisation|eligible", HOURLY, scope="projects:read"),
    "GET /api/v1/projects/<uuid:project_id>/template/schema": Rule(
        EVERYONE, "organisation|eligible", HOURLY, scope="projects:read"),
    # Files as answers (issue 17): a recording policy and the trainer's consent on the
    # world's per-task project, an upload on its submitted assignment. The upload and
    # download endpoints take a signed token as their permission: public.
    "PUT /api/v1/projects/<uuid:project_id>/recording-policy": Rule(
        MANAGERS, "organisation", body={"what_is_recorded": "Voice.", "purpose": "ASR.",
                                        "retention_days": 30}, scope="projects:write"),
    "GET /api/v1/projects/<uuid:project_id>/recording-policy": Rule(
        EVERYONE, "organisation|eligible", scope="projects:read"),
    "PUT /api/v1/projects/<uuid:project_id>/recording-consent": Rule(TRAINER, "eligible"),
    "GET /api/v1/projects/<uuid:project_id>/recording-consent": Rule(TRAINER, "eligible"),
    "DELETE /api/v1/projects/<uuid:project_id>/recording-consent": Rule(TRAINER, "eligible"),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/uploads": Rule(
        TRAINER, "owner", body={"field": "reading", "size": 10, "sha256": "0" * 64}),
    "PUT /api/v1/upload-slots/<string:token>": Rule(
        PUBLIC, raw=("application/octet-stream", b"RIFF")),
    "GET /api/v1/uploads/<uuid:upload_id>": Rule(EVERYONE, "organisation|owner",
                                                 scope="results:read"),
    "POST /api/v1/uploads/<uuid:upload_id>/download-link": Rule(
        EVERYONE, "organisation|owner", scope="results:read"),
    "GET /api/v1/files/<string:token>": Rule(PUBLIC),
    "POST /api/v1/me/recordings/deletion": Rule(TRAINER),
    # Aggregated answers (issue 16): staff read, managers ask and set methods.
    "GET /api/v1/projects/<uuid:project_id>/aggregation": Rule(STAFF, "organisation",
        scope="projects:read"),
    "POST /api/v1/projects/<uuid:project_id>/aggregation": Rule(MANAGERS, "organisation",
        scope="projects:write"),
    "PUT /api/v1/projects/<uuid:project_id>/aggregation/settings": Rule(
        MANAGERS, "organisation", body={"methods": {}}, scope="projects:write"),
    # Trainers' quality figures: managers only, never an API key.
    "GET /api/v1/projects/<uuid:project_id>/quality": Rule(MANAGERS, "organisation"),
    "GET /api/v1/projects/<uuid:project_id>/budget": Rule(MANAGERS | MONEY, "organisation",
        scope="projects:read"),
    "PUT /api/v1/projects/<uuid:project_id>/budget": Rule(MANAGERS, "organisation",
        body={"amount": 100000}, scope="projects:write"),
    # Results out: the client's data product, for managers and results:read keys.
    "GET /api/v1/projects/<uuid:project_id>/results": Rule(MANAGERS, "organisation",
        scope="results:read"),
    "GET /api/v1/projects/<uuid:project_id>/results.jsonl": Rule(MANAGERS, "organisation",
        scope="results:read"),
    "GET /api/v1/projects/<uuid:project_id>/results.csv": Rule(MANAGERS, "organisation",
        scope="results:read"),
    "GET /api/v1/projects/<uuid:project_id>/results/preferences.jsonl": Rule(
        MANAGERS, "organisation", scope="results:read"),
    "GET /api/v1/projects/<uuid:project_id>/rates": Rule(STAFF, "organisation",
        scope="projects:read"),
    "POST /api/v1/projects/<uuid:project_id>/rates": Rule(
        MANAGERS, "organisation", body={"amount": 400, "reason": "A raise."},
        scope="projects:write"),
    "PUT /api/v1/projects/<uuid:project_id>/requirements": Rule(
        MANAGERS, "organisation", body={"requirements": []}, scope="projects:write"),
    "GET /api/v1/projects/<uuid:project_id>/report": Rule(STAFF, "organisation",
        scope="projects:read"),
    "GET /api/v1/projects/<uuid:project_id>/pay-transparency": Rule(
        EVERYONE, "organisation|eligible"),
    "POST /api/v1/projects/<uuid:project_id>/pause": Rule(
        MANAGERS, "organisation", body=_text("reason", "Waiting for new clips."),
        scope="projects:state"),
    "POST /api/v1/projects/<uuid:project_id>/resume": Rule(MANAGERS, "organisation",
        scope="projects:state"),
    "POST /api/v1/projects/<uuid:project_id>/close": Rule(MANAGERS, "organisation",
        scope="projects:state"),
    "POST /api/v1/projects/<uuid:project_id>/suspension": Rule(
        MANAGERS, "organisation",
        body=lambda side: {"reason": "Client stopped.", "effective_at": _soon()},
        scope="projects:state"),
    "DELETE /api/v1/projects/<uuid:project_id>/suspension": Rule(MANAGERS, "organisation",
        scope="projects:state"),
    "GET /api/v1/projects/<uuid:project_id>/suspensions": Rule(STAFF, "organisation",
        scope="projects:read"),
    "GET /api/v1/projects/<uuid:project_id>/wellbeing": Rule(MANAGERS, "organisation"),
    "PUT /api/v1/projects/<uuid:project_id>/declared-use": Rule(
        MANAGERS, "organisation", body={
            "client_kind": "academic", "data_uses": ["evaluation"],
            "restricted_uses": {"military": False, "surveillance": False,
                                "law_enforcement": False},
            "answer_retention_days": 90}, scope="projects:write"),
    "GET /api/v1/me/work-preferences": Rule(TRAINER),
    "PUT /api/v1/me/work-preferences": Rule(TRAINER, body={"refused_uses": ["military"]}),
    # --- account actions -------------------------------------------------------------------
    "POST /api/v1/account-actions": Rule(MANAGERS, body=lambda side: {
        "trainer_id": str(side.trainer.id), "kind": "restrict", "reason": "quality",
        "explanation": "Many answers rejected."}),
    "GET /api/v1/account-actions": Rule(MANAGERS),
    "GET /api/v1/account-actions/<uuid:action_id>": Rule(MANAGERS, "organisation"),
    "POST /api/v1/account-actions/<uuid:action_id>/decision": Rule(
        MANAGERS, "organisation", body={"outcome": "uphold", "note": "Checked."}),
    "POST /api/v1/account-actions/<uuid:action_id>/appeal-decision": Rule(
        MANAGERS, "organisation", body={"outcome": "overturn", "note": "Checked again."}),
    "GET /api/v1/me/account-actions": Rule(TRAINER),
    "GET /api/v1/me/account-actions/<uuid:action_id>": Rule(TRAINER, "owner"),
    "POST /api/v1/me/account-actions/<uuid:action_id>/response": Rule(
        TRAINER, "owner", body=_text("response", "I was ill that week.")),
    "POST /api/v1/me/account-actions/<uuid:action_id>/appeal": Rule(
        TRAINER, "owner", body=_text("appeal", "Please look again.")),
    # --- quality rules and the restrictions they set -------------------------------------
    "POST /api/v1/projects/<uuid:project_id>/quality-rules": Rule(
        MANAGERS, "organisation", body={"kind": "gold_accuracy", "sample_size": 10,
                                        "min_percent": 60}),
    "GET /api/v1/projects/<uuid:project_id>/quality-rules": Rule(MANAGERS, "organisation"),
    "PATCH /api/v1/projects/<uuid:project_id>/quality-rules/<uuid:rule_id>": Rule(
        MANAGERS, "organisation", body={"enabled": False}),
    "GET /api/v1/projects/<uuid:project_id>/quality-restrictions": Rule(
        MANAGERS, "organisation"),
    "GET /api/v1/quality-restrictions/<uuid:restriction_id>": Rule(MANAGERS, "organisation"),
    "POST /api/v1/quality-restrictions/<uuid:restriction_id>/decision": Rule(
        MANAGERS, "organisation", body={"decision": "lift", "reason": "Checked by hand."}),
    "GET /api/v1/me/quality-restrictions": Rule(TRAINER),
    "GET /api/v1/me/quality-restrictions/<uuid:restriction_id>": Rule(TRAINER, "owner"),
    "POST /api/v1/me/quality-restrictions/<uuid:restriction_id>/appeal": Rule(
        TRAINER, "owner", body=_text("appeal", "Please look again.")),
    # --- staffing ------------------------------------------------------------------------
    "GET /api/v1/marketplace/projects": Rule(TRAINER),
    "GET /api/v1/marketplace/projects/<uuid:project_id>": Rule(TRAINER, "eligible"),
    "POST /api/v1/marketplace/projects/<uuid:project_id>/applications": Rule(
        TRAINER, "eligible"),
    "GET /api/v1/me/memberships": Rule(TRAINER),
    "POST /api/v1/me/memberships/<uuid:membership_id>/accept": Rule(TRAINER, "owner"),
    "POST /api/v1/me/memberships/<uuid:membership_id>/decline": Rule(TRAINER, "owner"),
    "POST /api/v1/me/memberships/<uuid:membership_id>/leave": Rule(TRAINER, "owner"),
    "POST /api/v1/me/memberships/<uuid:membership_id>/withdraw": Rule(TRAINER, "owner"),
    "GET /api/v1/projects/<uuid:project_id>/members": Rule(REVIEWERS, "organisation"),
    "POST /api/v1/projects/<uuid:project_id>/members/<uuid:membership_id>/accept": Rule(
        MANAGERS, "organisation"),
    "POST /api/v1/projects/<uuid:project_id>/members/<uuid:membership_id>/decline": Rule(
        MANAGERS, "organisation", body=_text("reason")),
    "POST /api/v1/projects/<uuid:project_id>/members/<uuid:membership_id>/remove": Rule(
        MANAGERS, "organisation", body=_text("reason")),
    "POST /api/v1/projects/<uuid:project_id>/members/<uuid:membership_id>/withdraw": Rule(
        MANAGERS, "organisation"),
    "POST /api/v1/projects/<uuid:project_id>/invitations": Rule(
        MANAGERS, "organisation", body=lambda side: {"trainer_ids": [str(side.trainer.id)]}),
    "GET /api/v1/projects/<uuid:project_id>/candidates": Rule(MANAGERS, "organisation"),
    # --- tasks, claims, review -----------------------------------------------------------
    "GET /api/v1/projects/<uuid:project_id>/tasks": Rule(REVIEWERS, "organisation",
        scope="tasks:read"),
    "POST /api/v1/projects/<uuid:project_id>/tasks/import": Rule(
        MANAGERS, "organisation", raw=("application/x-ndjson",
                                       b'{"external_id": "m-1", "payload": {"prompt": "Hi"}}\n'),
        scope="tasks:write"),
    "GET /api/v1/projects/<uuid:project_id>/imports": Rule(MANAGERS, "organisation",
        scope="tasks:read"),
    "POST /api/v1/projects/<uuid:project_id>/claims": Rule(TRAINER, "member"),
    "POST /api/v1/me/claims": Rule(TRAINER),
    "GET /api/v1/me/assignments": Rule(TRAINER),
    "GET /api/v1/me/assignments/<uuid:assignment_id>": Rule(TRAINER, "owner"),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/extend": Rule(TRAINER, "owner"),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/release": Rule(TRAINER, "owner"),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/reveal": Rule(TRAINER, "owner"),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/submit": Rule(
        TRAINER, "owner", body={"answer": {"label": "hk"}, "active_seconds": 1}),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/appeal": Rule(
        TRAINER, "owner", objects={"assignment_id": "submitted_assignment"},
        body=_text("message", "Please look again.")),
    "POST /api/v1/me/assignments/<uuid:assignment_id>/flag": Rule(
        TRAINER, "owner", body={"category": "violence", "severity": "low"}),
    "GET /api/v1/me/quality": Rule(TRAINER),
    "GET /api/v1/projects/<uuid:project_id>/reviews": Rule(REVIEWERS, "organisation",
        scope="reviews:read"),
    "POST /api/v1/assignments/<uuid:assignment_id>/review": Rule(
        REVIEWERS, "organisation", objects={"assignment_id": "submitted_assignment"},
        body={"decision": "approve"}, scope="reviews:write"),
    "POST /api/v1/projects/<uuid:project_id>/reviews/bulk": Rule(
        REVIEWERS, "organisation", body=lambda side: {
            "assignment_ids": [str(side.objects["submitted_assignment"])],
            "decision": "approve"}, scope="reviews:write"),
    "GET /api/v1/projects/<uuid:project_id>/appeals": Rule(MANAGERS, "organisation"),
    "POST /api/v1/appeals/<uuid:appeal_id>/decision": Rule(
        MANAGERS, "organisation", body={"decision": "uphold", "note": "The label stands."}),
    # --- hourly work ---------------------------------------------------------------------
    "POST /api/v1/projects/<uuid:project_id>/sessions": Rule(TRAINER, "member", HOURLY),
    "POST /api/v1/projects/<uuid:project_id>/time-entries": Rule(
        TRAINER, "member", HOURLY,
        body=lambda side: {"started_at": _ago(hours=30), "ended_at": _ago(hours=29),
                           "note": "Offline work."}),
    "POST /api/v1/me/sessions/<uuid:entry_id>/heartbeat": Rule(
        TRAINER, "owner", {"entry_id": "session"}),
    "POST /api/v1/me/sessions/<uuid:entry_id>/stop": Rule(
        TRAINER, "owner", {"entry_id": "session"}),
    "GET /api/v1/me/time-entries": Rule(TRAINER),
    "DELETE /api/v1/me/time-entries/<uuid:entry_id>": Rule(
        TRAINER, "owner", {"entry_id": "time_entry"}),
    "GET /api/v1/me/timesheets": Rule(TRAINER),
    "GET /api/v1/me/timesheets/<uuid:timesheet_id>": Rule(TRAINER, "owner"),
    "POST /api/v1/me/timesheets/<uuid:timesheet_id>/submit": Rule(TRAINER, "owner"),
    "GET /api/v1/projects/<uuid:project_id>/timesheets": Rule(REVIEWERS, "organisation", HOURLY),
    "GET /api/v1/timesheets/<uuid:timesheet_id>": Rule(REVIEWERS, "organisation"),
    "POST /api/v1/timesheets/<uuid:timesheet_id>/approve": Rule(REVIEWERS, "organisation"),
    # --- the trainer's project views ---------------------------------------------------
    "GET /api/v1/me/projects": Rule(TRAINER),
    "GET /api/v1/me/projects/<uuid:project_id>": Rule(TRAINER, "member"),
    "GET /api/v1/me/kill-fees": Rule(TRAINER),
    # --- money ---------------------------------------------------------------------------
    # --- the trainer's own data: exports and erasure (their world trainer has a ready
    # export and an erasure in its grace period) --------------------------------------
    "POST /api/v1/me/data-exports": Rule(TRAINER),
    "GET /api/v1/me/data-exports": Rule(TRAINER),
    "GET /api/v1/me/data-exports/<uuid:export_id>": Rule(TRAINER, "owner"),
    "GET /api/v1/me/data-exports/<uuid:export_id>/archive": Rule(TRAINER, "owner"),
    "POST /api/v1/me/erasure": Rule(TRAINER, body={"password": PASSWORD}),
    "GET /api/v1/me/erasure": Rule(TRAINER),
    "DELETE /api/v1/me/erasure": Rule(TRAINER),
    "GET /api/v1/me/earnings/summary": Rule(TRAINER),
    "GET /api/v1/me/earnings/items": Rule(TRAINER),
    "GET /api/v1/me/statements/monthly/<int:year>/<int:month>": Rule(TRAINER),
    "GET /api/v1/me/statements/payouts/<uuid:payout_item_id>": Rule(TRAINER, "owner"),
    "GET /api/v1/me/payout-account": Rule(TRAINER),
    "PUT /api/v1/me/payout-account/manual": Rule(TRAINER),
    "POST /api/v1/me/payout-account/stripe": Rule(TRAINER),
    "POST /api/v1/me/payout-account/refresh": Rule(TRAINER),
    "GET /api/v1/me/top-ups": Rule(TRAINER),
    "GET /api/v1/me/counselling-allowances": Rule(TRAINER),
    "POST /api/v1/bonuses": Rule(MANAGERS),
    "GET /api/v1/bonuses": Rule(frozenset({A, V, F})),
    "POST /api/v1/adjustments": Rule(MONEY),
    "GET /api/v1/adjustments": Rule(MONEY),
    "GET /api/v1/ledger/check": Rule(MONEY),
    "GET /api/v1/ledger/entries": Rule(MONEY),
    "GET /api/v1/ledger/entries.csv": Rule(MONEY),
    "POST /api/v1/ledger/entries/<uuid:entry_id>/reversal": Rule(
        MONEY, "organisation", body=_text("reason", "Posted twice.")),
    "GET /api/v1/reports/costs": Rule(MONEY),
    "GET /api/v1/payout-accounts": Rule(MONEY),
    "POST /api/v1/payout-accounts/<uuid:payout_account_id>/refresh": Rule(
        MONEY, "organisation"),
    "POST /api/v1/payout-schedules": Rule(MONEY),
    "GET /api/v1/payout-schedules": Rule(MONEY, scope="payouts:read"),
    "GET /api/v1/payout-schedules/<uuid:schedule_id>": Rule(MONEY, "organisation",
        scope="payouts:read"),
    "PATCH /api/v1/payout-schedules/<uuid:schedule_id>": Rule(
        MONEY, "organisation", body={"name": "Weekly run"}),
    "POST /api/v1/payout-schedules/<uuid:schedule_id>/runs": Rule(MONEY, "organisation"),
    "GET /api/v1/payout-runs": Rule(MONEY, scope="payouts:read"),
    "GET /api/v1/payout-runs/<uuid:run_id>": Rule(MONEY, "organisation", scope="payouts:read"),
    "POST /api/v1/payout-runs/<uuid:run_id>/approve": Rule(MONEY, "organisation"),
    "POST /api/v1/payout-runs/<uuid:run_id>/cancel": Rule(MONEY, "organisation"),
    "POST /api/v1/payout-runs/<uuid:run_id>/process": Rule(MONEY, "organisation"),
    "GET /api/v1/payout-runs/<uuid:run_id>/exclusions": Rule(MONEY, "organisation",
        scope="payouts:read"),
    "GET /api/v1/payout-runs/<uuid:run_id>/items": Rule(MONEY, "organisation",
        scope="payouts:read"),
    "GET /api/v1/payout-runs/<uuid:run_id>/items.csv": Rule(MONEY, "organisation"),
    "GET /api/v1/payout-runs/<uuid:run_id>/report": Rule(MONEY, "organisation",
        scope="payouts:read"),
    "GET /api/v1/payout-reconciliations": Rule(MONEY, scope="payouts:read"),
    "GET /api/v1/payout-items/<uuid:item_id>": Rule(MONEY, "organisation", scope="payouts:read"),
    "POST /api/v1/payout-items/<uuid:item_id>/manual-payment": Rule(
        MONEY, "organisation", body=_text("reference", "BANK-REF-1")),
    "POST /api/v1/payout-items/<uuid:item_id>/manual-failure": Rule(
        MONEY, "organisation", body=_text("reason", "Account closed.")),
    "POST /api/v1/payout-items/<uuid:item_id>/retry": Rule(MONEY, "organisation"),
    # --- wellbeing ---------------------------------------------------------------------
    "GET /api/v1/me/content-consent": Rule(TRAINER),
    "PUT /api/v1/me/content-consent": Rule(TRAINER),
    "DELETE /api/v1/me/content-consent/<string:category>": Rule(TRAINER),
    "GET /api/v1/me/exposure": Rule(TRAINER),
    "GET /api/v1/me/flags": Rule(TRAINER),
    "GET /api/v1/flags": Rule(MANAGERS),
    "GET /api/v1/flags/<uuid:flag_id>": Rule(MANAGERS, "organisation"),
    "POST /api/v1/flags/<uuid:flag_id>/confirm": Rule(MANAGERS, "organisation", body={}),
    "POST /api/v1/flags/<uuid:flag_id>/dismiss": Rule(
        MANAGERS, "organisation", body=_text("reason", "Not graphic.")),
    "POST /api/v1/flags/<uuid:flag_id>/escalate": Rule(
        MANAGERS, "organisation", body=_text("note", "Needs the contact.")),
    "GET /api/v1/me/support-cases": Rule(TRAINER),
    "GET /api/v1/me/support-cases/<uuid:case_id>": Rule(TRAINER, "owner"),
    "POST /api/v1/me/support-cases/<uuid:case_id>/notes": Rule(
        TRAINER, "owner", body=_text("body", "Thank you.")),
    "GET /api/v1/support-cases": Rule(STAFF),
    "GET /api/v1/support-cases/<uuid:case_id>": Rule(STAFF, "handler"),
    "POST /api/v1/support-cases/<uuid:case_id>/acknowledge": Rule(STAFF, "handler", body={}),
    "POST /api/v1/support-cases/<uuid:case_id>/close": Rule(STAFF, "handler", body={}),
    "POST /api/v1/support-cases/<uuid:case_id>/notes": Rule(
        STAFF, "handler", body=_text("body", "Called them.")),
    "GET /api/v1/me/check-in": Rule(TRAINER),
    "POST /api/v1/me/check-ins": Rule(TRAINER),
    "GET /api/v1/me/check-ins": Rule(TRAINER),
    # --- webhooks out (admins) -----------------------------------------------------------
    "GET /api/v1/webhook-event-types": Rule(ADMIN),
    "GET /api/v1/webhook-events": Rule(ADMIN),
    "GET /api/v1/webhook-endpoints": Rule(ADMIN),
    "POST /api/v1/webhook-endpoints": Rule(ADMIN),
    "GET /api/v1/webhook-endpoints/<uuid:endpoint_id>": Rule(ADMIN, "organisation"),
    "PATCH /api/v1/webhook-endpoints/<uuid:endpoint_id>": Rule(
        ADMIN, "organisation", body={"description": "Our pipeline"}),
    "DELETE /api/v1/webhook-endpoints/<uuid:endpoint_id>": Rule(ADMIN, "organisation"),
    "POST /api/v1/webhook-endpoints/<uuid:endpoint_id>/secret/rotate": Rule(
        ADMIN, "organisation", body={}),
    "GET /api/v1/webhook-endpoints/<uuid:endpoint_id>/attempts": Rule(ADMIN, "organisation"),
    "POST /api/v1/webhook-endpoints/<uuid:endpoint_id>/resend": Rule(
        ADMIN, "organisation", body=lambda side: {
            "event_id": str(side.objects["webhook_event"])}),
    # --- sign-in: e-mail verification, second factor, sessions ------------------------
    "POST /api/v1/auth/email-verification/confirm": Rule(PUBLIC),
    "POST /api/v1/me/email-verification": Rule(EVERYONE),
    "GET /api/v1/me/mfa": Rule(EVERYONE),
    "POST /api/v1/me/mfa/totp": Rule(EVERYONE),
    "POST /api/v1/me/mfa/totp/confirm": Rule(EVERYONE, body={"code": "000000"}),
    "POST /api/v1/me/mfa/recovery-codes": Rule(EVERYONE, body={"code": "000000"}),
    "DELETE /api/v1/users/<uuid:user_id>/mfa": Rule(ADMIN, "organisation"),
    "GET /api/v1/me/sessions": Rule(EVERYONE),
    "DELETE /api/v1/me/sessions/<uuid:token_id>": Rule(EVERYONE, "holder"),
}


def _soon() -> str:
    from datetime import timedelta

    from workforce import clock

    return (clock.now() + timedelta(days=14)).isoformat()


def _ago(**delta: float) -> str:
    from datetime import timedelta

    from workforce import clock

    return (clock.now() - timedelta(**delta)).isoformat()


def insiders(reach: str, role: Role) -> bool:
    """Whether the user of ``role`` on an object's own side is within its reach (in the
    world of ``tests/authz_world.py``, where the reviewer is the wellbeing contact and
    holds the grading)."""
    kinds = reach.split("|")
    return any((
        "organisation" in kinds and role is not T,
        role is T and bool({"owner", "member", "eligible", "published"} & set(kinds)),
        "grader" in kinds and role is R,
        "handler" in kinds and role in (A, R),
        "recipient" in kinds,
        "holder" in kinds,
    ))


def open_to_outsiders(reach: str, role: Role) -> bool:
    """Whether a user of another organisation (or another trainer) is within reach."""
    return role is T and "published" in reach.split("|")
