"""The S3 backend: S3-compatible object storage through ``boto3``.

Objects live under ``prefix`` in ``bucket`` and are written with server-side encryption
(``AES256``). Clients upload with a presigned PUT whose signature covers the length, the
SHA-256 checksum (S3 refuses other bytes), the encryption header and ``If-None-Match:
*`` (S3 refuses a second upload to the same key), and download with a presigned GET
that names the file. Credentials come from boto3's own chain (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, a profile, an instance role): never from our settings.
The client is made on first use, so building the store does no I/O.
"""

from __future__ import annotations

import base64
import functools
from datetime import timedelta
from typing import Any

from workforce.storage.base import DirectUpload, Stored, check_key

ENCRYPTION = "AES256"
# What a direct upload is stored as: its real type is read from the bytes at submit,
# and downloads name it.
UPLOAD_TYPE = "application/octet-stream"


class S3FileStore:
    def __init__(self, *, bucket: str, prefix: str = "", region: str | None = None,
                 endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region, self.endpoint_url = region, endpoint_url

    @functools.cached_property
    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        # Checksums only where we ask for them: a presigned URL must not carry one the
        # client cannot know (boto3 would add a CRC32 of an empty body by default).
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        return boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url,
                            config=config)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def write(self, key: str, data: bytes, *, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                               ContentType=content_type, ServerSideEncryption=ENCRYPTION)

    def read(self, key: str) -> Stored | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return Stored(answer["Body"].read(), answer["LastModified"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def direct_upload(self, key: str, *, size: int, sha256: bytes, lifetime: timedelta
                      ) -> DirectUpload | None:
        checksum = base64.b64encode(sha256).decode()
        params = {"Bucket": self.bucket, "Key": self._key(key), "ContentLength": size,
                  "ContentType": UPLOAD_TYPE, "ChecksumSHA256": checksum,
                  "ServerSideEncryption": ENCRYPTION, "IfNoneMatch": "*"}
        url = self.client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=int(lifetime.total_seconds()))
        return DirectUpload(url, {
            "Content-Type": UPLOAD_TYPE, "Content-Length": str(size),
            "x-amz-checksum-sha256": checksum,
            "x-amz-server-side-encryption": ENCRYPTION, "If-None-Match": "*",
        })

    def direct_download(self, key: str, *, filename: str, content_type: str,
                        lifetime: timedelta) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._key(key),
                  "ResponseContentType": content_type,
                  "ResponseContentDisposition": f'attachment; filename="{filename}"'}
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=int(lifetime.total_seconds()))
