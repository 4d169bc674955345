"""Where data-export archives are kept: a small interface, with a local folder behind it.

``ExportStore`` is all the export service needs (save, read, delete by key); the local
backend keeps each archive as a file under ``WORKFORCE_DATA_EXPORT_DIR``. Another backend
(S3 with boto3) implements the same three methods and is chosen in
``store_from_settings``; nothing else changes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from workforce.settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class ExportStore(Protocol):
    def save(self, key: str, data: bytes) -> None: ...

    def read(self, key: str) -> bytes | None:
        """The stored bytes, or None when nothing is stored under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove what is stored under ``key``; nothing stored is not an error."""
        ...


class LocalExportStore:
    """Archives as files in one folder, made on the first save (building the store does
    no I/O). A file is written beside its final name and renamed, so a reader never
    meets half an archive."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        # Keys are made by the service from ids; refuse anything that could leave the folder.
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def save(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.chmod(partial, 0o600)
        partial.replace(path)

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def store_from_settings(settings: Settings) -> ExportStore:
    return LocalExportStore(settings.data_export_dir)
