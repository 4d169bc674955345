"""A trainer's erasure: asked for with their password, cancellable during a grace
period, then carried out by the scheduler.

At the end of the grace period the account is closed: every token revoked, the account
deactivated, open applications withdrawn, invitations declined, memberships left (live
leases released, running sessions stopped), and weeks of logged time handed in for
approval, so that work already done is still reviewed and paid. Personal data is erased
once nothing more is owed: no payable or in-transit balance, no submitted work or
timesheet awaiting review, no open appeal. Until then the request waits (payout runs
still pay the trainer to the payout account on file, whatever the schedule's minimum:
``billing.payouts.build``) and the job looks again on each run.

Erasing keeps the user row (its id is the key every retained record points at) under a
random pseudonym: the e-mail address becomes ``<pseudonym>@erased.invalid``, the name the
pseudonym, the password unusable; tokens (with the user agent and address of each
login), password resets, verification tokens, the authenticator and recovery codes, and
the uses the trainer refused are deleted; free text the trainer wrote is removed (their
responses to and appeals against account actions and quality restrictions among it) and
bank details deleted.
The ledger, payout items and earnings are kept as they are (the law requires accounting
records; the ledger is append-only and stays balanced), and so are account actions
under the pseudonym: the organisation's record of what it decided and when, kept as the
ledger is.
README: "Erasure" lists what is kept and why.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit, tokens
from workforce.accounts.models import (
    ApiToken,
    EmailVerification,
    PasswordReset,
    RecoveryCode,
    TotpFactor,
    User,
)
from workforce.accounts.passwords import verify_password
from workforce.assessments.models import Attempt, AttemptAnswer
from workforce.billing.models import AccountKind, LedgerAccount, OwnerType, PayoutAccount
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _
from workforce.notifications.models import Notification, OutboundEmail
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.privacy import exports
from workforce.privacy.models import (
    ERASURES,
    OPEN_ERASURE_STATES,
    DataExport,
    ErasureRequest,
    ErasureState,
)
from workforce.privacy.storage import ExportStore
from workforce.projects import staffing, timesheets, winddown
from workforce.projects.models import (
    OPEN_MEMBERSHIP_STATES,
    Appeal,
    AppealState,
    Assignment,
    AssignmentState,
    EntryEndReason,
    MembershipState,
    ProjectMember,
    TimeEntry,
    Timesheet,
    TimesheetState,
    WorkPreferences,
)
from workforce.results.models import QualityRestriction
from workforce.standing.models import AccountAction
from workforce.storage import FileStore
from workforce.uploads import retention
from workforce.wellbeing.support_models import CheckIn, ContentFlag, SupportCase, SupportCaseNote

# No argon2 hash looks like this, so no password ever verifies against it.
UNUSABLE_PASSWORD = "!erased"  # noqa: S105 - a marker, not a password
ERASED_DOMAIN = "erased.invalid"
# Sign-in records, and what the trainer told us of their convictions: deleted outright.
# (Tokens carry the user agent and client address of each login.)
_DELETED = (ApiToken, PasswordReset, EmailVerification, TotpFactor, RecoveryCode)


def request_erasure(session: Session, trainer: User, *, password: str,
                    grace: timedelta) -> ErasureRequest:
    """Schedule the trainer's erasure at the end of the grace period."""
    exports.require_trainer(trainer)
    if not verify_password(trainer.password_hash, password):
        raise Invalid(_("The password is wrong."), errors={"password": [_("Wrong password.")]})
    taken = Conflict(_("Your account's erasure is already requested."), code="erasure-requested")
    if find_open_request(session, trainer.id) is not None:
        raise taken
    now = clock.now()
    request = ErasureRequest(user_id=trainer.id, state=ErasureState.SCHEDULED,
                             requested_at=now, effective_at=now + grace)
    session.add(request)
    try:
        with session.begin_nested():  # two requests at once: the unique index decides
            session.flush()
    except IntegrityError as exc:
        raise taken from exc
    audit.record(session, trainer, "account.erasure_requested", object_type="user",
                 object_id=trainer.id, organisation_id=None,
                 after={"erasure_request_id": request.id, "effective_at": request.effective_at})
    tell(session, trainer.id, "account.erasure_requested",
         {"effective_at": moment(request.effective_at)},
         data={"erasure_request_id": str(request.id),
               "effective_at": request.effective_at.isoformat()})
    return request


def find_open_request(session: Session, user_id: uuid.UUID, *,
                      lock: bool = False) -> ErasureRequest | None:
    stmt = select(ErasureRequest).where(ErasureRequest.user_id == user_id,
                                        ErasureRequest.state.in_(OPEN_ERASURE_STATES))
    return session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()


def get_open_request(session: Session, trainer: User) -> ErasureRequest:
    exports.require_trainer(trainer)
    request = find_open_request(session, trainer.id)
    if request is None:
        raise NotFound(_("No erasure of your account is requested."))
    return request


