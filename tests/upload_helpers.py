"""Helpers for the upload tests: audio made here with the standard library's ``wave``
(never fetched), a PDF to disguise as a recording, the S3-compatible server (moto in
server mode, started by the tests themselves) and calling an upload slot's URL on
either backend."""

from __future__ import annotations

import hashlib
import io
import math
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import wave
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.client import ApiClient
from tests.task_helpers import API, answered
from workforce.accounts.models import User
from workforce.projects.models import Project
from workforce.uploads.links import FileAccess

# A tiny but real PDF: what a "recording" named clip.wav may really be.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages"
       b"/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def wav(seconds: float, *, rate: int = 16_000, channels: int = 1) -> bytes:
    """A 440 Hz tone, 16-bit PCM."""
    frames = int(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        sample = (struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                  for n in range(frames))
        w.writeframes(b"".join(s * channels for s in sample))
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the S3-compatible server ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """``python -m moto.server`` on a free loopback port, until the block ends; its
    address. Credentials are moto's anything-goes test ones, for boto3's chain."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="moto-test", AWS_SECRET_ACCESS_KEY="moto-test")
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("moto server stopped at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start within a minute")


# --- the upload flow through the API ------------------------------------------------------


def slot_for(client: ApiClient, trainer: User, assignment_id: Any, data: bytes, *,
             field: str = "reading", size: int | None = None, status: int = 201) -> dict:
    return answered(client.post(
        f"{API}/me/assignments/{assignment_id}/uploads", as_user=trainer,
        json={"field": field, "size": len(data) if size is None else size,
              "sha256": sha256(data)}), status)


def put(client: ApiClient, files: FileAccess, slot: dict, data: bytes) -> tuple[int, Any]:
    """PUT the bytes to the slot's URL, as a client would: the service's own endpoint
    (through the test client) or the object store (over HTTP); the status and, from the
    service, its JSON answer."""
    if slot["url"].startswith(files.base_url):
        response = client.request("PUT", slot["url"][len(files.base_url):], data=data,
                                  headers=slot["headers"])
        return response.status_code, response.get_json()
    request = urllib.request.Request(slot["url"], data=data, method="PUT",  # noqa: S310
                                     headers=slot["headers"])
    try:
        with urllib.request.urlopen(request) as answer:  # noqa: S310 - the test's server
            return answer.status, None
    except urllib.error.HTTPError as error:
        return error.code, None


def fetch(client: ApiClient, files: FileAccess, url: str) -> tuple[int, bytes]:
    """GET a download link, following the object store's redirect as a browser would."""
    response = client.get(url[len(files.base_url):])
    if response.status_code != 302:
        return response.status_code, response.get_data()
    try:
        with urllib.request.urlopen(response.headers["Location"]) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def recording_project(client: ApiClient, manager: User, project: Project, *,
                      settings: dict[str, Any] | None = None, retention_days: int = 30
                      ) -> None:
    """Give the project a template with one recording field and a recording policy."""
    field = {"name": "reading", "label": "Read the sentences aloud", "kind": "recording",
             "settings": settings or {"types": ["wav", "flac"], "min_seconds": 1,
                                      "max_seconds": 5, "min_sample_rate": 16_000,
                                      "max_bytes": 400_000}}
    answered(client.request("PUT", f"{API}/projects/{project.id}/template", as_user=manager,
                            json={"fields": [field]}), 201)
    answered(client.request("PUT", f"{API}/projects/{project.id}/recording-policy",
                            as_user=manager, json={
                                "what_is_recorded": "Your voice reading five sentences.",
                                "purpose": "Training a Cantonese speech recogniser.",
                                "retention_days": retention_days}))


def consent(client: ApiClient, trainer: User, project: Project) -> dict:
    return answered(client.request("PUT", f"{API}/projects/{project.id}/recording-consent",
                                   as_user=trainer))


def new_id() -> str:
    return str(uuid.uuid4())


def png(width: int = 2, height: int = 2) -> bytes:
    """A small grey PNG, made with zlib."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
