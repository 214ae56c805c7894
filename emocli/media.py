"""Opening media files with PyAV (FFmpeg inside the wheel), with short, storable reasons.

Audio (:mod:`emocli.audio.decode`) and video (:mod:`emocli.video`) decoding share the same
checks before the first frame: the file exists, is not empty, and FFmpeg can open it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emocli.errors import InputError


class MediaDecodeError(InputError):
    """A media file cannot be used; ``reason`` is the short text stored in ``rejects/``."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def ffmpeg_message(exc: BaseException) -> str:
    """The first clause of an FFmpeg/OS error message (``Invalid data found ...``)."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def open_media(path: Path, error: type[MediaDecodeError], what: str = "media") -> Any:
    """Open ``path`` with PyAV; raise ``error(path, reason)`` if it is unreadable or empty.

    what : the kind of file named in the reason ("media", "video").
    Returns the open ``av`` input container (use it as a context manager).
    """
    import av

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise error(path, f"cannot read file ({exc.strerror})") from exc
    if size == 0:
        raise error(path, "empty file (0 bytes)")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise error(path, f"not a readable {what} file ({ffmpeg_message(exc)})") from exc
