"""The account actions' scheduled follow-up (``workforce jobs run
standing.follow_up_account_actions`` runs it by hand)."""

from __future__ import annotations

from workforce.db import Database
from workforce.projects.jobs import drain
from workforce.standing import services


def follow_up_account_actions(database: Database) -> int:
    return drain(database, services.follow_up_due)
