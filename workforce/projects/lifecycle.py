"""The lifecycles of projects, memberships, assignments and timesheets: a table of
allowed transitions each (``workforce.lifecycle``)."""

from __future__ import annotations

from workforce.i18n import lazy_gettext
from workforce.lifecycle import Lifecycle
from workforce.projects.models import (
    AssignmentState,
    MembershipState,
    ProjectState,
    TimesheetState,
)

P, M, A, T = ProjectState, MembershipState, AssignmentState, TimesheetState

PROJECTS = Lifecycle(lazy_gettext("A project"), {
    P.DRAFT: frozenset({P.ACTIVE, P.CLOSED}),
    P.ACTIVE: frozenset({P.PAUSED, P.SUSPENDED}),
    P.PAUSED: frozenset({P.ACTIVE, P.SUSPENDED}),
    # Closing a running project goes through a suspension, with its notice.
    P.SUSPENDED: frozenset({P.ACTIVE, P.CLOSED}),
    P.CLOSED: frozenset(),
})

MEMBERSHIPS = Lifecycle(lazy_gettext("A membership"), {
    M.APPLIED: frozenset({M.ACTIVE, M.DECLINED, M.WITHDRAWN}),
    M.INVITED: frozenset({M.ACTIVE, M.DECLINED, M.WITHDRAWN}),
    M.ACTIVE: frozenset({M.REMOVED, M.LEFT}),
    M.DECLINED: frozenset(),
    M.WITHDRAWN: frozenset(),
    M.REMOVED: frozenset(),
    M.LEFT: frozenset(),
})

ASSIGNMENTS = Lifecycle(lazy_gettext("An assignment"), {
    A.LEASED: frozenset({A.SUBMITTED, A.RELEASED, A.EXPIRED}),
    A.SUBMITTED: frozenset({A.APPROVED, A.REJECTED, A.REVISION_REQUESTED}),
    # A revision the trainer never sends back expires and frees the slot.
    A.REVISION_REQUESTED: frozenset({A.SUBMITTED, A.EXPIRED}),
    # An appeal overturned pays as an approval.
    A.REJECTED: frozenset({A.APPROVED}),
    A.APPROVED: frozenset(),
    A.RELEASED: frozenset(),
    A.EXPIRED: frozenset(),
})

TIMESHEETS = Lifecycle(lazy_gettext("A timesheet"), {
    T.OPEN: frozenset({T.SUBMITTED}),
    T.SUBMITTED: frozenset({T.APPROVED}),
    T.APPROVED: frozenset(),
})
