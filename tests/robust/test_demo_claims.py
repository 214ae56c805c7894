"""``make demo`` on demo seeds 0, 1 and 2 at the default size shows what the sources claim.

Targets on the demo's val split (docs/results.md, section "The demo"): the voice model at 40 %
or more, fusion above both single modalities, the video model and the GAN's discriminator
clearly above chance (one-sided binomial test) and clearly below 100 %. About 4 minutes a seed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from emocli.demo.summary import CHANCE_P_VALUE, above_chance, claim_lines

pytestmark = pytest.mark.robust

ROOT = Path(__file__).resolve().parents[2]
#: "Clearly below 100 %": the demo is a hard task, not a solved one.
CEILING = 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_shows_the_sources_claims(seed: int, tmp_path: Path) -> None:
    # as a user runs it: no workspace override, and oneDNN's own kernels for this CPU (the
    # suite's SSE4.1 cap works around a bug of tiny test networks, not of the demo's)
    env = {k: v for k, v in os.environ.items() if k not in ("EMOCLI_WORKDIR", "ONEDNN_MAX_CPU_ISA")}
    proc = subprocess.run(
        [
            "make",
            "-C",
            str(ROOT),
            "demo",
            f"DEMO_SEED={seed}",
            f"DEMO_DATA={tmp_path / 'data'}",
            f"DEMO_WORK={tmp_path / 'work'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "work" / "reports" / "demo" / "metrics.json").read_text())
    acc = {item["name"]: item for item in metrics["inputs"]}
    assert set(acc) == {"video", "audio", "fused-svm", "sfew-gan"}
    assert all(item["split"] == "val" for item in acc.values())
    assert acc["audio"]["accuracy"] >= 0.40
    assert acc["fused-svm"]["accuracy"] > acc["video"]["accuracy"]
    assert acc["fused-svm"]["accuracy"] > acc["audio"]["accuracy"]
    for name in ("video", "sfew-gan"):
        assert above_chance(acc[name])[0], f"{name} is not above chance (p >= {CHANCE_P_VALUE})"
        assert acc[name]["accuracy"] < CEILING
    claims = claim_lines(metrics["inputs"])
    assert len(claims) == 2 and all(": shown --" in line for line in claims)
    assert "claim: fusion beats each modality" in proc.stdout
