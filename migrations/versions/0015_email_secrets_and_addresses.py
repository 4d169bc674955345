"""One-time secrets out of stored e-mail, and e-mail addresses in one normal form

Invitation and password-reset tokens were written into ``outbound_emails.body`` and
stayed there after sending. The body now holds a placeholder and the token waits in
``secret`` only until the message is sent (or fails, or the token expires). Bodies
already stored are scrubbed: a message already sent (or failed) loses its token; one
still waiting keeps it in ``secret`` until the expiry of the invitation or reset it
belongs to (found by the token's hash), or is given up when that is unknown or past.

Addresses are compared and stored in one form: NFKC (fullwidth letters and ligatures
become plain letters), lower case, the domain in one IDNA spelling. Stored addresses of
users and invitations are rewritten so; an address that would then equal another
account's is left as it is and reported (a warning naming the user ids): accounts are
never merged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00
"""

import hashlib
import logging
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

PLACEHOLDER = "{secret}"
TOKEN = re.compile(r"wf[ir]_[A-Za-z0-9_-]{43}")

emails = sa.table(
    "outbound_emails", sa.column("id"), sa.column("body"), sa.column("status"),
    sa.column("last_error"), sa.column("secret"),
    sa.column("secret_expires_at", sa.DateTime(timezone=True)),
)
users = sa.table("users", sa.column("id"), sa.column("email"))
invitations = sa.table(
    "invitations", sa.column("id"), sa.column("email"), sa.column("token_hash"),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
resets = sa.table(
    "password_resets", sa.column("token_hash"),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("outbound_emails") as batch:
        batch.add_column(sa.Column("secret", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("secret_expires_at", sa.DateTime(timezone=True),
                                   nullable=True))
    _scrub_stored_secrets(op.get_bind())
    _normalise_addresses(op.get_bind())


def downgrade() -> None:
    # A waiting message gets its token back in its body, as the old outbox sends it.
    bind = op.get_bind()
    waiting = bind.execute(sa.select(emails.c.id, emails.c.body, emails.c.secret)
                           .where(emails.c.secret.is_not(None))).all()
    for row in waiting:
        bind.execute(emails.update().where(emails.c.id == row.id)
                     .values(body=row.body.replace(PLACEHOLDER, row.secret)))
    with op.batch_alter_table("outbound_emails") as batch:
        batch.drop_column("secret_expires_at")
        batch.drop_column("secret")


def _scrub_stored_secrets(bind: sa.Connection) -> None:
    now = datetime.now(UTC)
    expiries = {
        row.token_hash: row.expires_at
        for table in (invitations, resets)
        for row in bind.execute(sa.select(table.c.token_hash, table.c.expires_at))
    }
    stored = bind.execute(
        sa.select(emails.c.id, emails.c.body, emails.c.status)
        .where(sa.or_(emails.c.body.like("%wfi\\_%", escape="\\"),
                      emails.c.body.like("%wfr\\_%", escape="\\")))
    ).all()
    for row in stored:
        tokens = TOKEN.findall(row.body)
        if not tokens:
            continue
        values: dict[str, object] = {"body": TOKEN.sub(PLACEHOLDER, row.body)}
        expires_at = _aware(expiries.get(hashlib.sha256(tokens[0].encode()).hexdigest()))
        if row.status == "pending" and len(set(tokens)) == 1:
            if expires_at is not None and expires_at > now:
                values |= {"secret": tokens[0], "secret_expires_at": expires_at}
            else:
                values |= {"status": "failed",
                           "last_error": "Its one-time link expired before it could be sent; "
                           "the secret was erased."}
        bind.execute(emails.update().where(emails.c.id == row.id).values(**values))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they are stored in UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _normalise(email: str) -> str:
    """``workforce.accounts.validation.normalise_email`` as of this revision."""
    address = unicodedata.normalize("NFKC", email).strip().lower()
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return address


def _normalise_addresses(bind: sa.Connection) -> None:
    for row in bind.execute(sa.select(invitations.c.id, invitations.c.email)).all():
        if (normal := _normalise(row.email)) != row.email:
            bind.execute(invitations.update().where(invitations.c.id == row.id)
                         .values(email=normal))
    accounts = bind.execute(sa.select(users.c.id, users.c.email)).all()
    taken = {row.email for row in accounts}
    changes: dict[str, list[tuple[object, str]]] = defaultdict(list)
    for row in accounts:
        if (normal := _normalise(row.email)) != row.email:
            changes[normal].append((row.id, row.email))
    for normal, movers in changes.items():
        if normal in taken or len(movers) > 1:
            holders = [str(uuid.UUID(str(user_id))) for user_id, _email in movers]
            log.warning(
                "e-mail address %r is shared after normalisation by users %s%s; left "
                "unchanged, not merged: decide which account keeps it", normal,
                ", ".join(holders), " and the account that has it already" if normal in taken
                else "")
            continue
        (user_id, _old), = movers
        bind.execute(users.update().where(users.c.id == user_id).values(email=normal))
