"""Support cases: a trainer's call for support, handled by the organisation's
wellbeing contact (its admins when there is none).

Who sees what:
- the trainer sees their own cases, their own words, and the handlers' notes that were
  shared with them;
- the handlers (the wellbeing contact and the admins of the case's organisation) see
  the organisation's cases and who opened them; the trainer's own words only when the
  trainer asked for support or chose to share them (a case opened by a low check-in
  score alone shows the score, not the note);
- anyone else, of this organisation or another, gets 404 for a case.

A case goes ``open -> acknowledged -> closed`` (or straight to closed); the trainer is
told at each step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import Role, User
from workforce.errors import Conflict, NotFound
from workforce.i18n import _, lazy_gettext
from workforce.lifecycle import Lifecycle
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.wellbeing.models import WellbeingPolicy
from workforce.wellbeing.policies import policy_for
from workforce.wellbeing.support_models import (
    CaseOrigin,
    CaseState,
    SupportCase,
    SupportCaseNote,
)

NOTE_MAX = 5000

CASES = Lifecycle(lazy_gettext("A support case"), {
    CaseState.OPEN: frozenset({CaseState.ACKNOWLEDGED, CaseState.CLOSED}),
    CaseState.ACKNOWLEDGED: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
})


def support_resources(policy: WellbeingPolicy) -> dict[str, Any]:
    """The organisation's support text, links and 24/7 line, as shown to trainers."""
    return {"text": policy.support_text, "links": list(policy.support_links or []),
            "line": policy.support_line}


# --- who handles cases ---------------------------------------------------------------


def _contact(session: Session, policy: WellbeingPolicy) -> User | None:
    if policy.wellbeing_contact_id is None:
        return None
    contact = session.get(User, policy.wellbeing_contact_id)
    if (contact is None or not contact.is_active
            or contact.organisation_id != policy.organisation_id):
        return None
    return contact


def handlers(session: Session, organisation_id: uuid.UUID) -> list[User]:
    """Who is told about the organisation's cases: its wellbeing contact, else (none
    set, or no longer active) its active admins."""
    contact = _contact(session, policy_for(session, organisation_id))
    if contact is not None:
        return [contact]
    return list(session.scalars(
        select(User)
        .where(User.organisation_id == organisation_id, User.role == Role.ADMIN,
               User.is_active.is_(True))
        .order_by(User.created_at, User.id)
    ))


def is_handler(session: Session, staff: User) -> bool:
    """Admins handle their organisation's cases, and so does its wellbeing contact."""
    if staff.organisation_id is None:
        return False
    if staff.role is Role.ADMIN:
        return True
    return policy_for(session, staff.organisation_id).wellbeing_contact_id == staff.id


def tell_handlers(
    session: Session, organisation_id: uuid.UUID, kind: str, params: dict[str, Any],
    data: dict[str, Any],
) -> int:
    """In the app and by e-mail; the words never carry a trainer's private ones."""
    found = handlers(session, organisation_id)
    for handler in found:
        tell(session, handler.id, kind, params, data=data)
    return len(found)


# --- opening -------------------------------------------------------------------------


def open_case(
    session: Session,
    trainer: User,
    organisation_id: uuid.UUID,
    *,
    origin: CaseOrigin,
    requested: bool,
    reason: str,
    message: str = "",
    flag_id: uuid.UUID | None = None,
    check_in_id: uuid.UUID | None = None,
) -> SupportCase:
    """Open a case and tell the handlers at once (in the app and by e-mail) and the
    trainer. ``message`` is kept only when the trainer asked or chose to share it."""
    policy = policy_for(session, organisation_id)
    contact = _contact(session, policy)
    case = SupportCase(
        organisation_id=organisation_id, trainer_id=trainer.id, origin=origin,
        requested=requested, reason=reason, message=message, flag_id=flag_id,
        check_in_id=check_in_id, state=CaseState.OPEN,
        contact_id=contact.id if contact else None,
    )
    session.add(case)
    session.flush()  # the id goes into the notifications
    audit.record(
        session, trainer, "support_case.opened", object_type="support_case",
        object_id=case.id, organisation_id=organisation_id,
        after={"origin": origin.value, "requested": requested,
               "flag_id": str(flag_id) if flag_id else None,
               "check_in_id": str(check_in_id) if check_in_id else None},
    )
    tell_handlers(session, organisation_id, "support_case.opened",
                  {"requested": requested, "reason": reason, "case": str(case.id)},
                  data={"support_case_id": str(case.id)})
    tell(session, trainer.id, "support_case.passed_on",
         {"requested": requested, "support_line": policy.support_line},
         data={"support_case_id": str(case.id)})
    return case


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseView:
    """A case as one reader may see it: ``message`` is None when it is not theirs to
    read, and ``notes`` holds only the notes they may read."""

    case: SupportCase
    trainer: User | None
    message: str | None
    notes: list[SupportCaseNote]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.case, name)


def _trainer_view(case: SupportCase) -> CaseView:
    return CaseView(case, None, case.message,
                    [n for n in case.notes if n.by_trainer or n.shared_with_trainer])


def _handler_view(session: Session, case: SupportCase) -> CaseView:
    shared = case.requested or bool(case.message)
    return CaseView(case, session.get(User, case.trainer_id),
                    case.message if shared else None, list(case.notes))


def list_my_cases(session: Session, trainer: User, page: PageRequest) -> Page[CaseView]:
    stmt = select(SupportCase).where(SupportCase.trainer_id == trainer.id)
    found = paginate(session, stmt, page, created_at=SupportCase.created_at,
                     row_id=SupportCase.id)
    return Page([_trainer_view(c) for c in found.items], found.next_cursor)


