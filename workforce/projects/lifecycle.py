"""The lifecycles of projects, memberships, assignments and timesheets: a table of
allowed transitions each, and one named error (409) for an illegal move."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from workforce.errors import IllegalTransition
from workforce.projects.models import (
    AssignmentState,
    MembershipState,
    ProjectState,
    TimesheetState,
)

P, M, A, T = ProjectState, MembershipState, AssignmentState, TimesheetState

PROJECT_TRANSITIONS: dict[ProjectState, frozenset[ProjectState]] = {
    P.DRAFT: frozenset({P.ACTIVE, P.CLOSED}),
    P.ACTIVE: frozenset({P.PAUSED, P.SUSPENDED}),
    P.PAUSED: frozenset({P.ACTIVE, P.SUSPENDED}),
    # Closing a running project goes through a suspension, with its notice.
    P.SUSPENDED: frozenset({P.ACTIVE, P.CLOSED}),
    P.CLOSED: frozenset(),
}

MEMBERSHIP_TRANSITIONS: dict[MembershipState, frozenset[MembershipState]] = {
    M.APPLIED: frozenset({M.ACTIVE, M.DECLINED, M.WITHDRAWN}),
    M.INVITED: frozenset({M.ACTIVE, M.DECLINED, M.WITHDRAWN}),
    M.ACTIVE: frozenset({M.REMOVED, M.LEFT}),
    M.DECLINED: frozenset(),
    M.WITHDRAWN: frozenset(),
    M.REMOVED: frozenset(),
    M.LEFT: frozenset(),
}

ASSIGNMENT_TRANSITIONS: dict[AssignmentState, frozenset[AssignmentState]] = {
    A.LEASED: frozenset({A.SUBMITTED, A.RELEASED, A.EXPIRED}),
    A.SUBMITTED: frozenset({A.APPROVED, A.REJECTED, A.REVISION_REQUESTED}),
    # A revision the trainer never sends back expires and frees the slot.
    A.REVISION_REQUESTED: frozenset({A.SUBMITTED, A.EXPIRED}),
    # An appeal overturned pays as an approval.
    A.REJECTED: frozenset({A.APPROVED}),
    A.APPROVED: frozenset(),
    A.RELEASED: frozenset(),
    A.EXPIRED: frozenset(),
}

TIMESHEET_TRANSITIONS: dict[TimesheetState, frozenset[TimesheetState]] = {
    T.OPEN: frozenset({T.SUBMITTED}),
    T.SUBMITTED: frozenset({T.APPROVED}),
    T.APPROVED: frozenset(),
}

_TABLES: dict[type[StrEnum], tuple[str, dict[Any, frozenset[Any]]]] = {
    ProjectState: ("project", PROJECT_TRANSITIONS),
    MembershipState: ("membership", MEMBERSHIP_TRANSITIONS),
    AssignmentState: ("assignment", ASSIGNMENT_TRANSITIONS),
    TimesheetState: ("timesheet", TIMESHEET_TRANSITIONS),
}


def can_move(current: StrEnum, target: StrEnum) -> bool:
    return target in _TABLES[type(current)][1][current]


def move(thing: Any, target: StrEnum) -> None:
    """Set ``thing.state`` to ``target``, or raise ``IllegalTransition`` (409) naming
    the current state."""
    current = thing.state
    noun, _ = _TABLES[type(current)]
    if not can_move(current, target):
        raise IllegalTransition(
            f"A {noun} cannot go from {current.value} to {target.value}.",
            current_state=current.value,
        )
    thing.state = target
