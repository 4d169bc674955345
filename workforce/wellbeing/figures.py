"""Aggregated, de-identified wellbeing figures per project, for its managers.

Managers see totals, never a trainer: exposure hours, flags by category, and the
check-in mood distribution, week by week. A figure drawn
from fewer trainers than the organisation's ``min_group_size`` is suppressed and the
answer says so instead. Per category, only categories that meet the threshold are
counted, and no overall flag total is given (it would let a suppressed category be
worked out by subtraction). Check-in notes appear only when the trainer chose to share
them, without names or times, and only in a group large enough to show.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workforce import calendar, clock
from workforce.accounts.models import User
from workforce.errors import Invalid
from workforce.i18n import _
from workforce.projects import access
from workforce.projects.models import Assignment, ContentCategory, Project, TimeEntry
from workforce.wellbeing import exposure
from workforce.wellbeing.policies import policy_for
from workforce.wellbeing.support_models import CheckIn, ContentFlag

DEFAULT_WEEKS = 4
MAX_WEEKS = 52


@dataclass(frozen=True)
class Figure:
    """A figure, or why it is hidden."""

    trainers: int
    min_group_size: int

    @property
    def suppressed(self) -> bool:
        # An empty group singles nobody out: zero is shown.
        return 0 < self.trainers < self.min_group_size

    @property
    def suppressed_reason(self) -> str | None:
        if not self.suppressed:
            return None
        return (f"Fewer than {self.min_group_size} trainers; hidden to protect their "
                "privacy.")

    def shown(self, value: object) -> object:
        return None if self.suppressed else value


@dataclass(frozen=True)
class ExposureFigure(Figure):
    seconds: int = 0

    @property
    def hours(self) -> Decimal | None:
        if self.suppressed:
            return None
        return (Decimal(self.seconds) / 3600).quantize(Decimal("0.01"))

    @property
    def trainer_count(self) -> int | None:
        return None if self.suppressed else self.trainers


@dataclass(frozen=True)
class CategoryFigure(Figure):
    category: ContentCategory = ContentCategory.OTHER
    count: int = 0

    @property
    def flags(self) -> int | None:
        return None if self.suppressed else self.count


@dataclass(frozen=True)
class MoodFigure(Figure):
    moods: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def check_ins(self) -> int | None:
        return None if self.suppressed else len(self.moods)

    @property
    def distribution(self) -> dict[str, int] | None:
        if self.suppressed:
            return None
        counts = Counter(self.moods)
        return {str(m): counts.get(m, 0) for m in range(1, 6)}

    @property
    def mean_mood(self) -> Decimal | None:
        if self.suppressed or not self.moods:
            return None
        return (Decimal(sum(self.moods)) / len(self.moods)).quantize(Decimal("0.01"))

    @property
    def shared_notes(self) -> list[str]:
        return [] if self.suppressed else sorted(self.notes)


@dataclass(frozen=True)
class WeekFigures:
    start: datetime
    end: datetime
    exposure: ExposureFigure
    flags_by_category: list[CategoryFigure]
    check_ins: MoodFigure


@dataclass(frozen=True)
class ProjectWellbeing:
    project: Project
    min_group_size: int
    weeks: list[WeekFigures]


def project_figures(
    session: Session, staff: User, project_id: uuid.UUID, *, weeks: int = DEFAULT_WEEKS,
) -> ProjectWellbeing:
    """The last ``weeks`` complete weeks (Monday to Monday, UTC), newest first, each
    suppressed on its own. Only fixed, finished weeks are shown: figures for a window
    the caller could choose, or for a week still filling up, could be compared to
    single out one trainer's check-in."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise Invalid(_("Too many weeks."), errors={"weeks": [_("Between 1 and %(max_weeks)s.",
                                                             max_weeks=MAX_WEEKS)]})
    project = access.get_project(session, staff, project_id)
    k = policy_for(session, project.organisation_id).min_group_size
    now = clock.now()
    this_monday = calendar.week_of("UTC", now).starts_at
    found = []
    for back in range(1, weeks + 1):
        start = this_monday - timedelta(weeks=back)
        end = start + timedelta(weeks=1)
        found.append(WeekFigures(
            start=start, end=end,
            exposure=_exposure(session, project, start, end, k),
            flags_by_category=_flags(session, project, start, end, k),
            check_ins=_moods(session, project, start, end, k),
        ))
    return ProjectWellbeing(project=project, min_group_size=k, weeks=found)


def _exposure(session: Session, project: Project, since: datetime, until: datetime,
              k: int) -> ExposureFigure:
    """Each trainer's exposure on this project (wall time, overlaps once), summed."""
    by_task = select(Assignment.trainer_id).where(
        Assignment.project_id == project.id, Assignment.claimed_at < until,
        Assignment.lease_expires_at > since,
    )
    by_time = select(TimeEntry.trainer_id).where(
        TimeEntry.project_id == project.id, TimeEntry.started_at < until,
        or_(TimeEntry.ended_at.is_(None), TimeEntry.ended_at > since),
    )
    trainer_ids = set(session.scalars(by_task)) | set(session.scalars(by_time))
    total, exposed = 0, 0
    now = clock.now()
    for trainer_id in trainer_ids:
        mine = [i for i in exposure.intervals(session, trainer_id, since, until, now=now)
                if i.project_id == project.id]
        seconds = exposure.union_seconds(mine)
        if seconds:
            total += seconds
            exposed += 1
    return ExposureFigure(trainers=exposed, min_group_size=k, seconds=total)


def _flags(session: Session, project: Project, since: datetime, until: datetime,
           k: int) -> list[CategoryFigure]:
    rows = session.execute(
        select(ContentFlag.category, func.count(), func.count(ContentFlag.trainer_id.distinct()))
        .where(ContentFlag.project_id == project.id, ContentFlag.created_at >= since,
               ContentFlag.created_at < until)
        .group_by(ContentFlag.category)
    ).all()
    found = {ContentCategory(category): (int(n), int(people)) for category, n, people in rows}
    return [
        CategoryFigure(trainers=found.get(c, (0, 0))[1], min_group_size=k, category=c,
                       count=found.get(c, (0, 0))[0])
        for c in ContentCategory
    ]


def _moods(session: Session, project: Project, since: datetime, until: datetime,
           k: int) -> MoodFigure:
    rows = session.execute(
        select(CheckIn.trainer_id, CheckIn.mood, CheckIn.share_note, CheckIn.note)
        .where(CheckIn.project_id == project.id, CheckIn.created_at >= since,
               CheckIn.created_at < until)
    ).all()
    return MoodFigure(
        trainers=len({r.trainer_id for r in rows}), min_group_size=k,
        moods=[int(r.mood) for r in rows],
        notes=[r.note for r in rows if r.share_note and r.note],
    )
