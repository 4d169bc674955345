"""Quality-control rules and the restrictions they set (issue 16)

``quality_rules`` holds a project's rules (gold accuracy, fast submissions, agreement with
the aggregate) and ``quality_restrictions`` each trainer a rule caught, with the figures,
the end, the appeal and the decision. At most one open restriction per rule and trainer
(a partial unique index).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "closed_at IS NULL"


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _time(column: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(column, sa.DateTime(timezone=True), nullable=nullable)


def _check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "quality_rules",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum("rulekind", "gold_accuracy", "fast_submissions", "agreement"),
                  nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("min_percent", sa.Integer(), nullable=True),
        sa.Column("max_fast", sa.Integer(), nullable=True),
        sa.Column("min_seconds", sa.Integer(), nullable=True),
        sa.Column("duration_hours", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check("quality_rules", "sample_size_range", "sample_size BETWEEN 1 AND 1000"),
        _check("quality_rules", "min_percent_range",
               "min_percent IS NULL OR min_percent BETWEEN 1 AND 100"),
        _check("quality_rules", "max_fast_range",
               "max_fast IS NULL OR (max_fast >= 0 AND max_fast < sample_size)"),
        _check("quality_rules", "min_seconds_range",
               "min_seconds IS NULL OR min_seconds BETWEEN 1 AND 86400"),
        _check("quality_rules", "duration_hours_range",
               "duration_hours IS NULL OR duration_hours BETWEEN 1 AND 8760"),
        _check("quality_rules", "figures_of_kind",
               "(kind = 'fast_submissions' AND max_fast IS NOT NULL AND min_seconds IS NOT "
               "NULL AND min_percent IS NULL) OR (kind <> 'fast_submissions' AND min_percent "
               "IS NOT NULL AND max_fast IS NULL AND min_seconds IS NULL)"),
        _fk("quality_rules", "project_id", "projects"),
        _fk("quality_rules", "created_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_rules")),
    )
    op.create_index("ix_quality_rules_project_id", "quality_rules", ["project_id"])
    op.create_table(
        "quality_restrictions",
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("trainer_id", sa.Uuid(), nullable=False),
        sa.Column("state", _enum("restrictionstate", "restricted", "appealed", "confirmed",
                                 "shortened", "lifted"), nullable=False),
        sa.Column("figures", _json(), nullable=False),
        _time("starts_at", nullable=False),
        _time("ends_at"),
        _time("closed_at"),
        sa.Column("appeal", sa.Text(), nullable=True),
        _time("appealed_at"),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        _time("decided_at"),
        sa.Column("id", sa.Uuid(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check("quality_restrictions", "ends_after_start",
               "ends_at IS NULL OR ends_at > starts_at"),
        _fk("quality_restrictions", "rule_id", "quality_rules"),
        _fk("quality_restrictions", "project_id", "projects"),
        _fk("quality_restrictions", "trainer_id", "users"),
        _fk("quality_restrictions", "decided_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_restrictions")),
    )
    op.create_index("uq_quality_restrictions_one_open", "quality_restrictions",
                    ["rule_id", "trainer_id"], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_index("ix_quality_restrictions_trainer_id_project_id", "quality_restrictions",
                    ["trainer_id", "project_id"])
    op.create_index("ix_quality_restrictions_project_id_created_at", "quality_restrictions",
                    ["project_id", "created_at"])


def downgrade() -> None:
    op.drop_table("quality_restrictions")
    op.drop_table("quality_rules")
