"""Results stamps in a narrow table of their own: ``task_results`` (task, project, stamp),
indexed in the results' order, replaces ``tasks.results_updated_at`` and its index, so
that an aggregation run stamping every task of a project rewrites a narrow row per task,
not the task's wide one (issue 16, bench/RESULTS.md item 28)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_results",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("stamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_task_results_project_id_projects")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_task_results_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_results")),
    )
    op.execute("INSERT INTO task_results (task_id, project_id, stamp) "
               "SELECT id, project_id, results_updated_at FROM tasks "
               "WHERE results_updated_at IS NOT NULL")
    op.create_index("ix_task_results_project_stamp", "task_results",
                    ["project_id", "stamp", "task_id"])
    op.drop_index("ix_tasks_project_results", table_name="tasks")
    op.drop_column("tasks", "results_updated_at")


def downgrade() -> None:
    op.add_column("tasks", sa.Column("results_updated_at", sa.DateTime(timezone=True),
                                     nullable=True))
    op.execute("UPDATE tasks SET results_updated_at = (SELECT stamp FROM task_results "
               "WHERE task_results.task_id = tasks.id) "
               "WHERE id IN (SELECT task_id FROM task_results)")
    op.create_index("ix_tasks_project_results", "tasks",
                    ["project_id", "results_updated_at", "id"])
    op.drop_index("ix_task_results_project_stamp", table_name="task_results")
    op.drop_table("task_results")
