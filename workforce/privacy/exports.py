"""A trainer's export of their own data: asked for in a request, prepared by the
scheduler (the archive can be large: never in a request), downloadable by its owner
until it expires, then deleted by the scheduler.

Expiry is decided when read (``DataExport.current_state``): an export past
``expires_at`` is shown ``expired`` and cannot be downloaded, whether or not the job has
deleted its file yet.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import Role, User
from workforce.errors import Conflict, Forbidden, NotFound
from workforce.i18n import _
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.pagination import Page, PageRequest, paginate
from workforce.privacy import archive
from workforce.privacy.models import EXPORTS, DataExport, ExportState
from workforce.privacy.storage import ExportStore
from workforce.storage import FileStore

SCHEDULER = SystemActor("scheduler")


def require_trainer(user: User) -> None:
    if user.role is not Role.TRAINER:
        raise Forbidden(_("Only trainers have this."), code="role-forbidden")


def request_export(session: Session, trainer: User) -> DataExport:
    """Ask for an archive of everything held about the trainer; one at a time."""
    require_trainer(trainer)
    pending = _pending_conflict()
    if session.scalar(select(DataExport.id).where(
            DataExport.user_id == trainer.id, DataExport.state == ExportState.REQUESTED)):
        raise pending
    export = DataExport(user_id=trainer.id, state=ExportState.REQUESTED,
                        requested_at=clock.now())
    session.add(export)
    try:
        # Two requests at once: the partial unique index decides.
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise pending from exc
    audit.record(session, trainer, "data_export.requested", object_type="data_export",
                 object_id=export.id, organisation_id=None)
    return export


def _pending_conflict() -> Conflict:
    return Conflict(_("Your previous data export is still being prepared."),
                    code="export-pending")


def list_exports(session: Session, trainer: User, page: PageRequest) -> Page[DataExport]:
    stmt = select(DataExport).where(DataExport.user_id == trainer.id)
    return paginate(session, stmt, page, order=(DataExport.requested_at.desc(),
                                                 DataExport.id.desc()))


def get_export(session: Session, trainer: User, export_id: uuid.UUID) -> DataExport:
    export = session.get(DataExport, export_id)
    if export is None or export.user_id != trainer.id:
        raise NotFound(_("No such data export."))
    return export


def download(session: Session, store: ExportStore, trainer: User,
             export_id: uuid.UUID) -> tuple[DataExport, bytes]:
    """The export's archive, for its owner alone (anyone else: ``NotFound``); audited."""
    export = get_export(session, trainer, export_id)
    state = export.current_state
    if state is ExportState.REQUESTED:
        raise Conflict(_("The data export is still being prepared."), code="export-not-ready")
    data = store.read(export.storage_key) if state is ExportState.READY \
        and export.storage_key else None
    if data is None:
        raise Conflict(_("The data export has expired; ask for a new one."),
                       code="export-expired")
    audit.record(session, trainer, "data_export.downloaded", object_type="data_export",
                 object_id=export.id, organisation_id=None)
    return export, data


# --- the scheduler's side ------------------------------------------------------------


def storage_key(export: DataExport) -> str:
    return f"data-export-{export.id}.zip"


def prepare_requested_exports(session: Session, store: ExportStore, *, now: datetime,
                              lifetime: timedelta, limit: int, files: FileStore) -> int:
    """Write the archive of up to ``limit`` requested exports, oldest first. Rows are
    locked with ``SKIP LOCKED``, so two schedulers never prepare one export twice."""
    exports = list(session.scalars(
        select(DataExport).where(DataExport.state == ExportState.REQUESTED)
        .order_by(DataExport.requested_at, DataExport.id).limit(limit)
        .with_for_update(skip_locked=True)))
    for export in exports:
        _prepare(session, store, export, now=now, lifetime=lifetime, files=files)
    return len(exports)


def _prepare(session: Session, store: ExportStore, export: DataExport, *, now: datetime,
             lifetime: timedelta, files: FileStore) -> None:
    trainer = session.get_one(User, export.user_id)
    data, manifest = archive.build_zip(archive.collect(session, trainer), generated_at=now,
                                       files=archive.uploaded_files(session, files, trainer))
    key = storage_key(export)
    # Saved before the commit: a rolled-back run leaves a file that the next run,
    # preparing the same export again, overwrites.
    store.save(key, data)
    EXPORTS.move(export, ExportState.READY)
    export.ready_at, export.expires_at = now, now + lifetime
    export.storage_key, export.size_bytes, export.files = key, len(data), manifest
    audit.record(session, SCHEDULER, "data_export.ready", object_type="data_export",
                 object_id=export.id, organisation_id=None,
                 after={"size_bytes": len(data), "expires_at": export.expires_at})
    tell(session, trainer.id, "data_export.ready", {"expires_at": moment(export.expires_at)},
         data={"data_export_id": str(export.id)})
    session.flush()


def delete_expired_exports(session: Session, store: ExportStore, *, now: datetime,
                           limit: int) -> int:
    """Delete the archives of up to ``limit`` exports past their expiry."""
    exports = list(session.scalars(
        select(DataExport).where(DataExport.state == ExportState.READY,
                                 DataExport.expires_at <= now)
        .order_by(DataExport.expires_at, DataExport.id).limit(limit)
        .with_for_update(skip_locked=True)))
    for export in exports:
        discard(store, export)
    session.flush()
    return len(exports)


def discard(store: ExportStore, export: DataExport) -> None:
    """Delete the export's archive now (expired, or its owner erased)."""
    if export.storage_key:
        store.delete(export.storage_key)
    if export.state is not ExportState.EXPIRED:
        EXPORTS.move(export, ExportState.EXPIRED)
    export.storage_key = None