def _my_case(session: Session, trainer: User, case_id: uuid.UUID, *, lock: bool = False
             ) -> SupportCase:
    case = _load(session, case_id, lock=lock)
    if case is None or case.trainer_id != trainer.id:
        raise NotFound(_("No such support case."))
    return case


def get_my_case(session: Session, trainer: User, case_id: uuid.UUID) -> CaseView:
    return _trainer_view(_my_case(session, trainer, case_id))


def list_cases(
    session: Session, staff: User, page: PageRequest, *, state: CaseState | None = None,
    trainer_id: uuid.UUID | None = None,
) -> Page[CaseView]:
    """The organisation's cases, newest first, for its handlers. Other staff handle
    none and see none: cases are confidential, and their existence is too."""
    if not is_handler(session, staff):
        return Page([], None)
    stmt = select(SupportCase).where(SupportCase.organisation_id == staff.organisation_id)
    if state is not None:
        stmt = stmt.where(SupportCase.state == state)
    if trainer_id is not None:
        stmt = stmt.where(SupportCase.trainer_id == trainer_id)
    found = paginate(session, stmt, page, created_at=SupportCase.created_at,
                     row_id=SupportCase.id)
    return Page([_handler_view(session, c) for c in found.items], found.next_cursor)


def _load(session: Session, case_id: uuid.UUID, *, lock: bool) -> SupportCase | None:
    stmt = select(SupportCase).where(SupportCase.id == case_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()


def _handled_case(session: Session, staff: User, case_id: uuid.UUID, *, lock: bool = False
                  ) -> SupportCase:
    """A case of the staff member's organisation that they handle; anything else,
    another organisation's case above all, is ``NotFound``."""
    case = _load(session, case_id, lock=lock)
    if (case is None or case.organisation_id != staff.organisation_id
            or not is_handler(session, staff)):
        raise NotFound(_("No such support case."))
    return case


def get_case(session: Session, staff: User, case_id: uuid.UUID) -> CaseView:
    return _handler_view(session, _handled_case(session, staff, case_id))


# --- handling ------------------------------------------------------------------------


def _note(session: Session, case: SupportCase, author: User, body: str, *,
          by_trainer: bool, shared: bool) -> SupportCaseNote:
    note = SupportCaseNote(case_id=case.id, author_id=author.id, by_trainer=by_trainer,
                           body=body, shared_with_trainer=shared, created_at=clock.now())
    session.add(note)
    case.notes.append(note)
    return note


def _transition(session: Session, staff: User, case_id: uuid.UUID, target: CaseState,
                note: str | None, shared: bool) -> CaseView:
    case = _handled_case(session, staff, case_id, lock=True)
    before = case.state.value
    CASES.move(case, target)
    now = clock.now()
    if target is CaseState.ACKNOWLEDGED:
        case.acknowledged_at, case.acknowledged_by_id = now, staff.id
    else:
        case.closed_at, case.closed_by_id = now, staff.id
    if note:
        _note(session, case, staff, note, by_trainer=False, shared=shared)
    session.flush()
    audit.record(session, staff, f"support_case.{target.value}", object_type="support_case",
                 object_id=case.id, organisation_id=case.organisation_id,
                 before={"state": before}, after={"state": target.value})
    tell(session, case.trainer_id, f"support_case.{target.value}",
         {"note": note if shared else None}, data={"support_case_id": str(case.id)})
    return _handler_view(session, case)


def acknowledge_case(session: Session, staff: User, case_id: uuid.UUID, *,
                     note: str | None = None, shared: bool = False) -> CaseView:
    return _transition(session, staff, case_id, CaseState.ACKNOWLEDGED, note, shared)


def close_case(session: Session, staff: User, case_id: uuid.UUID, *,
               note: str | None = None, shared: bool = False) -> CaseView:
    return _transition(session, staff, case_id, CaseState.CLOSED, note, shared)


def _require_open(case: SupportCase) -> None:
    if case.state is CaseState.CLOSED:
        raise Conflict(_("The support case is closed; ask for support again to open a new one."),
                       code="case-closed", current_state=case.state.value)


def add_handler_note(session: Session, staff: User, case_id: uuid.UUID, body: str, *,
                     shared: bool) -> CaseView:
    """A handler's note: internal, or shared with the trainer (who is told)."""
    case = _handled_case(session, staff, case_id, lock=True)
    _require_open(case)
    _note(session, case, staff, body, by_trainer=False, shared=shared)
    session.flush()
    audit.record(session, staff, "support_case.note_added", object_type="support_case",
                 object_id=case.id, organisation_id=case.organisation_id,
                 after={"shared_with_trainer": shared})
    if shared:
        tell(session, case.trainer_id, "support_case.note_shared", {"note": body},
             data={"support_case_id": str(case.id)})
    return _handler_view(session, case)


def add_trainer_note(session: Session, trainer: User, case_id: uuid.UUID, body: str
                     ) -> CaseView:
    """The trainer writes to the handlers, who are told (without the words)."""
    case = _my_case(session, trainer, case_id, lock=True)
    _require_open(case)
    _note(session, case, trainer, body, by_trainer=True, shared=True)
    session.flush()
    tell_handlers(session, case.organisation_id, "support_case.note", {"case": str(case.id)},
                  data={"support_case_id": str(case.id)})
    return _trainer_view(case)