def cancel_erasure(session: Session, trainer: User) -> ErasureRequest:
    """Cancel during the grace period (a request already carried out cannot be)."""
    exports.require_trainer(trainer)
    request = find_open_request(session, trainer.id, lock=True)
    if request is None:
        raise NotFound(_("No erasure of your account is requested."))
    ERASURES.move(request, ErasureState.CANCELLED)
    request.cancelled_at = clock.now()
    audit.record(session, trainer, "account.erasure_cancelled", object_type="user",
                 object_id=trainer.id, organisation_id=None,
                 after={"erasure_request_id": request.id})
    tell(session, trainer.id, "account.erasure_cancelled", {})
    session.flush()
    return request


# --- the scheduler's side ------------------------------------------------------------


def carry_out_due_erasures(session: Session, store: ExportStore, *, now: datetime,
                           limit: int, files: FileStore) -> int:
    """Carry out up to ``limit`` requests whose grace period is over (and the waiting
    ones again); returns how many were completed."""
    requests = list(session.scalars(
        select(ErasureRequest)
        .where(ErasureRequest.state.in_(OPEN_ERASURE_STATES), ErasureRequest.effective_at <= now)
        .order_by(ErasureRequest.effective_at, ErasureRequest.id).limit(limit)
        .with_for_update(skip_locked=True)))
    return sum(carry_out(session, store, request, now=now, files=files)
               for request in requests)


def carry_out(session: Session, store: ExportStore, request: ErasureRequest, *,
              now: datetime, files: FileStore) -> bool:
    """Close the account (once), then erase it if nothing is owed; True when erased."""
    trainer = session.scalars(select(User).where(User.id == request.user_id)
                              .with_for_update()).one()
    if request.closed_at is None:
        _close_account(session, trainer, now=now)
        request.closed_at = now
    owed = still_owed(session, trainer.id)
    if owed:
        if request.state is ErasureState.SCHEDULED:
            ERASURES.move(request, ErasureState.WAITING)
            audit.record(session, exports.SCHEDULER, "account.erasure_waiting",
                         object_type="user", object_id=trainer.id, organisation_id=None,
                         after={"erasure_request_id": request.id, "owed": owed})
        request.waiting_reason = "Waiting until this is settled: " + "; ".join(owed) + "."
        session.flush()
        return False
    _erase(session, store, trainer, request, now=now)
    # Their recordings and files go too; answers that named them stand withdrawn.
    retention.erase_uploads(session, files, trainer.id, now)
    return True


def _close_account(session: Session, trainer: User, *, now: datetime) -> None:
    """No more work and no more sign-in; what was done is handed in."""
    tokens.revoke_all(session, trainer)
    trainer.is_active = False
    _end_memberships(session, trainer)
    _release_work(session, trainer.id, now=now)
    for sheet_id in session.scalars(
        select(Timesheet.id).where(Timesheet.trainer_id == trainer.id,
                                   Timesheet.state == TimesheetState.OPEN)
        .where(select(TimeEntry.id).where(TimeEntry.timesheet_id == Timesheet.id).exists())
    ).all():
        timesheets.submit_timesheet(session, trainer, sheet_id)
    audit.record(session, exports.SCHEDULER, "account.closed_for_erasure", object_type="user",
                 object_id=trainer.id, organisation_id=None)
    session.flush()


_ENDINGS = {
    MembershipState.APPLIED: staffing.withdraw_application,
    MembershipState.INVITED: staffing.decline_invitation,
    MembershipState.ACTIVE: staffing.leave,
}


def _end_memberships(session: Session, trainer: User) -> None:
    for member_id, state in session.execute(
        select(ProjectMember.id, ProjectMember.state).where(
            ProjectMember.trainer_id == trainer.id,
            ProjectMember.state.in_(OPEN_MEMBERSHIP_STATES))
    ).all():
        _ENDINGS[state](session, trainer, member_id)


def _release_work(session: Session, trainer_id: uuid.UUID, *, now: datetime) -> None:
    """Leases and sessions left outside a membership (a removal racing a claim)."""
    leased = session.scalars(select(Assignment.project_id).where(
        Assignment.trainer_id == trainer_id, Assignment.state == AssignmentState.LEASED)
    ).all()
    for project_id in set(leased):
        winddown.end_leases(session, project_id, at=now, trainer_id=trainer_id)
    running = session.scalars(select(TimeEntry.project_id).where(
        TimeEntry.trainer_id == trainer_id, TimeEntry.ended_at.is_(None))).all()
    for project_id in set(running):
        winddown.close_sessions(session, project_id, at=now, reason=EntryEndReason.LEFT,
                                trainer_id=trainer_id)


