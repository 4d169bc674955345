"""No foreign key from ``task_aggregates`` to ``tasks``: PostgreSQL checked it once per
row (a lookup and a lock of the task's row), 1.5 to 3 s of a project's first run at
333,333 aggregates against 1.0 s for the rows themselves. The aggregation job is the
table's only writer and writes only tasks it has just read from ``tasks`` in the same
transaction, and tasks are never deleted (issue 16, bench/RESULTS.md, "Aggregation, round 6")

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_aggregates", recreate="auto") as batch:
        batch.drop_constraint("fk_task_aggregates_task_id_tasks", type_="foreignkey")


def downgrade() -> None:
    # Whatever lost its task meanwhile (nothing should) would stop the key's return.
    op.execute("DELETE FROM task_aggregates WHERE task_id NOT IN (SELECT id FROM tasks)")
    with op.batch_alter_table("task_aggregates", recreate="auto") as batch:
        batch.create_foreign_key("fk_task_aggregates_task_id_tasks", "tasks",
                                 ["task_id"], ["id"])
