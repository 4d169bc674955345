"""The scheduler's aggregation: every project with new final answers, or a manager's
request, recomputed in its own unit of work. A project another process is on is
skipped (it holds the project's advisory lock) and found again on the next run. A
project whose run fails is logged and left as it was (its watermark too, so the next
run tries it again), and the projects after it are still computed."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session

from workforce import clock
from workforce.db import Database
from workforce.errors import JobFailed
from workforce.results import aggregation, quality_rules

log = logging.getLogger(__name__)


def aggregate_changed(database: Database) -> int:
    """How many projects were recomputed. Raises ``JobFailed`` naming the projects
    whose run failed, once every other project has been computed."""
    done, failed = 0, []
    for project_id in database.run(aggregation.changed_projects):
        try:
            done += database.run(_one, project_id)
        except Exception:
            log.exception("project %s: aggregation failed; it is tried again on the next "
                          "run", project_id, extra={"project_id": str(project_id)})
            failed.append(str(project_id))
            _record_failure(database, project_id)
    if failed:
        raise JobFailed(f"projects aggregated: {done}; failed (logged): {len(failed)}, "
                        f"{', '.join(failed)}")
    return done


def _record_failure(database: Database, project_id: uuid.UUID) -> None:
    try:
        database.run(aggregation.run_failed, project_id, clock.now())
    except Exception:  # the database itself failing: the log has the run's error
        log.exception("project %s: the aggregation's failure could not be recorded",
                      project_id, extra={"project_id": str(project_id)})


def _one(session: Session, project_id: uuid.UUID) -> int:
    row = aggregation.lock_for_run(session, project_id)
    if row is None:
        return 0
    now = clock.now()
    result = aggregation.aggregate_project(session, row, now)
    # The agreement rules' figures changed with the aggregates: in the same transaction.
    restricted = quality_rules.after_aggregation(session, project_id, now)
    log.info("project %s aggregated: %d tasks, %d aggregates written, %d removed, "
             "%d slots added, %d trainers restricted by agreement rules", project_id,
             result.tasks, result.written, result.removed, result.slots_added,
             len(restricted),
             extra={"project_id": str(project_id), "tasks": result.tasks,
                    "written": result.written, "removed": result.removed,
                    "slots_added": result.slots_added,
                    "restricted": len(restricted)})
    return 1
