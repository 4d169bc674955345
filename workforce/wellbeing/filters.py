"""SQL conditions that the projects package applies on behalf of wellbeing: tasks
hidden by a high-severity flag, and flagged work kept out of a trainer's standing.

Kept here, importing only models, so that ``projects.tasks``, ``projects.reviews`` and
``projects.staffing`` can use them without importing the wellbeing services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, or_

from workforce.db import inline
from workforce.projects.models import Assignment, AssignmentState
from workforce.wellbeing.support_models import UNTRIAGED, ContentFlag, FlagSeverity


def not_hidden(task_id: Any) -> Any:
    """The task carries no untriaged high-severity flag: claims may offer it."""
    return ~exists().where(
        ContentFlag.task_id == task_id,
        ContentFlag.severity == inline(FlagSeverity.HIGH, ContentFlag.severity.type),
        ContentFlag.state.in_(inline(UNTRIAGED, ContentFlag.state.type)),
    )


def flagged(assignment_id: Any) -> Any:
    """The trainer flagged this assignment (whatever became of the flag)."""
    return exists().where(ContentFlag.assignment_id == assignment_id)


def rejection_counts() -> Any:
    """For approval rates: a rejection of flagged work does not count against the
    trainer. Flagged work that was approved still counts for them, so flagging can
    only leave a rate as it was or raise it."""
    return or_(Assignment.state != AssignmentState.REJECTED, ~flagged(Assignment.id))
