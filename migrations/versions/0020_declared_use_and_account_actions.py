"""What the work is for, and account actions with due process

Projects declare their client kind, data uses, the restricted uses they allow and how
long answers are kept (``client_kind`` and the rest; null until declared, which
activation requires from now on; projects already running show none until a manager
declares it). Trainers keep the uses they will not work on in
``trainer_work_preferences``. ``account_actions`` holds each restriction or
deactivation of a trainer by an organisation with its notice, response, decision and
appeal.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _user(column: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(column, sa.Uuid(), nullable=nullable)


def _time(column: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(column, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "account_actions",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        _user("trainer_id", nullable=False),
        sa.Column("kind", _enum("actionkind", "restrict", "deactivate"), nullable=False),
        sa.Column("reason", _enum("actionreason", "quality", "policy_breach", "inactivity",
                                  "fraud", "safety", "other"), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("immediate", sa.Boolean(), nullable=False),
        sa.Column("state", _enum("actionstate", "notice", "responded", "upheld", "withdrawn",
                                 "appealed", "appeal_upheld", "overturned"), nullable=False),
        _user("created_by_id", nullable=False),
        _time("announced_at", nullable=False),
        _time("effective_at", nullable=False),
        _time("respond_by", nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        _time("responded_at"),
        sa.Column("decision_note", sa.Text(), nullable=True),
        _user("decided_by_id"),
        _time("decided_at"),
        sa.Column("appeal", sa.Text(), nullable=True),
        _time("appealed_at"),
        sa.Column("appeal_note", sa.Text(), nullable=True),
        _user("appeal_decided_by_id"),
        _time("appeal_decided_at"),
        _time("followed_up_at"),
        sa.Column("id", sa.Uuid(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.CheckConstraint("effective_at >= announced_at",
                           name=op.f("ck_account_actions_effective_after_announced")),
        *(sa.ForeignKeyConstraint([column], ["users.id"],
                                  name=op.f(f"fk_account_actions_{column}_users"))
          for column in ("appeal_decided_by_id", "created_by_id", "decided_by_id",
                         "trainer_id")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_account_actions_organisation_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_actions")),
    )
    op.create_index("ix_account_actions_organisation_id_created_at", "account_actions",
                    ["organisation_id", "created_at"])
    op.create_index("ix_account_actions_trainer_id_organisation_id", "account_actions",
                    ["trainer_id", "organisation_id"])
    op.create_table(
        "trainer_work_preferences",
        _user("trainer_id", nullable=False),
        sa.Column("refused_uses", _json(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(["trainer_id"], ["users.id"],
                                name=op.f("fk_trainer_work_preferences_trainer_id_users")),
        sa.PrimaryKeyConstraint("trainer_id", name=op.f("pk_trainer_work_preferences")),
    )
    _add_declared_use_columns()


CLIENT_KINDS = ("ai_lab", "e_commerce", "government", "academic", "non_profit", "other")
# Each new column's check, by column: on SQLite written on the column itself, in place
# (batch mode would recreate projects, which tasks and members point at, and fail once
# it has rows; a column with a table check could not be dropped in place again).
CHECKS = {
    "client_kind": ("ck_projects_clientkind",
                    "client_kind IN (" + ", ".join(f"'{k}'" for k in CLIENT_KINDS) + ")"),
    "answer_retention_days": (
        "ck_projects_answer_retention_days_range",
        "answer_retention_days IS NULL OR answer_retention_days BETWEEN 1 AND 36500"),
}
NEW_COLUMNS = (("client_kind", "VARCHAR(32)"), ("data_uses", None), ("restricted_uses", None),
               ("answer_retention_days", "INTEGER"), ("declared_use_changed_at", None))


def _add_declared_use_columns() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for column, sql_type in NEW_COLUMNS:
            sql_type = sql_type or ("DATETIME" if column.endswith("_at") else "JSON")
            check = CHECKS.get(column)
            inline = f" CONSTRAINT {check[0]} CHECK ({check[1]})" if check else ""
            op.execute(f"ALTER TABLE projects ADD COLUMN {column} {sql_type}{inline}")
        return
    op.add_column("projects", sa.Column("client_kind", sa.String(32), nullable=True))
    op.add_column("projects", sa.Column("data_uses", _json(), nullable=True))
    op.add_column("projects", sa.Column("restricted_uses", _json(), nullable=True))
    op.add_column("projects", sa.Column("answer_retention_days", sa.Integer(), nullable=True))
    op.add_column("projects", _time("declared_use_changed_at"))
    for name, condition in CHECKS.values():
        op.create_check_constraint(op.f(name), "projects", condition)


def downgrade() -> None:
    # A column's check goes with it (on SQLite it belongs to the column).
    for column, _ in reversed(NEW_COLUMNS):
        op.execute(f"ALTER TABLE projects DROP COLUMN {column}")
    op.drop_table("trainer_work_preferences")
    op.drop_index("ix_account_actions_trainer_id_organisation_id", table_name="account_actions")
    op.drop_index("ix_account_actions_organisation_id_created_at", table_name="account_actions")
    op.drop_table("account_actions")
