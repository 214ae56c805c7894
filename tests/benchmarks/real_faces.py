"""preprocess-faces on the shared real datasets: how many faces are found, aligned, kept whole.

    python -m tests.benchmarks.run --real --only faces --out docs/results.md

Each dataset is run with the defaults, exactly as ``emocli preprocess-faces <folder>`` would
(``--on-miss auto``: pre-cropped sets keep the whole image when no face is found, so
"detected" below counts only the faces the Haar cascade found).
"""

from __future__ import annotations

import os
import time
from typing import Any

from tests.benchmarks.run import BenchContext

#: (dataset path under the datasets folder, what it is, acceptance threshold on "detected")
DATASETS: tuple[tuple[str, str, float | None], ...] = (
    ("utkface_unlabeled", "UTKFace, 200x200 aligned crops", 0.95),
    ("ckplus48", "CK+48, 48x48 crops (upscaled before detection)", 0.98),
    ("sfew2/Train", "SFEW 2.0 Train, organiser-aligned 143x181 crops", None),
    ("fer2013_sample.csv", "FER2013 native CSV sample, 48x48", None),
    ("ravdess_av_sample", "RAVDESS clip, 1280x720 video at 5 fps", 0.95),
)


def _row(name: str, what: str, target: float | None, s: dict[str, Any], seconds: float) -> str:
    read = sum(r["read"] for r in s["table"]) or 1
    detected = sum(r["detected"] for r in s["table"])
    aligned = sum(r["eye-aligned"] for r in s["table"])
    whole = sum(r["kept-whole"] for r in s["table"])
    verdict = "" if target is None else (" ✅" if detected / read >= target else " ❌")
    goal = "" if target is None else f" (goal ≥ {target:.0%})"
    return (
        f"| `{name}` | {what} | {read} | {detected} ({detected / read:.1%}){goal}{verdict} | "
        f"{aligned} ({aligned / read:.1%}) | {whole} ({whole / read:.1%}) | {s['rejected']} | "
        f"{seconds:.0f} |"
    )


def run(ctx: BenchContext) -> str:
    from stages.preprocess_faces import PreprocessFacesParams
    from stages.preprocess_faces import run as preprocess

    rows, commands, notes = [], [], []
    for name, what, target in DATASETS:
        source = ctx.datasets / name
        if not source.exists():
            notes.append(f"- `{name}`: not found, skipped")
            continue
        out = ctx.workdir / "faces-real" / f"{name.replace('/', '-').removesuffix('.csv')}.h5"
        started = time.perf_counter()
        result = preprocess(PreprocessFacesParams(workers=0), source, out, force=True)
        seconds = time.perf_counter() - started
        s = result.summary
        rows.append(_row(name, what, target, s, seconds))
        commands.append(f"emocli preprocess-faces ../shared/datasets/{name}")
        reasons = ", ".join(f"{k}: {v}" for k, v in s["reasons"].items()) or "none"
        notes.append(
            f"- `{name}`: {s['faces']} faces from {s['inputs']} inputs ({s['format']}, "
            f"{s['layout']}; on miss: {s['on_miss']}); statuses {s['status']}; rejects: {reasons}"
        )
    return "\n".join(
        [
            "## Faces found by preprocess-faces (faces)",
            "",
            "Default parameters (64x64, CLAHE 2.0 / 8x8 tiles, Haar frontal face with "
            "`minNeighbors` 3, eye alignment on), all cores "
            f"({os.cpu_count()}), a machine shared with other jobs (times are indicative). "
            "*Detected*: the Haar face cascade found the face (methodology 1); *eye-aligned*: "
            "methodology 2 also found a plausible eye pair; *kept whole*: no face found, the "
            "whole (pre-cropped) image kept (`--on-miss auto`). Percentages are of the "
            "inputs read (video: of the sampled frames).",
            "",
            "| dataset | what | read | detected | eye-aligned | kept whole | rejected | s |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            *notes,
            "",
            "Commands (the same runs, one by one):",
            "",
            "```",
            *commands,
            "```",
            "",
            "Regenerate this section with "
            "`python -m tests.benchmarks.run --real --only faces --out docs/results.md`. "
            "Throughput (1 and 2 workers against a bare-OpenCV loop) and peak memory at 1,000 "
            "vs 8,000 images: [docs/benchmarks.md](benchmarks.md), section preprocess-faces.",
        ]
    )
