"""Write a bundled model's card (JSON) from the figures `emocli evaluate` measured.

    python mk/zoo_card.py NAME REPORT/metrics.json --training-data TEXT --terms TEXT \
        --limits TEXT --target zoo-face --flags-variable ZOO_FACE_FLAGS [--protocol TEXT]

The figures (accuracy, macro-F1, per-class F1, n) are copied from the report's first input
and the command from the make target and its flags (read from the environment, where
mk/zoo.mk exports them); nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

SUMMARIES = {
    "face": "7 emotions (angry, disgust, fear, happy, neutral, sad, surprise) from grey face crops",
    "voice": "RAVDESS's 8 emotions from 16 kHz speech (log-mel spectrograms)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(SUMMARIES))
    parser.add_argument("metrics", type=Path)
    for option in ("training-data", "terms", "limits", "target", "flags-variable"):
        parser.add_argument(f"--{option}", required=True)
    parser.add_argument("--protocol", default="")
    args = parser.parse_args()
    report = json.loads(args.metrics.read_text())
    flags = os.environ.get(args.flags_variable, "")
    first = report["inputs"][0]
    per_class = first["metrics"]["per_class"]
    figures = {
        "split": first["split"],
        "n": first["n"],
        "accuracy": round(100 * first["accuracy"], 2),
        "macro_f1": round(100 * first["macro_f1"], 2),
        "per_class_f1": {name: round(100 * v["f1"], 1) for name, v in per_class.items()},
    }
    if args.protocol:
        figures["protocol"] = args.protocol
    card = {
        "summary": SUMMARIES[args.name],
        "training_data": args.training_data,
        "terms": args.terms,
        "command": f"make {args.target} {args.flags_variable}={shlex.quote(flags)}",
        "figures": figures,
        "limits": args.limits,
        "classes": first["classes"],
    }
    json.dump(card, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
