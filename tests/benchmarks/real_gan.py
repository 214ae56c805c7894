"""Real data: the semi-supervised DCGAN (pretrain-gan) against the same discriminator trained
on the labels alone.

Everything runs through the ``emocli`` command line in a scratch workspace:

1. ``preprocess-faces`` turns FER2013, CK+48 and UTKFace (unlabelled) into faces artifacts;
2. FER2013 with few labels (``--labels-per-class N``; the other training images are used
   unlabelled, plus UTKFace), hyper-parameters chosen on a dev split carved from ``train/``
   (``--dev-fraction``), accuracy on ``test/`` (PublicTest): ``--schedule supervised-only``
   vs the GAN, same discriminator, same labels;
3. CK+48, subject-independent 5-fold with UTKFace unlabelled;
4. SFEW 2.0 ``Train``, 5 dev folds by movie, UTKFace unlabelled: the GAN's discriminator vs the
   same network (``dcgan_d``) trained by ``finetune`` on the labels alone (the transfer chain
   FER2013 -> SFEW is in the finetune section).

    python -m tests.benchmarks.run --real --only gan --out docs/results.md

Its tables go into the exploration log, ``docs/experiments/gan.md`` (:data:`DOCUMENT`);
docs/results.md keeps the headline tables, written by hand from the measured runs.

Scale knobs (environment): ``GAN_BENCH_LABELS`` (labels per class, comma-separated; default
``100``), ``GAN_BENCH_SEEDS`` (seeds of each FER2013 pair: labelled subset, dev split and
training; default ``0``), ``GAN_BENCH_CKPLUS`` / ``GAN_BENCH_SFEW`` (``0`` skips CK+ / SFEW).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.run import BenchContext

TOPIC = "gan"
#: Where the runner writes this topic's section (relative to the project root).
DOCUMENT = "docs/experiments/gan.md"
#: Network and input size used on this 2-core machine (the source: 64 px, 64..512 widths).
SIZE = "32"
NETS = ["--size", SIZE, "--d-widths", "32,64,128", "--g-widths", "128,64,32"]
#: FER2013 few-label settings (chosen on the dev split, see docs/results.md).
FER_COMMON = [*NETS, "--dev-fraction", "0.1", "--d-dropout", "0.5", "--threads", "1"]
FER_COMMON += ["--augment", "light"]
FER_SUPERVISED = ["--schedule", "supervised-only"]


def baseline_epochs(labels_per_class: int) -> str:
    """Epochs that bring the supervised-only baseline to its dev plateau (fewer with more
    labels: each epoch has more steps)."""
    return "400" if labels_per_class <= 100 else "150"


#: 80 epochs: chosen on dev over 40 (docs/experiments/gan.md, 2026-12-07)
FER_GAN = ["--epochs", "80", "--steps-per-epoch", "150", "--supervised-every", "1"]
#: All three sets are already face crops: CLAHE and resize, no detection.
PREPROCESS = ["--size", "48", "--detector", "none", "--no-align", "-j", "1"]
CKPLUS_NETS = ["--size", SIZE, "--d-widths", "16,32,64", "--g-widths", "64,32,16"]
CKPLUS_GAN = [*CKPLUS_NETS, "--folds", "5", "--epochs", "5", "--steps-per-epoch", "60"]
CKPLUS_GAN += ["--d-dropout", "0.5", "--threads", "1"]
#: The GAN chain for CK+: a semi-supervised GAN on all FER2013 labels (+ UTKFace) starts the
#: CK+ GAN (``--init``: D's tensors with a new head, and G).
CHAIN_NETS = [*NETS, "--d-dropout", "0.5", "--augment", "light", "--threads", "1"]
FER_FULL_GAN = [*CHAIN_NETS, "--dev-fraction", "0.1", "--epochs", "24", "--steps-per-epoch", "150"]
CKPLUS_CHAIN = [*CHAIN_NETS, "--folds", "5", "--epochs", "20", "--steps-per-epoch", "80"]
#: The strongest chain: ``dcgan_d`` with four strided convolutions (48 -> 3 px), each followed
#: by a 3x3 stride-1 convolution (``block_depth`` 1), trained for 60 epochs by
#: ``finetune`` on all FER2013 labels at 48 px (supervised steps are cheaper than GAN steps,
#: so it gets further in the same time) starts the CK+ GAN's discriminator; G starts fresh.
#: Both learning rates fall linearly to 0 over the second half (Salimans et al.), and every
#: prediction is averaged with the mirror image's.
#: The recipe files (recipes/*.toml), the ones the Makefile's recipes use.
RECIPES = Path(__file__).resolve().parents[2] / "recipes"
FER_D_FINETUNE = ["--config", str(RECIPES / "fer2013-dcgan_d.toml"), "--threads", "2"]
CKPLUS_CHAIN_48 = ["--config", str(RECIPES / "gan-ckplus.toml"), "--threads", "2"]
#: The same start trained on the CK+ labels alone by finetune (no GAN): what the GAN adds.
CKPLUS_FINETUNE_CHAIN = ["--config", str(RECIPES / "chain.toml"), "--folds", "5"]
CKPLUS_FINETUNE_CHAIN += ["--validation", "none", "--threads", "2"]
#: SFEW: Haar detection + eye alignment (its crops are wider than the face), 48 px; folds are
#: grouped by movie (pretrain-gan's and finetune's ``--group-by auto`` fall back to it).
SFEW_PREPROCESS = ["--size", "48", "-j", "1"]
#: The SFEW GAN starts from the same FER2013 ``dcgan_d`` as the CK+ one, and so does its
#: labels-only twin (finetune on the same labels, no GAN).
SFEW_GAN = ["--config", str(RECIPES / "gan-sfew.toml"), "--threads", "2"]
SFEW_FINETUNE = ["--config", str(RECIPES / "chain.toml"), "--folds", "5", "--group-by", "group"]
SFEW_FINETUNE += ["--validation", "none", "--threads", "2"]


class Runner:
    """Runs emocli commands in a workspace; keeps each command line and its wall time."""

    def __init__(self, ctx: BenchContext, work: Path) -> None:
        self.ctx, self.work = ctx, work
        self.log: list[tuple[str, float]] = []

    def __call__(self, *args: str) -> float:
        argv = [self.ctx.python, "-m", "emocli.cli", *args, "--workdir", str(self.work)]
        started = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if out.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
        shown = " ".join(
            a.replace(str(self.ctx.datasets), "$DATASETS").replace(str(self.work), "$W")
            for a in args
        )
        self.log.append((f"emocli {shown} --workdir $W", seconds))
        return seconds


def _summary(path: Path) -> dict[str, Any]:
    from emocli.artifacts import open_artifact

    with open_artifact(path) as art:
        return dict(art.attrs.get("summary") or {})


def run(ctx: BenchContext) -> str:
    work = ctx.workdir / "gan"
    emocli = Runner(ctx, work)
    faces = work / "faces"
    emocli("preprocess-faces", str(ctx.datasets / "fer2013"), *PREPROCESS)
    emocli("preprocess-faces", str(ctx.datasets / "utkface_unlabeled"), *PREPROCESS)
    fer, utk = faces / "fer2013.h5", faces / "utkface_unlabeled.h5"
    lines = [
        "## Semi-supervised GAN (pretrain-gan)",
        "",
        "FER2013 with few labels: the discriminator trained adversarially (UTKFace + the "
        "unused FER2013 training images as unlabelled faces) vs the identical discriminator "
        "trained on the same labels alone. Epoch selected on a dev set of 10 % of `train/` "
        "(`--dev-fraction 0.1`); test: `test/` (PublicTest, 3,589 faces; the `val` split of "
        "the faces artifact).",
        "",
        "| labels / class | seed | run | dev | test (PublicTest) | test gain vs supervised-only |",
        "|---|---|---|---|---|---|",
    ]
    labels = [int(n) for n in os.environ.get("GAN_BENCH_LABELS", "100").split(",") if n]
    seeds = [int(n) for n in os.environ.get("GAN_BENCH_SEEDS", "0").split(",") if n]
    for n in labels:
        sup = [*FER_SUPERVISED, "--epochs", baseline_epochs(n)]
        runs = [("sup", sup, []), ("gan", FER_GAN, ["-u", str(utk)])]
        for seed in seeds:
            base = 0.0
            for name, extra, unl in runs:
                stem = f"fer-{name}-{n}-seed{seed}"
                emocli("pretrain-gan", str(fer), *unl, *FER_COMMON, "--labels-per-class", str(n),
                       "--seed", str(seed), *extra, "-o", str(work / "models" / f"{stem}.h5"),
                       "--predictions-output", str(work / "predictions" / f"{stem}.h5"))  # fmt: skip
                s = _summary(work / "models" / f"{stem}.h5")
                base = s["val_accuracy"] if name == "sup" else base
                label = "supervised-only" if name == "sup" else "GAN"
                lines.append(
                    f"| {n} | {seed} | {label} | {100 * s['dev_accuracy']:.2f} "
                    f"| {100 * s['val_accuracy']:.2f} | {100 * (s['val_accuracy'] - base):+.2f} |"
                )
    if os.environ.get("GAN_BENCH_CKPLUS", "1") != "0":
        lines += _ckplus(ctx, emocli, fer, utk)
    if os.environ.get("GAN_BENCH_SFEW", "1") != "0":
        lines += _sfew(ctx, emocli, fer, utk)
    lines += ["", "Commands (wall time on the shared 2-core machine):", "", "```"]
    lines += [f"{cmd}   # {sec / 60:.1f} min" for cmd, sec in emocli.log]
    lines += ["```"]
    return "\n".join(lines)


def _fer_dcgan_d(emocli: Runner, fer: Path) -> Path:
    """The deep 4-layer ``dcgan_d`` trained by finetune on all FER2013 labels: the start of the
    CK+ and SFEW GANs (trained once; the second call finds it up to date)."""
    fer_d = emocli.work / "models/fer2013-dcgan_d.h5"
    emocli("finetune", str(fer), *FER_D_FINETUNE, "-o", str(fer_d),
           "--predictions", str(emocli.work / "predictions/fer2013-dcgan_d.h5"))  # fmt: skip
    return fer_d


def _sfew(ctx: BenchContext, emocli: Runner, fer: Path, utk: Path) -> list[str]:
    """SFEW 2.0 Train, 5 folds by movie: the GAN started from the FER2013 ``dcgan_d`` vs the
    same start fine-tuned on the labels alone."""
    work = emocli.work
    fer_d = _fer_dcgan_d(emocli, fer)
    emocli("preprocess-faces", str(ctx.datasets / "sfew2" / "Train"), *SFEW_PREPROCESS,
           "-o", str(work / "faces/sfew.h5"))  # fmt: skip
    sfew = str(work / "faces/sfew.h5")
    gan = work / "models/sfew-gan.h5"
    emocli("pretrain-gan", sfew, "-u", str(utk), *SFEW_GAN, "--init", str(fer_d), "-o", str(gan),
           "--predictions-output", str(work / "predictions/sfew-gan.h5"))  # fmt: skip
    plain = work / "models/sfew-labels-only.h5"
    emocli("finetune", sfew, "--init", str(fer_d), *SFEW_FINETUNE, "-o", str(plain),
           "--predictions", str(work / "predictions/sfew-labels-only.h5"))  # fmt: skip
    lines = ["", "SFEW 2.0 `Train`, 5 dev folds grouped by movie (no movie on both sides), "
             "both from the deep 4-layer `dcgan_d` trained on FER2013, at 48 px:", "",
             "| run | folds | mean ± std |", "|---|---|---|"]  # fmt: skip
    runs = (("GAN (UTKFace unlabelled)", gan), ("the same start, labels only", plain))
    return lines + [_fold_row(name, path) for name, path in runs]


def _ckplus(ctx: BenchContext, emocli: Runner, fer: Path, utk: Path) -> list[str]:
    """CK+48, 5 folds by subject: the GAN from scratch, started from a FER2013 GAN, and at
    48 px started from a FER2013 ``dcgan_d`` trained by finetune."""
    work = emocli.work
    emocli("preprocess-faces", str(ctx.datasets / "ckplus48"), *PREPROCESS)
    ckplus = str(work / "faces/ckplus48.h5")
    emocli("pretrain-gan", ckplus, "-u", str(utk), *CKPLUS_GAN)
    fer_gan = work / "models/fer2013-gan-full.h5"
    emocli("pretrain-gan", str(fer), "-u", str(utk), *FER_FULL_GAN, "-o", str(fer_gan),
           "--predictions-output", str(work / "predictions/fer2013-gan-full.h5"))  # fmt: skip
    chain = work / "models/ckplus48-gan-chain.h5"
    emocli("pretrain-gan", ckplus, "-u", str(utk), *CKPLUS_CHAIN, "--init", str(fer_gan),
           "-o", str(chain), "--predictions-output", str(work / "predictions/ckplus48-gan-chain.h5"))  # fmt: skip
    fer_d = _fer_dcgan_d(emocli, fer)
    chain_48 = work / "models/ckplus48-gan-chain-48.h5"
    emocli("pretrain-gan", ckplus, "-u", str(utk), *CKPLUS_CHAIN_48, "--init", str(fer_d),
           "-o", str(chain_48), "--predictions-output", str(work / "predictions/ckplus48-gan-chain-48.h5"))  # fmt: skip
    labels_only = work / "models/ckplus48-dcgan_d-chain.h5"
    emocli("finetune", ckplus, "--init", str(fer_d), *CKPLUS_FINETUNE_CHAIN, "-o", str(labels_only),
           "--predictions", str(work / "predictions/ckplus48-dcgan_d-chain.h5"))  # fmt: skip
    fer_s, fer_d_s = _summary(fer_gan), _summary(fer_d)
    fer_d_test = f"test {100 * fer_d_s['accuracy']['val']:.2f} %"
    lines = ["", "CK+48, subject-independent 5-fold, UTKFace unlabelled (the source: "
             "95.66 % ± 1.02):", "", "| run | folds | mean ± std |", "|---|---|---|"]  # fmt: skip
    runs = (("GAN from scratch (16-32-64 D)", work / "models/ckplus48-gan.h5"),
            (f"GAN started from a FER2013 GAN (test {100 * fer_s['val_accuracy']:.2f} %)", chain),
            (f"GAN at 48 px started from a deep 4-layer `dcgan_d` trained on FER2013 ({fer_d_test})",
             chain_48),
            ("the same start, finetune on the CK+ labels alone (no GAN)", labels_only))  # fmt: skip
    return lines + [_fold_row(name, path) for name, path in runs]


def _fold_row(name: str, model: Path) -> str:
    """``| name | fold accuracies | mean ± std |`` from a cross-validated model's summary."""
    s = _summary(model)
    folds = ", ".join(f"{100 * a:.2f}" for a in s["fold_accuracy"])
    mean, std = 100 * s["cv_accuracy_mean"], 100 * s["cv_accuracy_std"]
    return f"| {name} | {folds} | **{mean:.2f} % ± {std:.2f}** |"
