"""The file store's interface: what every backend implements (``workforce.storage``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,3}$")


def check_key(key: str) -> str:
    """The key, if the services could have made it; ``ValueError`` otherwise (nothing
    may reach outside the store's folder or prefix)."""
    if not KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


@dataclass(frozen=True)
class DirectUpload:
    """Where a client puts the bytes itself: a presigned PUT and the headers it must
    send with it (they are part of the signature)."""

    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Stored:
    data: bytes
    # When the bytes were written, by the store's clock: a direct upload that arrived
    # after its slot expired is refused even by a server that does not check.
    modified_at: datetime


class FileStore(Protocol):
    def write(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def read(self, key: str) -> Stored | None:
        """The stored bytes, or None when nothing is stored under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove what is stored under ``key``; nothing stored is not an error."""
        ...

    def direct_upload(self, key: str, *, size: int, sha256: bytes, lifetime: timedelta
                      ) -> DirectUpload | None:
        """A one-time upload URL for exactly ``size`` bytes with this SHA-256, working
        for ``lifetime``; None when the service receives uploads itself."""
        ...

    def direct_download(self, key: str, *, filename: str, content_type: str,
                        lifetime: timedelta) -> str | None:
        """A download URL working for ``lifetime``; None when the service serves the
        bytes itself."""
        ...
