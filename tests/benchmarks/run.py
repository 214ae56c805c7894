"""Run benchmark modules and splice their markdown sections into a document.

python -m tests.benchmarks.run --out docs/benchmarks.md             # bench_*.py
python -m tests.benchmarks.run --real --out docs/results.md         # real_*.py
python -m tests.benchmarks.run --real --only faces --out docs/results.md
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


@dataclass(frozen=True)
class BenchContext:
    """What a benchmark module gets: where the datasets are and a scratch workspace."""

    datasets: Path
    workdir: Path
    python: str = sys.executable


def splice(document: str, topic: str, section: str) -> str:
    """Replace (or append) the ``topic`` section of ``document``."""
    begin, end = f"<!-- BEGIN {topic} -->", f"<!-- END {topic} -->"
    block = f"{begin}\n{section.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(document):
        return pattern.sub(lambda _m: block, document)
    return document.rstrip() + "\n\n" + block + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", action="store_true", help="run real_*.py instead of bench_*.py")
    parser.add_argument("--only", action="append", default=[], help="topic(s) to run")
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--workdir", type=Path, default=Path("bench-work"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    prefix = "real_" if args.real else "bench_"
    topics = sorted(p.stem[len(prefix) :] for p in HERE.glob(f"{prefix}*.py"))
    if args.only:
        topics = [t for t in topics if t in args.only]
    ctx = BenchContext(args.datasets.resolve(), args.workdir.resolve())
    for topic in topics:
        module = importlib.import_module(f"tests.benchmarks.{prefix}{topic}")
        started = time.perf_counter()
        print(f"[bench] {topic} ...", flush=True)
        section = module.run(ctx)
        print(f"[bench] {topic} done in {time.perf_counter() - started:.0f} s", flush=True)
        # a topic may name its own document (DOCUMENT, relative to the project root)
        out = ROOT / module.DOCUMENT if hasattr(module, "DOCUMENT") else args.out
        # re-read: other sections may have been edited while this topic ran
        document = out.read_text() if out.exists() else ""
        document = splice(document, topic, section)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(document)  # after each topic: a long run keeps what it measured
        print(f"[bench] {topic} written to {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
