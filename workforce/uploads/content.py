"""What an uploaded file really is, read from its bytes, and whether a field takes it.

The type is sniffed from the bytes (``filetype``: magic numbers), never taken from a
name or a header; audio's duration and sample rate are read from the file itself
(``mutagen``, which parses WAV, FLAC, Ogg Vorbis/Opus and MP3 headers). Every problem
names the field setting it breaks (``max_bytes``, ``max_seconds``, ...).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import filetype
import mutagen

# The types a field may allow, by the name a manager writes, with their media type.
AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg",
               "mp3": "audio/mpeg"}
FILE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp",
              "pdf": "application/pdf"}
MEDIA_TYPES = {**AUDIO_TYPES, **FILE_TYPES}
# filetype's names where they differ from ours.
_SNIFFED = {"jpg": "jpeg"}


@dataclass(frozen=True)
class Content:
    type: str | None  # one of MEDIA_TYPES' names; None: not a type we know
    size: int
    sha256: str
    duration_ms: int | None = None
    sample_rate: int | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.type or "", "application/octet-stream")


def extension_of(media_type: str | None) -> str:
    """The name a file of this media type is given (``bin`` for one we do not know)."""
    return next((name for name, media in MEDIA_TYPES.items() if media == media_type), "bin")


def read(data: bytes) -> Content:
    guessed = filetype.guess(data)
    name = _SNIFFED.get(guessed.extension, guessed.extension) if guessed else None
    content = Content(name if name in MEDIA_TYPES else None, len(data),
                      hashlib.sha256(data).hexdigest())
    if content.type in AUDIO_TYPES:
        return _with_audio(content, data)
    return content


def _with_audio(content: Content, data: bytes) -> Content:
    try:
        audio = mutagen.File(io.BytesIO(data))
    except mutagen.MutagenError:
        audio = None
    info = getattr(audio, "info", None)
    length, rate = getattr(info, "length", None), getattr(info, "sample_rate", None)
    if not length or not rate:
        return content
    return Content(content.type, content.size, content.sha256,
                   duration_ms=round(length * 1000), sample_rate=int(rate))


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB ({size} bytes)"


def problems(content: Content, kind: str, settings: dict[str, Any], *,
             declared_size: int, declared_sha256: str) -> list[str]:
    """Why a ``kind`` field with these settings refuses the content (empty: it takes
    it), checked against the size and checksum announced for the upload."""
    found = []
    allowed = settings["types"]
    if content.type not in allowed:
        what = f"a {content.type} file" if content.type else "not a file type we accept"
        found.append(f"The file is {what}, read from its content (whatever its name); "
                     f"this field takes {', '.join(allowed)} (types).")
    if content.size > settings["max_bytes"]:
        found.append(f"The file is {_megabytes(content.size)}; this field takes at most "
                     f"{_megabytes(settings['max_bytes'])} (max_bytes).")
    if content.size != declared_size:
        found.append(f"The file is {content.size} bytes, not the {declared_size} announced "
                     "for this upload (size).")
    if content.sha256 != declared_sha256:
        found.append("The file's SHA-256 is not the one announced for this upload (sha256).")
    if kind == "recording" and content.type in allowed:
        found.extend(_audio_problems(content, settings))
    return found


def _audio_problems(content: Content, settings: dict[str, Any]) -> list[str]:
    if content.duration_ms is None or content.sample_rate is None:
        return [f"The {content.type} file could not be read as audio (types)."]
    found = []
    seconds = content.duration_ms / 1000
    if seconds < settings["min_seconds"]:
        found.append(f"The recording lasts {seconds:g} s; this field needs at least "
                     f"{settings['min_seconds']:g} s (min_seconds).")
    if seconds > settings["max_seconds"]:
        found.append(f"The recording lasts {seconds:g} s; this field takes at most "
                     f"{settings['max_seconds']:g} s (max_seconds).")
    low = settings["min_sample_rate"]
    if low is not None and content.sample_rate < low:
        found.append(f"The recording's sample rate is {content.sample_rate} Hz; this field "
                     f"needs at least {low} Hz (min_sample_rate).")
    return found
