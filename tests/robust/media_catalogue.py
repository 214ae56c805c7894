"""A catalogue of broken and odd media files, written into class folders a stage can read.

:func:`write_catalogue` makes ``images/<Class>/``, ``videos/<Class>/`` and ``audio/<Class>/``
under a root and returns ``{folder: [file names]}``. Good files come from the tiny demo data
(a face still, a clip); the rest are generated here: truncated, zero-byte and mislabelled
files, 16-bit, RGBA, CMYK, 1-pixel and 20k x 20k-header images, a video without audio, audio
without video, audio without samples, NaN audio and 6-channel 96 kHz audio.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf
from PIL import Image

CLASS = "Happy"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels but holds almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _images(folder: Path, good: Path) -> None:
    face = cv2.imread(str(good), cv2.IMREAD_COLOR)
    shutil.copy(good, folder / "good face.png")
    data = good.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    (folder / "zero bytes.png").write_bytes(b"")
    (folder / "text named png.png").write_text("this is not an image\n")
    cv2.imwrite(str(folder / "jpeg named png.png"), face)  # PNG data ...
    shutil.move(folder / "jpeg named png.png", folder / "png named jpeg.jpg")  # ... named .jpg
    cv2.imwrite(str(folder / "sixteen bit.png"), (face.astype(np.uint16) * 257))
    rgba = cv2.cvtColor(face, cv2.COLOR_BGR2BGRA)
    rgba[..., 3] = 128
    cv2.imwrite(str(folder / "rgba.png"), rgba)
    Image.fromarray(face[..., ::-1]).convert("CMYK").save(folder / "cmyk.jpg")
    cv2.imwrite(str(folder / "one pixel.png"), face[:1, :1])
    (folder / "huge header.png").write_bytes(huge_png_header())
    cv2.imwrite(str(folder / "float tiff.tiff"), face.astype(np.float32) / 255)
    cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "blank.png"), np.zeros_like(face))


def _videos(folder: Path, good: Path, wav: Path) -> None:
    shutil.copy(good, folder / "good clip.mp4")
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "zero bytes.mp4").write_bytes(b"")
    (folder / "text named avi.avi").write_text("not a video\n")
    writer = cv2.VideoWriter(
        str(folder / "no audio.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (96, 96)
    )
    for i in range(5):
        writer.write(np.full((96, 96, 3), 40 * i, np.uint8))
    writer.release()
    shutil.copy(wav, folder / "audio only.mp4")  # audio without video (a WAV named .mp4)


def _audio(folder: Path) -> Path:
    rate = 16_000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(folder / "good tone.wav", tone, rate)
    sf.write(folder / "no samples.wav", np.zeros(0, np.float32), rate)
    nan = tone.copy()
    nan[::7] = np.nan
    sf.write(folder / "nan.wav", nan, rate, subtype="FLOAT")
    hi = np.tile((0.2 * np.sin(2 * np.pi * 440 * np.arange(96_000) / 96_000))[:, None], (1, 6))
    sf.write(folder / "six channels 96k.wav", hi.astype(np.float32), 96_000)
    data = (folder / "good tone.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(data[: len(data) // 5])
    (folder / "zero bytes.wav").write_bytes(b"")
    (folder / "text named mp3.mp3").write_text("not audio\n")
    sf.write(folder / "one sample.wav", tone[:1], rate)
    sf.write(folder / "silence.flac", np.zeros(rate, np.float32), rate)
    return folder / "good tone.wav"


def write_catalogue(root: Path, demo_data: Path) -> dict[str, list[str]]:
    """Write the catalogue under ``root``; returns the file names per kind of folder."""
    still = next(iter(sorted((demo_data / "sfew").rglob("*.png"))))
    clip = next(iter(sorted((demo_data / "afew").rglob("*.mp4"))))
    folders = {kind: root / kind / CLASS for kind in ("images", "videos", "audio")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    wav = _audio(folders["audio"])
    _images(folders["images"], still)
    _videos(folders["videos"], clip, wav)
    return {kind: sorted(p.name for p in folder.iterdir()) for kind, folder in folders.items()}
