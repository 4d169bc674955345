"""Aggregated answers per task and field, and each project's aggregation settings and
watermark (issue 16)

Revision ID: 0016_a1
Revises: 0021
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_a1"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "task_aggregates",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("value", _json(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("answers_count", sa.Integer(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("answers_count >= 0",
                           name=op.f("ck_task_aggregates_answers_count_not_negative")),
        sa.CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
                           name=op.f("ck_task_aggregates_confidence_probability")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_task_aggregates_project_id_projects")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_task_aggregates_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_aggregates")),
        sa.UniqueConstraint("task_id", "field", name=op.f("uq_task_aggregates_task_id_field")),
    )
    op.create_index(op.f("ix_task_aggregates_project_id"), "task_aggregates", ["project_id"])
    op.create_table(
        "project_aggregations",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("methods", _json(), nullable=False),
        sa.Column("confidence_target", sa.Float(), nullable=True),
        sa.Column("max_redundancy", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", _json(), nullable=True),
        sa.CheckConstraint("confidence_target IS NULL OR "
                           "(confidence_target > 0 AND confidence_target <= 1)",
                           name=op.f("ck_project_aggregations_confidence_target_probability")),
        sa.CheckConstraint("max_redundancy IS NULL OR max_redundancy >= 1",
                           name=op.f("ck_project_aggregations_max_redundancy_positive")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_project_aggregations_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_aggregations")),
    )


def downgrade() -> None:
    op.drop_table("project_aggregations")
    op.drop_index(op.f("ix_task_aggregates_project_id"), table_name="task_aggregates")
    op.drop_table("task_aggregates")
