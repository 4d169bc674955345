"""What a trainer's data export holds, and the zip archive it is written as.

Every collection is read by the trainer's own id and lists named columns only: nothing
of another trainer, no staff member's id (who reviewed, graded, decided: the trainer
sees decisions, not the person; account actions alone carry the ids of the staff who
took and decided them, as ``GET /me/account-actions`` shows them, so that the trainer
can see their appeal was decided by someone else), no answer key or gold answer, no
password hash, token, TOTP secret or recovery code. Each collection is written twice,
as ``<name>.json`` (a list of objects) and ``<name>.csv`` (one row per object; nested
values as JSON text), with ``README.txt`` and ``manifest.json`` (the files and their row
counts).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from workforce.accounts.models import (
    ApiToken,
    EmailVerification,
    Organisation,
    PasswordReset,
    RecoveryCode,
    TotpFactor,
    User,
)
from workforce.assessments.models import (
    Assessment,
    Attempt,
    AttemptAnswer,
    Qualification,
    Question,
    TrainerQualification,
)
from workforce.billing.models import (
    Adjustment,
    Bonus,
    CounsellingAllowance,
    EarningEvent,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    PayoutAccount,
    PayoutExclusion,
    PayoutItem,
    PayoutRun,
    PayWeek,
    Posting,
    TopUp,
)
from workforce.notifications.models import Notification
from workforce.privacy.models import DataExport, ErasureRequest
from workforce.projects.models import (
    Appeal,
    Assignment,
    KillFee,
    Project,
    ProjectMember,
    Task,
    TimeEntry,
    Timesheet,
    WorkPreferences,
)
from workforce.results.models import QualityRestriction
from workforce.standing.models import AccountAction
from workforce.storage import FileStore
from workforce.uploads.content import extension_of
from workforce.uploads.models import RecordingConsent, Upload, UploadState
from workforce.wellbeing.models import AgeAttestation, ContentConsent
from workforce.wellbeing.support_models import (
    CheckIn,
    CheckInPrompt,
    ContentFlag,
    SupportCase,
    SupportCaseNote,
)

Row = dict[str, Any]


@dataclass(frozen=True)
class Collection:
    name: str
    description: str
    # The statement of the trainer's rows (a bound parameter ``trainer`` is their id).
    query: Callable[[uuid.UUID], Select[Any]]


def _labelled(model: Any, *names: str) -> list[Any]:
    return [getattr(model, name).label(name) for name in names]


def _one_time_tokens(model: type[EmailVerification | PasswordReset],
                     me: uuid.UUID) -> Select[Any]:
    """The e-mailed tokens of one kind sent to the trainer: when, never the token."""
    return (select(*_labelled(model, "id", "created_at", "expires_at", "used_at"))
            .where(model.user_id == me).order_by(model.created_at, model.id))


PROFILE = ("id", "email", "display_name", "role", "country", "timezone", "languages",
           "is_active", "created_at", "updated_at", "password_changed_at",
           "email_verified_at")

COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "qualifications", "Qualifications you hold or held, with scores and expiry.",
        lambda me: select(
            *_labelled(TrainerQualification, "id", "status", "score_percent", "granted_at",
                       "expires_at", "source", "attempt_id", "reason", "created_at"),
            Qualification.code.label("qualification_code"),
            Qualification.name.label("qualification_name"),
            Organisation.name.label("organisation"),
        ).join(Qualification, Qualification.id == TrainerQualification.qualification_id)
        .join(Organisation, Organisation.id == Qualification.organisation_id)
        .where(TrainerQualification.trainer_id == me)
        .order_by(TrainerQualification.created_at, TrainerQualification.id)),
    Collection(
        "assessment_attempts", "Assessment attempts: when, how long, score and result.",
        lambda me: select(
            *_labelled(Attempt, "id", "assessment_id", "number", "state", "started_at",
                       "deadline_at", "closed_at", "close_reason", "auto_points",
                       "rubric_points", "max_points", "score_percent", "passed",
                       "graded_at"),
            Assessment.title.label("assessment"),
        ).join(Assessment, Assessment.id == Attempt.assessment_id)
        .where(Attempt.trainer_id == me).order_by(Attempt.started_at, Attempt.id)),
    Collection(
        "assessment_answers", "Your answer to each question of your attempts, and its "
        "points.",
        lambda me: select(
            *_labelled(AttemptAnswer, "id", "attempt_id", "question_id", "response",
                       "saved_at", "points"),
            Question.kind.label("question_kind"), Question.prompt.label("question"),
        ).join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .join(Question, Question.id == AttemptAnswer.question_id)
        .where(Attempt.trainer_id == me).order_by(AttemptAnswer.saved_at, AttemptAnswer.id)),
    Collection(
        "project_memberships", "Your applications, invitations and memberships of projects.",
        lambda me: select(
            *_labelled(ProjectMember, "id", "project_id", "state", "origin", "message",
                       "reason", "joined_at", "ended_at", "created_at"),
            Project.name.label("project"),
        ).join(Project, Project.id == ProjectMember.project_id)
        .where(ProjectMember.trainer_id == me)
        .order_by(ProjectMember.created_at, ProjectMember.id)),
    Collection(
        "work_preferences", "The uses of the work you said you will not work on.",
        lambda me: select(*_labelled(WorkPreferences, "refused_uses", "created_at",
                                     "updated_at"))
        .where(WorkPreferences.trainer_id == me)),
    Collection(
        "task_assignments", "Tasks you claimed: your answers, time and review outcome.",
        lambda me: select(
            *_labelled(Assignment, "id", "task_id", "project_id", "state", "claimed_at",
                       "revealed_at", "lease_expires_at", "released_at", "submitted_at",
                       "answer", "active_seconds", "gold_score", "gold_scores", "reviewed_at",
                       "auto_approved", "rejection_category", "review_message",
                       "revisions"),
            Task.external_id.label("task_external_id"), Project.name.label("project"),
        ).join(Task, Task.id == Assignment.task_id)
        .join(Project, Project.id == Assignment.project_id)
        .where(Assignment.trainer_id == me).order_by(Assignment.claimed_at, Assignment.id)),
    Collection(
        "task_appeals", "Your appeals against rejections and their outcome.",
        lambda me: select(*_labelled(Appeal, "id", "assignment_id", "project_id", "message",
                                     "state", "decision_note", "decided_at", "created_at"))
        .where(Appeal.trainer_id == me).order_by(Appeal.created_at, Appeal.id)),
    Collection(
        "time_entries", "Work sessions and manual time entries on hourly projects.",
        lambda me: select(*_labelled(TimeEntry, "id", "project_id", "timesheet_id",
                                     "source", "started_at", "ended_at", "last_heartbeat_at",
                                     "end_reason", "note"))
        .where(TimeEntry.trainer_id == me).order_by(TimeEntry.started_at, TimeEntry.id)),
    Collection(
        "timesheets", "Your weekly timesheets and their approval.",
        lambda me: select(*_labelled(Timesheet, "id", "project_id", "week_start", "state",
                                     "submitted_at", "logged_seconds", "approved_seconds",
                                     "adjustment_reason", "amount", "currency",
                                     "reviewed_at", "auto_approved"))
        .where(Timesheet.trainer_id == me).order_by(Timesheet.week_start, Timesheet.id)),
    Collection(
        "earnings", "Every earning recorded for you (minor units of the currency).",
        lambda me: select(*_labelled(EarningEvent, "id", "kind", "organisation_id",
                                     "project_id", "amount", "currency", "source_type",
                                     "source_id", "description", "occurred_at"))
        .where(EarningEvent.trainer_id == me)
        .order_by(EarningEvent.occurred_at, EarningEvent.id)),
    Collection(
        "ledger_accounts", "Your balances: payable, in transit and paid, per organisation "
        "and currency (credits are negative).",
        lambda me: select(*_labelled(LedgerAccount, "id", "organisation_id", "kind",
                                     "currency", "balance", "created_at"))
        .where(LedgerAccount.owner_type == OwnerType.TRAINER, LedgerAccount.owner_id == me)
        .order_by(LedgerAccount.created_at, LedgerAccount.id)),
    Collection(
        "ledger_lines", "Every ledger line on your accounts, with its entry's reason.",
        lambda me: select(
            *_labelled(Posting, "id", "entry_id", "account_id", "amount", "currency",
                       "available_at", "created_at"),
            LedgerAccount.kind.label("account_kind"),
            LedgerAccount.organisation_id.label("organisation_id"),
            JournalEntry.source_type.label("source_type"),
            JournalEntry.source_id.label("source_id"), JournalEntry.reason.label("reason"),
            JournalEntry.project_id.label("project_id"),
            JournalEntry.occurred_at.label("occurred_at"),
        ).join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(LedgerAccount.owner_type == OwnerType.TRAINER, LedgerAccount.owner_id == me)
        .order_by(Posting.created_at, Posting.id)),
    Collection(
        "bonuses", "Bonuses granted to you.",
        lambda me: select(*_labelled(Bonus, "id", "organisation_id", "project_id", "amount",
                                     "currency", "reason", "created_at"))
        .where(Bonus.trainer_id == me).order_by(Bonus.created_at, Bonus.id)),
    Collection(
        "adjustments", "Corrections finance made to your balance.",
        lambda me: select(*_labelled(Adjustment, "id", "organisation_id", "amount",
                                     "currency", "reason", "created_at"))
        .where(Adjustment.trainer_id == me).order_by(Adjustment.created_at, Adjustment.id)),
    Collection(
        "kill_fees", "Fees owed to you for suspensions at short notice.",
        lambda me: select(*_labelled(KillFee, "id", "project_id", "average_daily_amount",
                                     "days_missed", "amount", "currency", "created_at"))
        .where(KillFee.trainer_id == me).order_by(KillFee.created_at, KillFee.id)),
    Collection(
        "pay_weeks", "Your measured weeks on per-task projects against the wage floor.",
        lambda me: select(*_labelled(PayWeek, "id", "project_id", "week_start", "currency",
                                     "tasks", "active_seconds", "paid_amount",
                                     "floor_country", "floor_hourly_amount",
                                     "topped_up_amount", "measured_at"))
        .where(PayWeek.trainer_id == me).order_by(PayWeek.week_start, PayWeek.id)),
    Collection(
        "top_ups", "Top-ups to the wage floor paid to you.",
        lambda me: select(*_labelled(TopUp, "id", "pay_week_id", "sequence", "amount",
                                     "currency", "reason", "created_at"))
        .where(TopUp.trainer_id == me).order_by(TopUp.created_at, TopUp.id)),
    Collection(
        "payout_account", "Where you are paid (in full: this archive is yours).",
        lambda me: select(*_labelled(PayoutAccount, "id", "method", "stripe_account_id",
                                     "payouts_enabled", "requirements", "bank_details",
                                     "details_changed_at", "hold_until", "created_at"))
        .where(PayoutAccount.trainer_id == me)),
    Collection(
        "payouts", "Every payout item to you, its state and transfer.",
        lambda me: select(
            *_labelled(PayoutItem, "id", "run_id", "organisation_id", "method", "amount",
                       "currency", "state", "transfer_id", "failure_code",
                       "failure_message", "manual_reference", "sent_at", "paid_at",
                       "created_at"),
            PayoutRun.period_end.label("period_end"),
        ).join(PayoutRun, PayoutRun.id == PayoutItem.run_id)
        .where(PayoutItem.trainer_id == me).order_by(PayoutItem.created_at, PayoutItem.id)),
    Collection(
        "payout_exclusions", "Payout runs that left money owed to you out, and why.",
        lambda me: select(
            *_labelled(PayoutExclusion, "id", "run_id", "amount", "currency", "reason",
                       "detail"),
            PayoutRun.organisation_id.label("organisation_id"),
            PayoutRun.period_end.label("period_end"),
        ).join(PayoutRun, PayoutRun.id == PayoutExclusion.run_id)
        .where(PayoutExclusion.trainer_id == me)
        .order_by(PayoutRun.period_end, PayoutExclusion.id)),
    Collection(
        "counselling_allowances", "Counselling allowances paid to you, per month.",
        lambda me: select(*_labelled(CounsellingAllowance, "id", "organisation_id", "month",
                                     "amount", "currency", "threshold_minutes",
                                     "exposure_seconds", "created_at"))
        .where(CounsellingAllowance.trainer_id == me)
        .order_by(CounsellingAllowance.month, CounsellingAllowance.id)),
    Collection(
        "content_flags", "Content you flagged, and the outcome.",
        lambda me: select(*_labelled(ContentFlag, "id", "assignment_id", "task_id",
                                     "project_id", "category", "severity", "note",
                                     "need_support", "returned", "state", "paid_seconds",
                                     "triaged_at", "resolution", "raised_scope",
                                     "created_at"))
        .where(ContentFlag.trainer_id == me)
        .order_by(ContentFlag.created_at, ContentFlag.id)),
    Collection(
        "check_ins", "Your wellbeing check-ins.",
        lambda me: select(*_labelled(CheckIn, "id", "organisation_id", "project_id", "mood",
                                     "note", "share_note", "need_support",
                                     "exposure_seconds", "created_at"))
        .where(CheckIn.trainer_id == me).order_by(CheckIn.created_at, CheckIn.id)),
    Collection(
        "check_in_prompts", "When you were asked to check in, and your exposure then.",
        lambda me: select(*_labelled(CheckInPrompt, "id", "organisation_id", "period",
                                     "exposure_seconds", "created_at"))
        .where(CheckInPrompt.trainer_id == me)
        .order_by(CheckInPrompt.created_at, CheckInPrompt.id)),
    Collection(
        "support_cases", "Support cases opened for you.",
        lambda me: select(*_labelled(SupportCase, "id", "organisation_id", "origin",
                                     "flag_id", "check_in_id", "requested", "reason",
                                     "message", "state", "acknowledged_at", "closed_at",
                                     "created_at"))
        .where(SupportCase.trainer_id == me)
        .order_by(SupportCase.created_at, SupportCase.id)),
    Collection(
        "support_case_messages", "Your messages on support cases, and the handlers' "
        "messages shared with you (handlers' internal notes are not yours to see).",
        lambda me: select(*_labelled(SupportCaseNote, "id", "case_id", "by_trainer", "body",
                                     "created_at"))
        .join(SupportCase, SupportCase.id == SupportCaseNote.case_id)
        .where(SupportCase.trainer_id == me,
               SupportCaseNote.by_trainer | SupportCaseNote.shared_with_trainer)
        .order_by(SupportCaseNote.created_at, SupportCaseNote.id)),
    Collection(
        "content_consents", "Your consents to categories of sensitive content.",
        lambda me: select(*_labelled(ContentConsent, "id", "category", "given_at",
                                     "withdrawn_at"))
        .where(ContentConsent.trainer_id == me)
        .order_by(ContentConsent.given_at, ContentConsent.id)),
    Collection(
        "age_attestation", "Your statement that you are 18 or over.",
        lambda me: select(AgeAttestation.attested_at.label("attested_at"))
        .where(AgeAttestation.trainer_id == me)),
    Collection(
        "notifications", "Your in-app notifications.",
        lambda me: select(*_labelled(Notification, "id", "kind", "title", "body", "data",
                                     "created_at", "read_at"))
        .where(Notification.user_id == me)
        .order_by(Notification.created_at, Notification.id)),
    Collection(
        "account_actions", "Restrictions and deactivations of your account, with their "
        "whole history: reason, explanation, your response, the decisions and your appeal "
        "(the staff ids are those GET /me/account-actions shows you).",
        lambda me: select(
            *_labelled(AccountAction, "id", "organisation_id", "kind", "reason",
                       "explanation", "immediate", "state", "announced_at",
                       "effective_at", "respond_by", "response", "responded_at",
                       "decision_note", "decided_by_id", "decided_at", "appeal",
                       "appealed_at", "appeal_note", "appeal_decided_by_id",
                       "appeal_decided_at", "created_by_id", "created_at", "updated_at"),
            Organisation.name.label("organisation"),
        ).join(Organisation, Organisation.id == AccountAction.organisation_id)
        .where(AccountAction.trainer_id == me)
        .order_by(AccountAction.created_at, AccountAction.id)),
    Collection(
        "quality_restrictions", "Restrictions a project's quality rule set on your claims, "
        "with the rule and the figures that caught you, your appeal and the decision.",
        lambda me: select(
            *_labelled(QualityRestriction, "id", "project_id", "rule_id", "state", "figures",
                       "starts_at", "ends_at", "closed_at", "appeal", "appealed_at",
                       "decision_reason", "decided_by_id", "decided_at", "created_at"),
            Project.name.label("project"),
        ).join(Project, Project.id == QualityRestriction.project_id)
        .where(QualityRestriction.trainer_id == me)
        .order_by(QualityRestriction.created_at, QualityRestriction.id)),
    Collection(
        "sessions", "Your sign-ins (tokens): when, from which browser or app and address, "
        "last use, expiry and revocation (never the token itself).",
        lambda me: select(*_labelled(ApiToken, "id", "label", "created_at", "expires_at",
                                     "last_used_at", "revoked_at", "user_agent",
                                     "client_address"))
        .where(ApiToken.user_id == me).order_by(ApiToken.created_at, ApiToken.id)),
    Collection(
        "second_factor", "Your authenticator (TOTP), if you enrolled one: when (never its "
        "secret).",
        lambda me: select(*_labelled(TotpFactor, "id", "created_at", "confirmed_at"))
        .where(TotpFactor.user_id == me)),
    Collection(
        "recovery_codes", "Your recovery codes: when made and used (never the codes).",
        lambda me: select(*_labelled(RecoveryCode, "id", "created_at", "used_at"))
        .where(RecoveryCode.user_id == me)
        .order_by(RecoveryCode.created_at, RecoveryCode.id)),
    Collection(
        "email_verifications", "Verification e-mails sent to you, and when one was used.",
        lambda me: _one_time_tokens(EmailVerification, me)),
    Collection(
        "password_resets", "Password resets you asked for, and when one was used.",
        lambda me: _one_time_tokens(PasswordReset, me)),
    Collection(
        "uploads", "Files you uploaded as answers (recordings among them), what was read "
        "from them, and when and why any was deleted; the files still held are in "
        "uploads/.",
        lambda me: select(*_labelled(Upload, "id", "project_id", "assignment_id", "field",
                                     "kind", "state", "created_at", "content_type",
                                     "size_bytes", "duration_ms", "sample_rate",
                                     "uploaded_at", "attached_at", "delete_after",
                                     "deleted_at", "deletion_reason"))
        .where(Upload.trainer_id == me).order_by(Upload.created_at, Upload.id)),
    Collection(
        "recording_consents", "Your consents to projects' recordings, and withdrawals.",
        lambda me: select(*_labelled(RecordingConsent, "id", "project_id", "consented_at",
                                     "withdrawn_at"))
        .where(RecordingConsent.trainer_id == me)
        .order_by(RecordingConsent.consented_at, RecordingConsent.id)),
    Collection(
        "data_exports", "Your data exports, this one among them.",
        lambda me: select(*_labelled(DataExport, "id", "state", "requested_at", "ready_at",
                                     "expires_at", "size_bytes"))
        .where(DataExport.user_id == me)
        .order_by(DataExport.requested_at, DataExport.id)),
    Collection(
        "erasure_requests", "Your requests to erase your account, and their state.",
        lambda me: select(*_labelled(ErasureRequest, "id", "state", "requested_at",
                                     "effective_at", "cancelled_at", "closed_at",
                                     "waiting_reason"))
        .where(ErasureRequest.user_id == me)
        .order_by(ErasureRequest.requested_at, ErasureRequest.id)),
)


def collect(session: Session, trainer: User) -> dict[str, list[Row]]:
    """Every collection of the trainer's data, by name; ``profile`` first."""
    profile = {name: getattr(trainer, name) for name in PROFILE}
    profile["email_verified"] = trainer.email_verified_at is not None
    profile["second_factor_enrolled"] = bool(session.scalar(
        select(func.count()).select_from(TotpFactor)
        .where(TotpFactor.user_id == trainer.id, TotpFactor.confirmed_at.is_not(None))))
    found: dict[str, list[Row]] = {"profile": [profile]}
    for collection in COLLECTIONS:
        found[collection.name] = [dict(row._mapping)
                                  for row in session.execute(collection.query(trainer.id))]
    return found


