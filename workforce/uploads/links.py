"""The file store with what the upload services need around it: the one-time links the
service hands out for its own endpoints (signed with the secret key, so they cannot be
made up or altered) and how long slots and links work. Built once in the app factory
(``Services.files``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from workforce.settings import Settings
from workforce.storage import FileStore, store_from_settings

UPLOAD_PATH = "/api/v1/upload-slots/"
DOWNLOAD_PATH = "/api/v1/files/"


@dataclass(frozen=True)
class FileAccess:
    store: FileStore
    secret: str
    base_url: str
    slot_lifetime: timedelta
    link_lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> FileAccess:
        return cls(store_from_settings(settings), settings.effective_secret_key,
                   settings.public_base_url.rstrip("/"), settings.upload_slot_lifetime,
                   settings.download_link_lifetime)

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=f"workforce.uploads.{purpose}")

    def sign(self, purpose: str, value: Any) -> str:
        return str(self._serializer(purpose).dumps(value))

    def unsign(self, purpose: str, token: str) -> Any | None:
        """What was signed for ``purpose``; None for a token we did not make."""
        try:
            return self._serializer(purpose).loads(token)
        except BadSignature:
            return None

    def upload_url(self, token: str) -> str:
        return self.base_url + UPLOAD_PATH + token

    def download_url(self, token: str) -> str:
        return self.base_url + DOWNLOAD_PATH + token
