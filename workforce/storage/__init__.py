"""The file store: where trainers' uploaded answers (recordings, images, PDFs) are kept.

``FileStore`` is the small interface the ``uploads`` services need: write, read and
delete by key, and, where the backend can let a client talk to it directly, a one-time
upload URL and a short-lived download URL. Two backends implement it: a folder on this
machine (``local``, the embedded default under ``var/files``; the service receives and
serves the bytes itself, through its own signed one-time links) and S3-compatible object
storage through ``boto3`` (``s3``: presigned PUT and GET, server-side encryption on).
``store_from_settings`` picks one; building a store does no I/O.

Keys are made by the services from ids (``KEY``); nothing ever lists the store.
"""

from __future__ import annotations

from workforce.settings import Settings
from workforce.storage.base import DirectUpload, FileStore, Stored, check_key
from workforce.storage.local import LocalFileStore

__all__ = ["DirectUpload", "FileStore", "LocalFileStore", "Stored", "check_key",
           "store_from_settings"]


def store_from_settings(settings: Settings) -> FileStore:
    if settings.file_store == "s3":
        from workforce.storage.s3 import S3FileStore

        return S3FileStore(bucket=settings.s3_bucket, prefix=settings.s3_prefix,
                           region=settings.s3_region or None,
                           endpoint_url=settings.s3_endpoint_url or None)
    return LocalFileStore(settings.file_store_dir)
