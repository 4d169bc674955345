"""The task template of a project: its versions, each a list of typed answer fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workforce.db import Base, IdMixin, json_type


class TemplateVersion(IdMixin, Base):
    """One edition of a project's task template; the highest number is current. Work is
    checked and shown with the version in force when it was claimed."""

    __tablename__ = "project_templates"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    number: Mapped[int]
    # The fields as checked on save (``results.fields``), with their defaults filled in.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
