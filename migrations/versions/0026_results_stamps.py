"""Results stamps: each task's results_updated_at (indexed for the results' pages), each
project's last stamp and last approval's stamp (the aggregation job's watermark), and
task_aggregates keyed by (task_id, field) alone, without its copy of the project (issue 16)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMPS = ("changed_at", "answers_changed_at")


def upgrade() -> None:
    op.add_column("tasks", sa.Column("results_updated_at", sa.DateTime(timezone=True),
                                     nullable=True))
    # What the results' pages computed on every request: the latest approval or
    # aggregate of the task.
    op.execute("""
        UPDATE tasks SET results_updated_at = (
            SELECT max(at) FROM (
                SELECT reviewed_at AS at FROM task_assignments
                WHERE task_assignments.task_id = tasks.id AND state = 'approved'
                UNION ALL
                SELECT computed_at FROM task_aggregates
                WHERE task_aggregates.task_id = tasks.id) AS changes)
        WHERE EXISTS (SELECT 1 FROM task_assignments WHERE task_assignments.task_id = tasks.id
                      AND state = 'approved')
           OR EXISTS (SELECT 1 FROM task_aggregates WHERE task_aggregates.task_id = tasks.id)
    """)
    op.create_index("ix_tasks_project_results", "tasks",
                    ["project_id", "results_updated_at", "id"])

    for column in STAMPS:
        op.add_column("project_aggregations",
                      sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    # Every project with approved answers gets its row; the last approval's stamp is
    # its latest approval, so a project the job had seen whole stays seen.
    empty = "CAST('{}' AS jsonb)" if op.get_bind().dialect.name == "postgresql" else "'{}'"
    op.execute(f"""
        INSERT INTO project_aggregations (project_id, methods, extra_slots)
        SELECT id, {empty}, 0 FROM projects
        WHERE id IN (SELECT project_id FROM task_assignments WHERE state = 'approved')
          AND id NOT IN (SELECT project_id FROM project_aggregations)
    """)  # noqa: S608 - no input, a literal per dialect
    op.execute("""
        UPDATE project_aggregations SET
            answers_changed_at = (
                SELECT max(reviewed_at) FROM task_assignments
                WHERE task_assignments.project_id = project_aggregations.project_id
                  AND state = 'approved'),
            changed_at = (
                SELECT max(results_updated_at) FROM tasks
                WHERE tasks.project_id = project_aggregations.project_id)
    """)

    # One index on the aggregates, not three, and one foreign key: rows are found by
    # task (the primary key), a project's through its tasks.
    op.drop_index("ix_task_aggregates_project_id", table_name="task_aggregates")
    with op.batch_alter_table("task_aggregates", recreate="auto") as batch:
        batch.drop_constraint("uq_task_aggregates_task_id_field", type_="unique")
        batch.drop_constraint("pk_task_aggregates", type_="primary")
        batch.drop_constraint("fk_task_aggregates_project_id_projects", type_="foreignkey")
        batch.drop_column("id")
        batch.drop_column("project_id")
        batch.create_primary_key("pk_task_aggregates", ["task_id", "field"])


def downgrade() -> None:
    with op.batch_alter_table("task_aggregates", recreate="auto") as batch:
        batch.drop_constraint("pk_task_aggregates", type_="primary")
        batch.add_column(sa.Column("id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE task_aggregates SET id = gen_random_uuid()"
               if op.get_bind().dialect.name == "postgresql"
               else "UPDATE task_aggregates SET id = lower(hex(randomblob(16)))")
    op.execute("UPDATE task_aggregates SET project_id = (SELECT project_id FROM tasks "
               "WHERE tasks.id = task_aggregates.task_id)")
    with op.batch_alter_table("task_aggregates", recreate="auto") as batch:
        batch.alter_column("id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("project_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key("fk_task_aggregates_project_id_projects", "projects",
                                 ["project_id"], ["id"])
        batch.create_primary_key("pk_task_aggregates", ["id"])
        batch.create_unique_constraint("uq_task_aggregates_task_id_field",
                                       ["task_id", "field"])
    op.create_index("ix_task_aggregates_project_id", "task_aggregates", ["project_id"])
    for column in reversed(STAMPS):
        op.drop_column("project_aggregations", column)
    op.drop_index("ix_tasks_project_results", table_name="tasks")
    op.drop_column("tasks", "results_updated_at")
