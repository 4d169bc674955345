"""Lifecycles as data: for each state, the states it may move to; any other move is one
named error, ``IllegalTransition`` (409 ``illegal-transition``, naming the current state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from workforce.errors import IllegalTransition
from workforce.i18n import _

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    # With its article, as the error's sentence begins ("A project"), a lazy_gettext.
    noun: Any
    moves: Mapping[S, frozenset[S]]
    code: str | None = None  # a more precise problem type, where clients rely on one

    def allows(self, current: S, target: S) -> bool:
        return target in self.moves[current]

    def check(self, current: S, target: S) -> None:
        if not self.allows(current, target):
            raise IllegalTransition(
                _("%(noun)s cannot go from %(current)s to %(target)s.",
                  noun=str(self.noun), current=current.value, target=target.value),
                code=self.code, current_state=current.value,
            )

    def move(self, thing: Any, target: S) -> None:
        """Set ``thing.state`` to ``target``, or raise ``IllegalTransition``."""
        self.check(thing.state, target)
        thing.state = target