def still_owed(session: Session, trainer_id: uuid.UUID) -> list[str]:
    """What keeps the erasure waiting: money not yet paid, or work that may still earn."""
    owed = [
        # A trainer's accounts are credit-normal: what is owed is the balance negated.
        f"{-balance} {currency} {kind.value.replace('_', ' ')}"
        for kind, currency, balance in session.execute(
            select(LedgerAccount.kind, LedgerAccount.currency, func.sum(LedgerAccount.balance))
            .where(LedgerAccount.owner_type == OwnerType.TRAINER,
                   LedgerAccount.owner_id == trainer_id,
                   LedgerAccount.kind.in_((AccountKind.PAYABLE, AccountKind.IN_TRANSIT)))
            .group_by(LedgerAccount.kind, LedgerAccount.currency)
            .order_by(LedgerAccount.kind, LedgerAccount.currency))
        if balance
    ]
    waiting = {
        "submitted work awaiting review": select(Assignment.id).where(
            Assignment.trainer_id == trainer_id,
            Assignment.state == AssignmentState.SUBMITTED),
        "timesheets awaiting approval": select(Timesheet.id).where(
            Timesheet.trainer_id == trainer_id, Timesheet.state == TimesheetState.SUBMITTED),
        "appeals awaiting a decision": select(Appeal.id).where(
            Appeal.trainer_id == trainer_id, Appeal.state == AppealState.OPEN),
    }
    owed += [what for what, stmt in waiting.items() if session.scalar(stmt.limit(1))]
    return owed


def _erase(session: Session, store: ExportStore, trainer: User, request: ErasureRequest, *,
           now: datetime) -> None:
    pseudonym = f"erased-{secrets.token_hex(8)}"
    session.execute(delete(OutboundEmail).where(OutboundEmail.to_address == trainer.email))
    trainer.email, trainer.display_name = f"{pseudonym}@{ERASED_DOMAIN}", pseudonym
    trainer.password_hash = UNUSABLE_PASSWORD
    trainer.country, trainer.timezone, trainer.languages = None, "UTC", []
    trainer.is_active = False
    for model in _DELETED:
        session.execute(delete(model).where(model.user_id == trainer.id))
    session.execute(delete(WorkPreferences).where(WorkPreferences.trainer_id == trainer.id))
    session.execute(delete(Notification).where(Notification.user_id == trainer.id))
    _remove_free_text(session, trainer.id)
    session.execute(update(PayoutAccount).where(PayoutAccount.trainer_id == trainer.id)
                    .values(bank_details={}, requirements={})
                    .execution_options(synchronize_session=False))
    for export in session.scalars(select(DataExport).where(DataExport.user_id == trainer.id)):
        exports.discard(store, export)
    ERASURES.move(request, ErasureState.COMPLETED)
    request.completed_at, request.pseudonym, request.waiting_reason = now, pseudonym, None
    audit.record(session, exports.SCHEDULER, "account.erased", object_type="user",
                 object_id=trainer.id, organisation_id=None,
                 after={"erasure_request_id": request.id, "pseudonym": pseudonym})
    session.flush()


def _remove_free_text(session: Session, trainer_id: uuid.UUID) -> None:
    """What the trainer wrote in their own words (and the handlers' notes on their
    support cases, which are about their health; and their responses to and appeals
    against account actions and quality restrictions)."""
    mine = {
        ProjectMember: ({"message": "", "reason": None}, ProjectMember.trainer_id),
        Appeal: ({"message": ""}, Appeal.trainer_id),
        TimeEntry: ({"note": ""}, TimeEntry.trainer_id),
        ContentFlag: ({"note": ""}, ContentFlag.trainer_id),
        CheckIn: ({"note": ""}, CheckIn.trainer_id),
        SupportCase: ({"message": ""}, SupportCase.trainer_id),
    }
    for model, (values, owner) in mine.items():
        session.execute(update(model).where(owner == trainer_id).values(**values)
                        .execution_options(synchronize_session=False))
    cases = select(SupportCase.id).where(SupportCase.trainer_id == trainer_id)
    session.execute(update(SupportCaseNote).where(SupportCaseNote.case_id.in_(cases))
                    .values(body="").execution_options(synchronize_session=False))
    for owner, words in ((AccountAction.trainer_id, AccountAction.response),
                         (AccountAction.trainer_id, AccountAction.appeal),
                         (QualityRestriction.trainer_id, QualityRestriction.appeal)):
        # The action or restriction, its dates and the staff's decisions are kept; the
        # trainer's words go (that they responded and appealed stays: ``responded_at``,
        # ``appealed_at``).
        session.execute(update(owner.class_).where(owner == trainer_id, words.is_not(None))
                        .values({words: ""}).execution_options(synchronize_session=False))
    answers = session.scalars(
        select(AttemptAnswer).join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .where(Attempt.trainer_id == trainer_id))
    for answer in answers:
        if "text" in (answer.response or {}):
            answer.response = {k: v for k, v in answer.response.items() if k != "text"}
