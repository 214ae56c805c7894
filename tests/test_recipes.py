"""The real-data recipes of mk/recipes.mk, run on the tiny demo data (the plumbing, not the
figures: those are benchmarks)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The recipes' steps cut to one epoch (a few GAN steps) and one thread.
TINY_FLAGS = (
    "FACE_INIT=face",
    "CHAIN_FLAGS=--config recipes/chain.toml --epochs 1 --threads 1",
    "SFEW_GAN_FLAGS=--config recipes/gan-sfew.toml --epochs 1 --steps-per-epoch 2 --threads 1",
    "LABELS_ONLY_FLAGS=--config recipes/chain.toml --epochs 1 --threads 1",
    "FER_DCGAN_D_FLAGS=--config recipes/fer2013-dcgan_d.toml --epochs 1 --threads 1",
)


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True)


def test_recipe_sfew_adds_the_val_protocol_only_when_val_exists(tmp_path: Path) -> None:
    """With Train/ alone the recipe is the 5 dev folds; a Val/ folder adds Train -> Val."""
    (tmp_path / "sfew" / "Train").mkdir(parents=True)
    plan = _make("-n", "recipe-sfew", f"SFEW={tmp_path / 'sfew'}", "FACE_INIT=face")
    assert plan.returncode == 0, plan.stderr
    assert "--folds 5" in plan.stdout and "sfew-val" not in plan.stdout
    (tmp_path / "sfew" / "Val").mkdir()
    plan = _make("-n", "recipe-sfew", f"SFEW={tmp_path / 'sfew'}", "FACE_INIT=face")
    assert plan.returncode == 0, plan.stderr
    assert "--folds 5" in plan.stdout and "reports/sfew-val" in plan.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_recipe_sfew_val_trains_on_train_and_evaluates_on_val(
    tiny_demo: Path, tmp_path: Path
) -> None:
    """make recipe-sfew-val on a small fake SFEW (the demo's Train/ and Val/ stills; its Train/
    also stands in for FER2013, the discriminator's start): the chain, the GAN and the same
    start on the labels alone train on Train/ only, and each is evaluated on every Val/ face."""
    from emocli.artifacts import open_artifact

    sfew, work = tiny_demo / "sfew", tmp_path / "work"
    n_train = len(list((sfew / "Train").rglob("*.png")))
    n_val = len(list((sfew / "Val").rglob("*.png")))
    done = _make(
        "recipe-sfew-val",
        f"SFEW={sfew}",
        f"FER2013={sfew / 'Train'}",
        f"UNLABELLED={tiny_demo / 'unlabelled'}",
        f"RECIPES_WORK={work}",
        *TINY_FLAGS,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open_artifact(work / "models" / "sfew-val-gan.h5") as art:
        assert art.attrs["summary"]["labelled_train"] == n_train
        assert art.attrs["params"]["init"] == str(work / "models" / "fer2013-dcgan_d.h5")
    for name in ("chain", "gan", "labels-only"):
        with open_artifact(work / "predictions" / f"sfew-val-{name}.h5") as art:
            assert set(art.column("split")) == {"val"} and art.n_samples == n_val
    metrics = json.loads((work / "reports" / "sfew-val" / "metrics.json").read_text())
    evaluated = {m["name"]: m for m in metrics["inputs"]}
    assert set(evaluated) == {"sfew-val-chain", "sfew-val-gan", "sfew-val-labels-only"}
    assert all(m["split"] == "val" and m["n"] == n_val for m in evaluated.values())
