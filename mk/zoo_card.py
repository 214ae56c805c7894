"""Write a bundled model's card (JSON) from the figures `emocli evaluate` measured.

    python mk/zoo_card.py NAME REPORT/metrics.json --training-data TEXT --terms TEXT \
        --limits TEXT --target zoo-face --flags-variable ZOO_FACE_FLAGS [--protocol TEXT] \
        [--int8-metrics REPORT-INT8/metrics.json]

The figures (accuracy, macro-F1, per-class F1, n) are copied from the report's first input
(with ``--int8-metrics``, those of the int8 graph that predict runs by default under
``figures.int8``) and the command from the make target and its flags (read from the
environment, where mk/zoo.mk exports them), with the parameters of the recipe file that a
``--config`` among them names (``recipe``); nothing is typed by hand.
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


def _figures(first: dict) -> dict:
    """split, n, accuracy, macro-F1 (%) and per-class F1 of one input of an evaluate report."""
    per_class = first["metrics"]["per_class"]
    return {
        "split": first["split"],
        "n": first["n"],
        "accuracy": round(100 * first["accuracy"], 2),
        "macro_f1": round(100 * first["macro_f1"], 2),
        "per_class_f1": {name: round(100 * v["f1"], 1) for name, v in per_class.items()},
    }


def _recipe(flags: str) -> dict:
    """The parameters of the recipe file named by ``--config`` in ``flags`` (empty without)."""
    import tomllib

    words = shlex.split(flags)
    if "--config" not in words[:-1]:
        return {}
    path = Path(words[words.index("--config") + 1])
    return {"file": str(path), **tomllib.loads(path.read_text(encoding="utf-8"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(SUMMARIES))
    parser.add_argument("metrics", type=Path)
    for option in ("training-data", "terms", "limits", "target", "flags-variable"):
        parser.add_argument(f"--{option}", required=True)
    parser.add_argument("--protocol", default="")
    parser.add_argument("--int8-metrics", type=Path)
    args = parser.parse_args()
    flags = os.environ.get(args.flags_variable, "")
    first = json.loads(args.metrics.read_text())["inputs"][0]
    figures = _figures(first)
    if args.int8_metrics:
        int8 = _figures(json.loads(args.int8_metrics.read_text())["inputs"][0])
        figures["int8"] = {k: int8[k] for k in ("accuracy", "macro_f1", "per_class_f1")}
    if args.protocol:
        figures["protocol"] = args.protocol
    card = {
        "summary": SUMMARIES[args.name],
        "training_data": args.training_data,
        "terms": args.terms,
        "command": f"make {args.target} {args.flags_variable}={shlex.quote(flags)}",
        "recipe": _recipe(flags),
        "figures": figures,
        "limits": args.limits,
        "classes": first["classes"],
    }
    json.dump(card, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
