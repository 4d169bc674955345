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

from workforce.i18n import _

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
    return f"{size / 1_000_000:.2f}"


def problems(content: Content, kind: str, settings: dict[str, Any], *,
             declared_size: int, declared_sha256: str) -> list[str]:
    """Why a ``kind`` field with these settings refuses the content (empty: it takes
    it), checked against the size and checksum announced for the upload."""
    found = []
    allowed = settings["types"]
    if content.type not in allowed:
        found.append(_type_problem(content, allowed))
    if content.size > settings["max_bytes"]:
        found.append(_("The file is %(megabytes)s MB (%(size)s bytes); this field takes at "
                       "most %(max_megabytes)s MB (%(max_bytes)s bytes) (max_bytes).",
                       megabytes=_megabytes(content.size), size=content.size,
                       max_megabytes=_megabytes(settings["max_bytes"]),
                       max_bytes=settings["max_bytes"]))
    if content.size != declared_size:
        found.append(_("The file is %(size)s bytes, not the %(declared_size)s announced for "
                       "this upload (size).", size=content.size, declared_size=declared_size))
    if content.sha256 != declared_sha256:
        found.append(_("The file's SHA-256 is not the one announced for this upload "
                       "(sha256)."))
    if kind == "recording" and content.type in allowed:
        found.extend(_audio_problems(content, settings))
    return found


def _type_problem(content: Content, allowed: list[str]) -> str:
    if content.type:
        return _("The file is a %(type)s file, read from its content (whatever its name); "
                 "this field takes %(types)s (types).", type=content.type,
                 types=", ".join(allowed))
    return _("The file is not a file type we accept, read from its content (whatever its "
             "name); this field takes %(types)s (types).", types=", ".join(allowed))


def _audio_problems(content: Content, settings: dict[str, Any]) -> list[str]:
    if content.duration_ms is None or content.sample_rate is None:
        return [_("The %(type)s file could not be read as audio (types).", type=content.type)]
    found = []
    seconds = content.duration_ms / 1000
    shown, least, most = (f"{value:g}" for value in (
        seconds, settings["min_seconds"], settings["max_seconds"]))
    if seconds < settings["min_seconds"]:
        found.append(_("The recording lasts %(seconds)s s; this field needs at least "
                       "%(min_seconds)s s (min_seconds).", seconds=shown, min_seconds=least))
    if seconds > settings["max_seconds"]:
        found.append(_("The recording lasts %(seconds)s s; this field takes at most "
                       "%(max_seconds)s s (max_seconds).", seconds=shown, max_seconds=most))
    low = settings["min_sample_rate"]
    if low is not None and content.sample_rate < low:
        found.append(_("The recording's sample rate is %(sample_rate)s Hz; this field needs "
                       "at least %(min_sample_rate)s Hz (min_sample_rate).",
                       sample_rate=content.sample_rate, min_sample_rate=low))
    return found
