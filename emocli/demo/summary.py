"""Print the closing summary of ``make demo`` from an evaluation's ``metrics.json``.

python -m emocli.demo.summary emocli-work/reports/demo/metrics.json

One line per evaluated input, each placed against the range documented in docs/results.md
(section "The demo"), then one line per claim of the sources and whether this run shows it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scipy.stats import binomtest

#: Accuracy range (percent, lowest and highest) of each demo input on the val split over demo
#: seeds 0, 1 and 2, as measured for docs/results.md (section "The demo", an AVX2 CPU); the
#: run's figures are placed against it.
EXPECTED_RANGE: dict[str, tuple[float, float]] = {
    "video": (47.6, 60.7),
    "audio": (45.2, 54.8),
    "fused-svm": (59.5, 72.6),
    "sfew-gan": (48.4, 61.1),
}
#: A claim "above chance" holds when a one-sided binomial test rejects chance at this level.
CHANCE_P_VALUE = 0.001


def _is_fused(item: dict) -> bool:
    return bool(item["modality"] == "fused")


def _percent(item: dict) -> float:
    return 100.0 * float(item["accuracy"])


def _range_note(item: dict) -> str:
    """Where the input's accuracy falls against :data:`EXPECTED_RANGE`."""
    known = EXPECTED_RANGE.get(item["name"])
    if known is None:
        return ""
    low, high = known
    where = "within" if low - 0.05 <= _percent(item) <= high + 0.05 else "OUTSIDE"
    return f"  [{where} seeds 0-2: {low:.1f}-{high:.1f} %]"


def above_chance(item: dict) -> tuple[bool, float]:
    """Whether ``item``'s accuracy is above chance (1 / classes), and the test's p-value."""
    n = int(item["n"])
    hits = round(float(item["accuracy"]) * n)
    p = binomtest(hits, n, 1.0 / len(item["classes"]), alternative="greater").pvalue
    return p < CHANCE_P_VALUE, float(p)


def claim_lines(inputs: list[dict]) -> list[str]:
    """One line per claim of the sources, saying whether this run shows it."""
    lines = []
    fused = [i for i in inputs if _is_fused(i)]
    single = [i for i in inputs if not _is_fused(i) and i["level"] == "clip"]
    if fused and single:
        best = fused[0]
        shown = all(best["accuracy"] > s["accuracy"] for s in single)
        others = ", ".join(f"{s['name']} {_percent(s):.1f} %" for s in single)
        relation = ">" if shown else "is not above every one of"
        lines.append(
            f"  claim: fusion beats each modality (second source): {'shown' if shown else 'NOT shown'}"
            f" -- {best['name']} {_percent(best):.1f} % {relation} {others}"
        )
    for gan in (i for i in inputs if "gan" in i["name"]):
        shown, p = above_chance(gan)
        lines.append(
            f"  claim: the GAN's discriminator classifies faces it never saw (first source): "
            f"{'shown' if shown else 'NOT shown'} -- {gan['name']} {_percent(gan):.1f} % on "
            f"{gan['n']} {gan['split']} faces, chance {100 / len(gan['classes']):.1f} % "
            f"(binomial p = {p:.1e})"
        )
    return lines


def summary_lines(metrics: dict) -> list[str]:
    """One line per evaluated input (accuracy, macro-F1, the documented range), then the
    sources' claims."""
    inputs = metrics["inputs"]
    lines = [f"demo summary (split {inputs[0]['split']}):"]
    for item in inputs:
        lines.append(
            f"  {item['name']:<10} {item['modality']:<6} {item['level']:<5} n={item['n']:<4} "
            f"accuracy {_percent(item):5.1f} %  macro-F1 {100 * item['macro_f1']:5.1f} %"
            + _range_note(item)
        )
    return lines + claim_lines(inputs)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    metrics = json.loads(Path(args[0]).read_text())
    print("\n".join(summary_lines(metrics)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
