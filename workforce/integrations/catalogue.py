"""The events an endpoint can ask for. Each one's ``data`` is documented in the OpenAPI
document (``components/schemas/<Type>EventData`` and ``x-webhooks``)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    TASK_COMPLETED = "task.completed"
    PROJECT_STATE_CHANGED = "project.state_changed"
    IMPORT_FINISHED = "import.finished"
    ASSIGNMENT_APPROVED = "assignment.approved"
    ASSIGNMENT_REJECTED = "assignment.rejected"
    PAYOUT_RUN_APPROVED = "payout_run.approved"
    PAYOUT_ITEM_PAID = "payout_item.paid"
    PAYOUT_ITEM_FAILED = "payout_item.failed"
    FLAG_CONFIRMED = "flag.confirmed"


DESCRIPTIONS: dict[EventType, str] = {
    EventType.TASK_COMPLETED:
        "A task has all its answers in: as many approved answers as its redundancy. "
        "Carries the answers (without who gave them); `aggregate` is null, as there is "
        "no aggregation of answers yet.",
    EventType.PROJECT_STATE_CHANGED:
        "A project was activated, paused, resumed or closed, or a suspension was "
        "announced, cancelled or applied (`change` says which).",
    EventType.IMPORT_FINISHED: "A task import finished: its counts of rows, tasks created, "
        "duplicates and rows skipped as invalid.",
    EventType.ASSIGNMENT_APPROVED: "An answer was approved (by a reviewer, automatically, "
        "unsampled, or on appeal) and paid at the rate in force.",
    EventType.ASSIGNMENT_REJECTED: "A reviewer rejected an answer, with a category.",
    EventType.PAYOUT_RUN_APPROVED: "A payout run was approved: its items are on their way.",
    EventType.PAYOUT_ITEM_PAID: "A payout reached a trainer (a transfer, or a bank payment "
        "finance recorded).",
    EventType.PAYOUT_ITEM_FAILED: "A payout failed; its money is payable again.",
    EventType.FLAG_CONFIRMED: "A content flag was confirmed by a manager. Never says who "
        "flagged the task, nor their words.",
}
