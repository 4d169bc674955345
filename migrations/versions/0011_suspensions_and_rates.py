"""A suspension's moment on its project's row, and rates at whole seconds (issue 21)

A suspension takes effect at its effective time, whatever the scheduler has done; every
rule that asks whether a project is open for work reads that time with the project's
row (``projects.suspension_effective_at``): the pending suspension's on an active or
paused project, the one in force on a suspended project or one closed after it.

Session starts and time entries are kept to whole seconds; rates kept microseconds,
so a session started in the same second as a new rate was paid at the old one, and a
project's first rate could leave a session started in its first second without a rate.
Stored rates are cut to the whole second, as new ones are. Cutting is monotone, so no
two rates change places; work already recorded keeps the rate version it names.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The pending suspension of a running project, or the latest one applied to a suspended
# or closed project (a project resumed after one has none in force).
BACKFILL = """
UPDATE projects SET suspension_effective_at = (
    SELECT s.effective_at FROM project_suspensions s
    WHERE s.project_id = projects.id AND s.cancelled_at IS NULL AND (
        (s.applied_at IS NULL AND projects.state IN ('active', 'paused'))
        OR (s.applied_at IS NOT NULL AND projects.state IN ('suspended', 'closed')))
    ORDER BY s.effective_at DESC LIMIT 1)
"""

# SQLite keeps these as text, 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format, which
# must stay whole for text comparisons to order correctly).
TRUNCATE = {
    "postgresql": "UPDATE project_rates SET effective_from = date_trunc('second', "
                  "effective_from) WHERE effective_from <> date_trunc('second', effective_from)",
    "sqlite": "UPDATE project_rates SET effective_from = substr(effective_from, 1, 19) "
              "|| '.000000' WHERE substr(effective_from, 21) <> '000000'",
}


def upgrade() -> None:
    op.add_column("projects", sa.Column("suspension_effective_at", sa.DateTime(timezone=True),
                                        nullable=True))
    op.execute(BACKFILL)
    op.execute(TRUNCATE[op.get_bind().dialect.name])


def downgrade() -> None:
    # The cut microseconds are gone, and rates at whole seconds are what 0010 expects too.
    op.drop_column("projects", "suspension_effective_at")
