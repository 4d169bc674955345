"""The scopes an API key may hold: each opens a fixed set of routes (declared on the
routes themselves, ``requires(..., scope=...)``) and nothing else.

Least privilege: each scope is one job of a machine (push tasks, follow payouts...).
None reaches trainers' private wellbeing data (check-ins, flags and their words,
support cases, exposure, consent), the audit log (which records wellbeing actions),
or an action that stays a person's: managing keys, webhooks or staff, approving,
processing or cancelling payouts, deciding appeals, grading."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    PROJECTS_READ = "projects:read"
    PROJECTS_WRITE = "projects:write"
    PROJECTS_STATE = "projects:state"
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    REVIEWS_READ = "reviews:read"
    REVIEWS_WRITE = "reviews:write"
    PAYOUTS_READ = "payouts:read"
    RESULTS_READ = "results:read"


DESCRIPTIONS = {
    Scope.PROJECTS_READ: "Read the organisation's projects, their guidelines, rates, "
    "suspensions and report.",
    Scope.PROJECTS_WRITE: "Create and edit projects: details, requirements, guidelines, "
    "rates, activation.",
    Scope.PROJECTS_STATE: "Pause, resume, close a project; announce or cancel a suspension.",
    Scope.TASKS_READ: "Read a project's tasks (with assignments by state) and its imports.",
    Scope.TASKS_WRITE: "Import tasks into a project.",
    Scope.REVIEWS_READ: "Read the review queue: submitted answers, without who gave them.",
    Scope.REVIEWS_WRITE: "Approve, reject or send back submitted work.",
    Scope.RESULTS_READ: "Read and download a project's results: approved answers (trainers "
    "as per-project pseudonyms), aggregates, preference pairs.",
    Scope.PAYOUTS_READ: "Read payout schedules, runs, items, exclusions, reports and "
    "reconciliations.",
}