def uploaded_files(session: Session, files: FileStore, trainer: User) -> dict[str, bytes]:
    """The files the trainer uploaded that are still held, by their name in the archive
    (``uploads/<id>.<type>``)."""
    found = {}
    for upload in session.scalars(select(Upload).where(
            Upload.trainer_id == trainer.id, Upload.storage_key.is_not(None),
            Upload.state.in_((UploadState.UPLOADED, UploadState.ATTACHED)))
            .order_by(Upload.created_at, Upload.id)):
        stored = files.read(upload.storage_key)  # type: ignore[arg-type]
        if stored is not None:
            found[f"uploads/{upload.id}.{extension_of(upload.content_type)}"] = stored.data
    return found


def build_zip(
    collections: dict[str, list[Row]], *, generated_at: datetime,
    files: dict[str, bytes] | None = None,
) -> tuple[bytes, dict[str, int]]:
    """The archive's bytes and its manifest ({file name: rows, or 1 for a file})."""
    manifest: dict[str, int] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in (files or {}).items():
            archive.writestr(name, data)
            manifest[name] = 1
        for name, rows in collections.items():
            plain = [{key: _plain(value) for key, value in row.items()} for row in rows]
            archive.writestr(f"{name}.json", json.dumps(plain, indent=2, ensure_ascii=False))
            archive.writestr(f"{name}.csv", _csv(plain))
            manifest[f"{name}.json"] = manifest[f"{name}.csv"] = len(rows)
        archive.writestr("manifest.json", json.dumps(
            {"generated_at": generated_at.isoformat(), "files": manifest}, indent=2))
        archive.writestr("README.txt", _readme(generated_at))
    return buffer.getvalue(), manifest


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _csv(rows: Iterable[Row]) -> str:
    rows = list(rows)
    out = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({key: json.dumps(value, ensure_ascii=False)
                         if isinstance(value, dict | list) else value
                         for key, value in row.items()})
    return out.getvalue()


def _readme(generated_at: datetime) -> str:
    lines = [
        "Your data held by workforce",
        f"Prepared {generated_at.isoformat()}.",
        "",
        "Each collection is here twice: NAME.json (a list of objects) and NAME.csv",
        "(a spreadsheet; nested values as JSON). Money is in minor units of its currency",
        "(cents for USD). Times are UTC (ISO 8601).",
        "",
        "profile: your account (without the password: only a one-way hash of it is kept),",
        "  whether your e-mail address is verified and a second factor enrolled.",
    ]
    lines += [f"{c.name}: {c.description}" for c in COLLECTIONS]
    return "\n".join(lines) + "\n"
