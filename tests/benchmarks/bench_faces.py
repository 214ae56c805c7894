"""preprocess-faces throughput and memory on real images (``utkface_unlabeled``).

* images/s of the stage with 1 and 2 workers on 1,000 images, and of the same per-image work
  written as a bare OpenCV loop in one process (the reference: decode, CLAHE, pad + upscale,
  Haar face, Haar eyes, warp or crop) -- the stage's own cost is the difference;
* peak RSS of ``emocli preprocess-faces`` (one worker, so all the work is in the measured
  process) on 1,000 and on 8,000 images: streaming keeps it flat.

    python -m tests.benchmarks.run --only faces --out docs/benchmarks.md
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tests.benchmarks.run import BenchContext

DATASET = "utkface_unlabeled"
N_SPEED = 1000
N_MEMORY = (1000, 8000)


def _link_first(src: Path, dst: Path, n: int) -> list[Path]:
    """A folder of symlinks to the first ``n`` images of ``src`` (sorted), for exact counts."""
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in {".jpg", ".png"})[:n]
    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        link = dst / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    return files


def bare_opencv(paths: list[Path], size: int = 64) -> np.ndarray:
    """The per-image work of preprocess-faces' defaults as plain OpenCV calls, one thread."""
    from emocli.faces.detect import cascade_folder

    cv2.setNumThreads(1)
    face_cascade = cv2.CascadeClassifier(
        str(cascade_folder() / "haarcascade_frontalface_default.xml")
    )
    fallback = cv2.CascadeClassifier(str(cascade_folder() / "haarcascade_frontalface_alt2.xml"))
    eye_cascade = cv2.CascadeClassifier(str(cascade_folder() / "haarcascade_eye.xml"))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    out = np.empty((len(paths), size, size), np.uint8)
    for k, path in enumerate(paths):
        raw = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        grey = clahe.apply(raw)
        h, w = grey.shape
        min_side = max(24, int(0.1 * min(h, w)))
        if max(h, w) < 256:  # pre-cropped: pad and upscale
            border = round(0.25 * max(h, w))
            scale = 256 / max(h, w)
            grey, raw = (
                cv2.resize(
                    cv2.copyMakeBorder(img, *(border,) * 4, cv2.BORDER_REPLICATE),
                    None,
                    fx=scale,
                    fy=scale,
                    interpolation=cv2.INTER_LINEAR,
                )
                for img in (grey, raw)
            )
            min_side = max(24, int(0.3 * min(h, w) * scale))
        faces: Any = ()
        for cascade in (face_cascade, fallback):  # equalised, then raw; then the fallback cascade
            for image in (grey, raw):
                faces = cascade.detectMultiScale(image, 1.1, 3, minSize=(min_side, min_side))
                if len(faces):
                    break
            if len(faces):
                break
        if len(faces):
            x, y, fw, fh = max(faces, key=lambda f: f[2] * f[3])
        else:
            x, y, fw, fh = 0, 0, grey.shape[1], grey.shape[0]
        roi = cv2.resize(grey[y : y + fh, x : x + fw], (160, 160), interpolation=cv2.INTER_AREA)
        eyes = eye_cascade.detectMultiScale(roi[16:104], 1.1, 2, minSize=(16, 16), maxSize=(64, 64))
        if len(eyes) >= 2:
            (ax, ay, aw, _), (bx, by, bw, _) = sorted(eyes, key=lambda e: e[0])[:2]
            k_ = fw / 160
            left = (x + (ax + aw / 2) * k_, y + (16 + ay + aw / 2) * k_)
            right = (x + (bx + bw / 2) * k_, y + (16 + by + bw / 2) * k_)
            angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
            scale = 0.4 * size / max(1.0, math.dist(left, right))
            centre = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)
            matrix = cv2.getRotationMatrix2D(centre, angle, scale)
            matrix[:, 2] += (size / 2 - centre[0], 0.36 * size - centre[1])
            out[k] = cv2.warpAffine(grey, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
        else:
            out[k] = cv2.resize(roi, (size, size), interpolation=cv2.INTER_AREA)
    return out


def _stage_speed(folder: Path, out: Path, workers: int) -> float:
    from stages.preprocess_faces import PreprocessFacesParams, run

    started = time.perf_counter()
    run(PreprocessFacesParams(workers=workers), folder, out, force=True)
    return time.perf_counter() - started


def _peak_rss_mib(ctx: BenchContext, source: Path, limit: int, out: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and wall time of one ``emocli preprocess-faces`` process (os.wait4)."""
    command = [ctx.python, "-m", "emocli.cli", "preprocess-faces", str(source), "-j", "1"]
    command += ["--limit", str(limit), "-o", str(out), "--force"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds  # Linux: KiB


def run(ctx: BenchContext) -> str:
    src = ctx.datasets / DATASET
    title = "## preprocess-faces (faces)"
    if not src.is_dir():
        return f"{title}\n\nskipped: {src} not found."
    work = ctx.workdir / "faces"
    folder = work / f"utk{N_SPEED}"
    paths = _link_first(src, folder, N_SPEED)

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    bare_opencv(paths)
    reference = time.perf_counter() - started
    one = _stage_speed(folder, work / "w1.h5", 1)
    two = _stage_speed(folder, work / "w2.h5", 2)
    memory = {n: _peak_rss_mib(ctx, src, n, work / f"rss{n}.h5") for n in N_MEMORY}
    load_after = os.getloadavg()[0]

    n = len(paths)
    lines = [
        title,
        "",
        f"{n} real images of `{DATASET}` (200x200 RGB) -> 64x64 grey faces with the default "
        f"parameters (CLAHE, Haar face after padding and upscaling, Haar eyes, alignment), "
        f"{os.cpu_count()} cores; 1-minute load average {load_before:.1f} at the start, "
        f"{load_after:.1f} at the end (a load above the benchmark's own 1-2 processes means "
        "other jobs competed for the cores; worker scaling is only meaningful on an idle "
        "machine). Regenerate with "
        "`python -m tests.benchmarks.run --only faces --out docs/benchmarks.md`.",
        "",
        "| run | images/s | vs bare OpenCV |",
        "|---|---:|---:|",
        f"| bare OpenCV loop, 1 process, 1 thread (reference) | {n / reference:.1f} | 1.00 |",
        f"| `preprocess-faces --workers 1` | {n / one:.1f} | {reference / one:.2f} |",
        f"| `preprocess-faces --workers 2` | {n / two:.1f} | {reference / two:.2f} |",
        "",
        f"2 workers / 1 worker: **{one / two:.2f}x**; 1 worker / bare loop: "
        f"**{reference / one:.2f}** (1.00 = no overhead). The stage timings include listing and "
        "fingerprinting the folder, writing the HDF5 artifact and the preview.",
        "",
        "| images | peak RSS (MiB) | wall (s) |",
        "|---:|---:|---:|",
        *(f"| {k} | {rss:.0f} | {sec:.0f} |" for k, (rss, sec) in memory.items()),
        "",
        f"Peak RSS at {N_MEMORY[1]} / at {N_MEMORY[0]} images: "
        f"**{memory[N_MEMORY[1]][0] / memory[N_MEMORY[0]][0]:.2f}x** "
        "(`emocli preprocess-faces utkface_unlabeled -j 1 --limit N`, measured with `os.wait4`).",
    ]
    return "\n".join(lines)
