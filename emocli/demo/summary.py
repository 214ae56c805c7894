"""Print the closing summary of ``make demo`` from an evaluation's ``metrics.json``.

python -m emocli.demo.summary emocli-work/reports/demo/metrics.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from emocli.demo.spec import DemoSpec


def summary_lines(metrics: dict) -> list[str]:
    """One line per evaluated input (accuracy, macro-F1), then fused vs the best single modality."""
    lines = [f"demo summary (split {metrics['inputs'][0]['split']}):"]
    for item in metrics["inputs"]:
        lines.append(
            f"  {item['name']:<16} {item['modality']:<6} {item['level']:<5} n={item['n']:<4} "
            f"accuracy {100 * item['accuracy']:5.1f} %   macro-F1 {100 * item['macro_f1']:5.1f} %"
        )
    fused = [i for i in metrics["inputs"] if i["name"].startswith("fused")]
    single = [
        i
        for i in metrics["inputs"]
        if i not in fused and (i["level"] == "clip" or i["modality"] == "audio")
    ]
    if fused and single:
        best = max(single, key=lambda i: i["accuracy"])
        gain = 100 * (fused[0]["accuracy"] - best["accuracy"])
        lines.append(f"  fused vs best single modality ({best['name']}): {gain:+.1f} points")
        if gain <= 0:
            lines += _why_fusion_did_not_help(single, best)
    return lines


def _why_fusion_did_not_help(single: list[dict], best: dict) -> list[str]:
    """Explain a fused accuracy not above the best single one: a weak other modality."""
    weakest = min(single, key=lambda i: i["accuracy"])
    chance = 100 / len(weakest["classes"])
    return [
        f"  fusion cannot beat {best['name']} here: {weakest['name']} is at "
        f"{100 * weakest['accuracy']:.1f} % (chance {chance:.1f} %), so it adds little but noise;",
        f"  on the demo's {DemoSpec().clips_train} training clips the voices' speaker and recording variation hides",
        "  their prosody (docs/results.md, section demo)",
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    metrics = json.loads(Path(args[0]).read_text())
    print("\n".join(summary_lines(metrics)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
