"""The organisation's wellbeing policy: exposure limits, breaks, rotation, check-ins,
support resources and the counselling allowance.

One row per organisation, created when an admin first changes it; until then the
defaults below apply (``policies.policy_for``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from workforce.db import Base, IdMixin, json_type, str_enum
from workforce.projects.models import ContentCategory

DEFAULT_SUPPORT_TEXT = (
    "Reviewing disturbing material can affect anyone. You can stop at any time, skip "
    "a task, or flag it. If you feel overwhelmed, talk to someone: the organisation's "
    "wellbeing contact, a counsellor, or, in an emergency, your local emergency number."
)


class WellbeingPolicy(Base):
    """Limits on exposure and the support an organisation offers (defaults in brackets).

    - ``graphic_daily_minutes`` (240): graphic work per trainer per local day;
    - ``weekly_exposure_minutes`` (1200): sensitive and graphic work per local week;
    - ``break_after_minutes`` (60) of continuous exposure require ``break_minutes`` (10)
      away from it; exposure with gaps shorter than the break counts as continuous;
    - ``graphic_cutoff_hour`` (none): no graphic work from this local hour to midnight;
    - ``rotation_after_minutes`` (90) of exposure in a row: non-sensitive work is
      offered first;
    - ``checkin_after_minutes`` (120) of exposure since the last check-in: the trainer
      is asked to check in;
    - support: ``support_text``, ``support_links`` ([{"label", "url"}]) and
      ``support_line`` (a 24/7 line), shown with every flag; ``wellbeing_contact_id``
      receives support cases (the admins when unset);
    - counselling allowance: after ``counselling_after_minutes`` of exposure in a
      calendar month, ``counselling_amount`` of ``counselling_currency`` is posted to
      the trainer's earnings (off when unset);
    - ``min_group_size`` (5): aggregated figures over fewer trainers are suppressed.
    """

    __tablename__ = "wellbeing_policies"
    __table_args__ = (
        CheckConstraint("graphic_daily_minutes BETWEEN 0 AND 1440",
                        name="graphic_daily_minutes_range"),
        CheckConstraint("weekly_exposure_minutes BETWEEN 0 AND 10080",
                        name="weekly_exposure_minutes_range"),
        CheckConstraint("break_after_minutes > 0 AND break_minutes >= 0",
                        name="break_positive"),
        CheckConstraint("graphic_cutoff_hour IS NULL OR graphic_cutoff_hour BETWEEN 0 AND 23",
                        name="cutoff_hour_range"),
        CheckConstraint(
            "(counselling_amount IS NULL) = (counselling_currency IS NULL) "
            "AND (counselling_amount IS NULL) = (counselling_after_minutes IS NULL)",
            name="counselling_complete",
        ),
        CheckConstraint("min_group_size >= 2", name="min_group_size_floor"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True
    )
    graphic_daily_minutes: Mapped[int] = mapped_column(default=240)
    weekly_exposure_minutes: Mapped[int] = mapped_column(default=1200)
    break_after_minutes: Mapped[int] = mapped_column(default=60)
    break_minutes: Mapped[int] = mapped_column(default=10)
    graphic_cutoff_hour: Mapped[int | None]
    rotation_after_minutes: Mapped[int] = mapped_column(default=90)
    checkin_after_minutes: Mapped[int] = mapped_column(default=120)
    support_text: Mapped[str] = mapped_column(Text, default=DEFAULT_SUPPORT_TEXT)
    support_links: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), default=list)
    support_line: Mapped[str] = mapped_column(String(200), default="")
    wellbeing_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    counselling_after_minutes: Mapped[int | None]
    counselling_amount: Mapped[int | None]
    counselling_currency: Mapped[str | None] = mapped_column(String(3))
    min_group_size: Mapped[int] = mapped_column(default=5)
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


# --- consent to sensitive content ------------------------------------------------------


class AgeAttestation(Base):
    """A trainer's statement that they are 18 or over: made once, with its time. No
    category of sensitive content can be consented to without it."""

    __tablename__ = "age_attestations"

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    attested_at: Mapped[datetime]


class ContentConsent(IdMixin, Base):
    """A trainer's opt-in to one category of sensitive content, from ``given_at`` until
    ``withdrawn_at``. Rows are history: consenting again after a withdrawal adds a row,
    and at most one row per trainer and category is live (a partial unique index)."""

    __tablename__ = "content_consents"
    __table_args__ = (
        Index(
            "uq_content_consents_one_live", "trainer_id", "category", unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        CheckConstraint("withdrawn_at IS NULL OR withdrawn_at >= given_at",
                        name="withdrawn_after_given"),
    )

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    category: Mapped[ContentCategory] = mapped_column(str_enum(ContentCategory))
    given_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
