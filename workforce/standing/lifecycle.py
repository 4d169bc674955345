"""The account action's state machine (``workforce.lifecycle``)."""

from __future__ import annotations

from workforce.i18n import lazy_gettext
from workforce.lifecycle import Lifecycle
from workforce.standing.models import ActionState as S

ACTIONS = Lifecycle(lazy_gettext("An account action"), {
    S.NOTICE: frozenset({S.RESPONDED}),
    S.RESPONDED: frozenset({S.UPHELD, S.WITHDRAWN}),
    S.UPHELD: frozenset({S.APPEALED}),
    S.APPEALED: frozenset({S.APPEAL_UPHELD, S.OVERTURNED}),
    S.WITHDRAWN: frozenset(),
    S.APPEAL_UPHELD: frozenset(),
    S.OVERTURNED: frozenset(),
})
