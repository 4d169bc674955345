"""The local backend: files in a folder on this machine (``WORKFORCE_FILE_STORE_DIR``).

Made on the first write, files readable by the service's user only. A file is written
beside its final name and renamed, so a reader never meets half a file. The service
receives uploads and serves downloads itself (``direct_upload`` and ``direct_download``
answer None), through its own signed one-time links (``uploads.links``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workforce.storage.base import DirectUpload, Stored, check_key


class LocalFileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def write(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.chmod(partial, 0o600)
        partial.replace(path)

    def read(self, key: str) -> Stored | None:
        path = self._path(key)
        try:
            data, modified = path.read_bytes(), path.stat().st_mtime
        except FileNotFoundError:
            return None
        return Stored(data, datetime.fromtimestamp(modified, UTC))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def direct_upload(self, key: str, *, size: int, sha256: bytes, lifetime: timedelta
                      ) -> DirectUpload | None:
        return None

    def direct_download(self, key: str, *, filename: str, content_type: str,
                        lifetime: timedelta) -> str | None:
        return None
