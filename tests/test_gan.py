"""pretrain-gan: network shapes, Salimans loss terms, data helpers, the semi-supervised loop,
the NaN/collapse guard, and the discriminator artifact as a classifier."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli.artifacts import ArtifactWriter, open_artifact, read_group
from emocli.cli import app
from emocli.errors import ParamsError, TrainingError
from emocli.models import build_model
from emocli.predictions import load_predictions
from emocli.training import gan_losses
from emocli.training.gan import SemiSupervisedGan
from emocli.training.gan_data import (
    FaceSet,
    carve_dev_rows,
    choose_groups,
    few_label_subset,
    grouped_folds,
    image_grid,
    to_unit_range,
)
from emocli.training.gan_discriminator import discriminator_outputs
from stages import pretrain_gan as stage

CLASSES = ["happy", "sad", "surprise"]
SIZE = 32
TINY = {"d_widths": (8, 16, 32), "g_widths": (32, 16, 8), "nz": 16}
#: Tiny networks at SIZE with batches of 16: the quick training runs of these tests.
TINY_RUN = {"size": SIZE, **TINY, "batch_size": 16, "labelled_batch_size": 16}
#: The same networks, one epoch, as CLI flags.
CLI_TINY_RUN = ["--size", "32", "--epochs", "1", "--d-widths", "8,16,32", "--g-widths", "32,16,8"]
CLI_TINY_RUN += ["--nz", "16", "--batch-size", "16"]


def _faces(path: Path, n: int, size: int, labelled: bool, seed: int, splits: bool = True) -> Path:
    """A tiny faces artifact: class k images are bright in the k-th third (learnable)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, len(CLASSES), n) if labelled else np.full(n, -1)
    images = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    if labelled:
        band = size // len(CLASSES)
        for i, k in enumerate(label):
            images[i, k * band : (k + 1) * band] += 150
    split = np.where(np.arange(n) % 4 == 0, "test", "train") if splits else np.full(n, "")
    writer = ArtifactWriter(path, "faces", stage="test", params={}, inputs=[], fingerprint="x")
    writer.set_classes(CLASSES)
    writer.add_column("images", images)
    writer.add_column("label", label.astype(np.int64))
    writer.add_column("sample_id", [f"s{seed}-{i}" for i in range(n)])
    writer.add_column("split", split)
    writer.add_column("subject", [f"p{i % 6}" for i in range(n)])
    writer.add_column("clip_id", [""] * n)
    writer.close()
    writer.commit()
    return path


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """One torch thread for every test here (tests/conftest.py)."""


@pytest.fixture()
def tiny_inputs(tmp_path: Path) -> tuple[Path, Path]:
    return (
        _faces(tmp_path / "lab.h5", 48, SIZE, True, 1),
        _faces(tmp_path / "unl.h5", 64, 40, False, 2),
    )


# ------------------------------------------------------------------ networks


@pytest.mark.parametrize("size", [32, 48, 64])
def test_generator_and_discriminator_shapes(size: int) -> None:
    g = build_model("dcgan_g", latent_dim=20, output_size=size, widths=[32, 16, 8, 4])
    d = build_model("dcgan_d", in_channels=1, input_size=size, n_classes=7, widths=[4, 8, 16, 32])
    z = torch.randn(3, 20)
    x = g(z)
    assert x.shape == (3, 1, size, size)
    assert float(x.detach().min()) >= -1.0 and float(x.detach().max()) <= 1.0
    logits, feats = discriminator_outputs(d, x)
    assert logits.shape == (3, 7)
    assert feats.shape == (3, 32 * (size // 16) ** 2)
    d.eval()
    assert torch.allclose(d(x), discriminator_outputs(d, x)[0])


def test_input_noise_and_block_dropout_act_only_in_training() -> None:
    """Salimans's regularisers add no weights (a plain D's tensors load as they are), change
    nothing in eval mode, and make two training passes differ."""
    plain = build_model("dcgan_d", in_channels=1, input_size=32, n_classes=7, widths=[4, 8, 16])
    noisy = build_model(
        "dcgan_d",
        in_channels=1,
        input_size=32,
        n_classes=7,
        widths=[4, 8, 16],
        input_noise=0.3,
        block_dropout=0.5,
    )
    noisy.load_state_dict(plain.state_dict())  # strict: the very same names and shapes
    dropouts = [m for m in noisy.features.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 2  # after the first two blocks, not the last
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    plain.eval()
    noisy.eval()
    assert torch.equal(plain(x), noisy(x))
    noisy.train()
    torch.manual_seed(0)
    first = noisy.forward_features(x)
    assert not torch.equal(first, noisy.forward_features(x))
    with pytest.raises(ParamsError, match="block_dropout"):
        build_model("dcgan_d", widths=[4, 8], input_size=32, block_dropout=1.0)


@pytest.mark.parametrize("size", [32, 48, 64])
def test_block_depth_adds_size_keeping_convolutions(size: int) -> None:
    """block_depth 2 puts two 3x3 stride-1 convolutions after each strided one: the feature
    map (and so the classifier) keeps its shape, and block_depth 0 is Radford's plain D."""
    widths = [4, 8, 16, 32]
    plain = build_model("dcgan_d", input_size=size, n_classes=7, widths=widths)
    deep = build_model("dcgan_d", input_size=size, n_classes=7, widths=widths, block_depth=2)
    convs = [m for m in deep.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs[:3]] == [((4, 4), (2, 2))] + [
        ((3, 3), (1, 1))
    ] * 2
    assert len(convs) == 3 * len(widths)
    x = torch.rand(2, 1, size, size) * 2 - 1
    assert deep.forward_features(x).shape == plain.forward_features(x).shape
    assert deep(x).shape == (2, 7)
    assert (
        build_model("dcgan_d", input_size=size, widths=widths, block_depth=0).state_dict().keys()
        == plain.state_dict().keys()
    )
    with pytest.raises(ParamsError, match="block_depth"):
        build_model("dcgan_d", widths=[4, 8], input_size=32, block_depth=-1)


# ------------------------------------------------------------------ Salimans losses

# Two samples: logits [0, 0] -> Z = 2, D = 2/3; logits [ln 3, 0] -> Z = 4, D = 4/5.
LOGITS = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])


def test_prob_real_is_z_over_z_plus_one() -> None:
    assert torch.allclose(gan_losses.prob_real(LOGITS), torch.tensor([2 / 3, 4 / 5]))


def test_salimans_terms_against_hand_computed_values() -> None:
    real = (-math.log(2 / 3) - math.log(4 / 5)) / 2  # -log D(x)
    fake = (-math.log(1 / 3) - math.log(1 / 5)) / 2  # -log(1 - D(G(z)))
    sup = (-math.log(1 / 2) - math.log(3 / 4)) / 2  # CE with labels [1, 0]
    labels = torch.tensor([1, 0])
    assert gan_losses.unlabelled_real_loss(LOGITS).item() == pytest.approx(real, abs=1e-6)
    assert gan_losses.fake_loss(LOGITS).item() == pytest.approx(fake, abs=1e-6)
    assert gan_losses.supervised_loss(LOGITS, labels).item() == pytest.approx(sup, abs=1e-6)
    terms = gan_losses.discriminator_loss(LOGITS, LOGITS, LOGITS, labels, supervised_weight=0.3)
    assert terms["unsupervised"].item() == pytest.approx(0.5 * real + 0.5 * fake, abs=1e-6)
    assert terms["total"].item() == pytest.approx(0.5 * real + 0.5 * fake + 0.3 * sup, abs=1e-6)
    no_labels = gan_losses.discriminator_loss(LOGITS, LOGITS)
    assert no_labels["supervised"].item() == 0.0
    assert gan_losses.non_saturating_loss(LOGITS).item() == pytest.approx(real, abs=1e-6)


def test_feature_matching_hand_computed_and_detached() -> None:
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)  # mean [2, 3]
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]], requires_grad=True)  # mean [1, 1]
    loss = gan_losses.feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx((1.0 + 4.0) / 2)
    loss.backward()
    assert real.grad is None
    assert fake.grad is not None and torch.all(fake.grad < 0)


def test_losses_stay_finite_for_huge_logits() -> None:
    big = torch.tensor([[1000.0, -1000.0], [-1000.0, -1000.0]])
    for value in (gan_losses.unlabelled_real_loss(big), gan_losses.fake_loss(big)):
        assert torch.isfinite(value)
    assert gan_losses.fake_loss(big).item() == pytest.approx(500.0, rel=1e-3)


# ------------------------------------------------------------------ data helpers


def test_few_label_subset_keeps_n_per_class() -> None:
    labels = np.repeat(np.arange(3), 10)
    rows = np.arange(30)
    kept, rest = few_label_subset(labels, rows, 4, 3, seed=0)
    assert np.bincount(labels[kept]).tolist() == [4, 4, 4]
    assert len(rest) == 18 and not set(kept) & set(rest)
    again, _ = few_label_subset(labels, rows, 4, 3, seed=0)
    assert np.array_equal(kept, again)


def test_dev_split_moves_whole_subjects() -> None:
    train = np.arange(20)
    subject = np.array([f"p{i % 5}" for i in range(24)])
    labels = np.zeros(24, np.int64)
    dev = carve_dev_rows(train, labels, subject, 0.4, seed=0)
    dev_subjects = set(subject[dev])
    assert len(dev_subjects) == 2 and dev.max() < 20
    assert not dev_subjects & set(subject[np.setdiff1d(train, dev)])
    no_subjects = carve_dev_rows(train, np.arange(20) % 2, np.full(24, ""), 0.2, seed=0)
    assert np.bincount((np.arange(20) % 2)[no_subjects]).tolist() == [2, 2]


def test_grouped_folds_are_subject_independent() -> None:
    subject = np.array([f"p{i % 10}" for i in range(60)])
    labels = np.arange(60) % 3
    folds = grouped_folds(labels, subject, 5, seed=0)
    assert set(folds.tolist()) == set(range(5))
    for person in np.unique(subject):
        assert len(set(folds[subject == person])) == 1


def test_groups_fall_back_to_the_movie_when_subjects_are_unknown() -> None:
    n = 6
    faces = FaceSet(
        images=np.zeros((n, 4, 4), np.uint8),
        label=np.zeros(n, np.int64),
        sample_id=np.arange(n).astype(str),
        split=np.full(n, "train"),
        subject=np.full(n, ""),
        clip_id=np.array([f"c{i}" for i in range(n)]),
        group=np.array(["movieA", "movieA", "movieB", "movieB", "movieC", "movieC"]),
        classes=["happy"],
        source_size=4,
    )
    name, groups = choose_groups(faces, "auto")
    assert name == "group" and groups.tolist()[:2] == ["movieA", "movieA"]
    assert choose_groups(faces, "clip_id")[0] == "clip_id"
    assert choose_groups(faces, "none")[1].tolist() == [""] * n
    with pytest.raises(ParamsError, match="--group-by subject"):
        choose_groups(faces, "subject")
    folds = grouped_folds(np.zeros(n, np.int64), groups, 3, seed=0)
    for movie in ("movieA", "movieB", "movieC"):
        assert len(set(folds[groups == movie])) == 1


def test_image_grid_layout() -> None:
    imgs = np.full((5, 4, 4), 200, np.uint8)
    grid = image_grid(imgs, columns=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert grid[1, 1] == 200 and grid[0, 0] == 0


# ------------------------------------------------------------------ the loop and the guard


def test_fast_dev_run_semi_supervised_loop_on_cpu(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(
        size=SIZE,
        **TINY,
        batch_size=8,
        labelled_batch_size=8,
        fast_dev_run=True,
        lr_decay_start=0.5,
        tta="flip",
        d_input_noise=0.2,
        d_block_dropout=0.3,
        d_block_depth=1,
    )
    result = stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    assert not result.up_to_date
    from emocli.training.model_store import load_model

    _, info = load_model(tmp_path / "m.h5")
    assert info.model_kwargs["input_noise"] == 0.2 and info.model_kwargs["block_dropout"] == 0.3
    assert info.model_kwargs["block_depth"] == 1
    preds = load_predictions(tmp_path / "p.h5")
    assert preds.probs.shape == (48, 3) and preds.modality == "face"
    assert np.allclose(preds.probs.sum(1), 1.0, atol=1e-5)


def test_training_learns_and_writes_both_networks(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(
        **TINY_RUN, epochs=3, schedule="mixed", lr_d=2e-3, dev_fraction=0.2
    )
    model, preds_path = tmp_path / "m.h5", tmp_path / "p.h5"
    result = stage.run(params, lab, [unl], model, preds_path)
    assert result.summary["epochs"] == 3
    assert result.summary["train_accuracy"] > 0.5  # three bright bands are easy
    with open_artifact(model, "model") as art:
        assert art.attrs["architecture"] == "dcgan_d"
        assert art.h5["generator"].attrs["architecture"] == "dcgan_g"
        assert len(read_group(art, "history")["d_loss"]) == 3
        grids = art.column("samples/grids")
        assert grids.shape[0] == 3
    pngs = sorted((tmp_path / "m-samples").glob("epoch_*.png"))
    assert [p.name for p in pngs] == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    assert len(load_predictions(preds_path)) == 48
    with open_artifact(preds_path, "predictions") as art:
        role = art.column("role")
    assert (role == "dev").sum() > 0 and (role == "labelled").sum() > 0
    assert result.summary["dev_accuracy"] >= 0
    # cached: the same call is up to date
    assert stage.run(params, lab, [unl], model, preds_path).up_to_date


def test_discriminator_from_artifact_reproduces_predictions(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """finetune's loader rebuilds D from the artifact and gives the very same probabilities,
    and finetune --init takes the GAN artifact."""
    from emocli.training.model_store import load_model
    from stages import finetune

    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(
        size=SIZE, **TINY, batch_size=16, labelled_batch_size=16, epochs=1
    )
    stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    d, info = load_model(tmp_path / "m.h5")
    assert info.architecture == "dcgan_d" and info.classes == CLASSES
    with open_artifact(lab, "faces") as art:
        raw = torch.from_numpy(art.column("images"))[:, None]
    with torch.no_grad():
        x = info.transform()(raw)
        assert torch.equal(x, torch.from_numpy(to_unit_range(raw[:, 0].numpy())))
        probs = np.concatenate(
            [torch.softmax(d(x[i : i + 256]), 1).numpy() for i in range(0, len(x), 256)]
        )
    assert np.array_equal(probs, load_predictions(tmp_path / "p.h5").probs)

    ft = finetune.FinetuneParams(
        init=str(tmp_path / "m.h5"), epochs=1, batch_size=8, fast_dev_run=True, accelerator="cpu"
    )
    result = finetune.run(ft, lab, tmp_path / "ft.h5", tmp_path / "ft-p.h5")
    assert result.summary
    _, ft_info = load_model(tmp_path / "ft.h5")
    assert ft_info.architecture == "dcgan_d"
    assert ft_info.model_kwargs["widths"] == list(TINY["d_widths"])


def test_init_starts_both_networks_from_an_earlier_gan(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """--init copies D's tensors (the head too when the classes match) and G's; a model of
    another architecture is refused by name."""
    from emocli.errors import ArtifactError
    from emocli.training.model_store import load_model

    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(
        size=SIZE, **TINY, batch_size=16, labelled_batch_size=16, epochs=1
    )
    stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    start = stage.load_init(str(tmp_path / "m.h5"))
    d = build_model("dcgan_d", **stage.d_kwargs(params, len(CLASSES)))
    report = start.into_discriminator(d, CLASSES)
    assert report["kept"] == [] and not report["head_replaced"]
    source, _ = load_model(tmp_path / "m.h5")
    for name, tensor in source.state_dict().items():
        assert torch.equal(d.state_dict()[name], tensor), name
    g = build_model("dcgan_g", **stage.g_kwargs(params))
    assert start.into_generator(g)
    with open_artifact(tmp_path / "m.h5", "model") as art:
        stored = art.h5["generator"]
        name = next(iter(g.state_dict()))
        assert np.array_equal(stored[name][()], g.state_dict()[name].numpy())
    other = build_model("dcgan_d", **stage.d_kwargs(params, 2))
    assert start.into_discriminator(other, ["a", "b"])["head_replaced"]

    again = stage.PretrainGanParams(
        size=SIZE,
        **TINY,
        batch_size=16,
        labelled_batch_size=16,
        epochs=1,
        init=str(tmp_path / "m.h5"),
    )
    result = stage.run(again, lab, [unl], tmp_path / "m2.h5", tmp_path / "p2.h5")
    assert result.summary["init"]["generator_loaded"] is True

    ft = tmp_path / "ft.h5"
    from stages import finetune

    finetune.run(
        finetune.FinetuneParams(model="static_cnn", epochs=1, fast_dev_run=True, batch_size=8),
        lab,
        ft,
        tmp_path / "ft-p.h5",
    )
    with pytest.raises(ArtifactError, match="static_cnn"):
        stage.load_init(str(ft))


def test_folds_give_out_of_fold_predictions(tiny_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(**TINY_RUN, epochs=1, folds=2)
    result = stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    preds = load_predictions(tmp_path / "p.h5")
    assert set(preds.fold.tolist()) == {0, 1}
    for fold in range(2):
        assert (
            len(set(preds.subject[preds.fold == fold]) & set(preds.subject[preds.fold != fold]))
            == 0
        )
    assert len(result.summary["fold_accuracy"]) == 2


def test_supervised_only_baseline_needs_no_unlabelled(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    lab, _ = tiny_inputs
    params = stage.PretrainGanParams(
        size=SIZE, **TINY, labelled_batch_size=8, epochs=2, schedule="supervised-only"
    )
    result = stage.run(params, lab, [], tmp_path / "m.h5", tmp_path / "p.h5")
    assert result.summary["unlabelled"] == 0
    with open_artifact(tmp_path / "m.h5", "model") as art:
        assert "samples" not in art.h5


def test_nan_loss_stops_training_without_artifact(
    tiny_inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, unl = tiny_inputs
    monkeypatch.setattr(gan_losses, "feature_matching_loss", lambda r, f: f.mean() * float("nan"))
    params = stage.PretrainGanParams(size=SIZE, **TINY, batch_size=8, labelled_batch_size=8)
    with pytest.raises(TrainingError, match="generator loss became nan"):
        stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "p.h5").exists()
    assert not list(tmp_path.glob(".*tmp-*"))


def test_collapse_guard_fires_after_patience() -> None:
    g = build_model("dcgan_g", latent_dim=4, output_size=16, widths=[4, 2])
    d = build_model("dcgan_d", in_channels=1, input_size=16, n_classes=2, widths=[2, 4])
    gan = SemiSupervisedGan(g, d, nz=4, collapse_patience=3)
    gan._watch_collapse(1e-5)
    gan._watch_collapse(1e-5)
    gan._watch_collapse(0.5)  # a healthy step resets the count
    gan._watch_collapse(1e-5)
    gan._watch_collapse(1e-5)
    with pytest.raises(TrainingError, match="collapse"):
        gan._watch_collapse(1e-5)


def test_learning_rates_fall_linearly_to_zero_after_the_decay_start() -> None:
    g = build_model("dcgan_g", latent_dim=4, output_size=16, widths=[4, 2])
    d = build_model("dcgan_d", in_channels=1, input_size=16, n_classes=2, widths=[2, 4])
    gan = SemiSupervisedGan(g, d, nz=4, lr_d=1e-3, lr_g=4e-4, total_steps=10, lr_decay_start=0.6)
    factors = []
    for step in (0, 5, 6, 8, 10):
        gan.d_steps = step
        factors.append(gan.lr_factor())
    assert factors == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.0])
    opt_d, opt_g = gan.configure_optimizers()
    gan.d_steps = 8
    gan._apply_lr_schedule(opt_d, opt_g)
    assert opt_d.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(2e-4)
    constant = SemiSupervisedGan(g, d, nz=4, total_steps=10)  # lr_decay_start 1: no decay
    constant.d_steps = 9
    assert constant.lr_factor() == 1.0


def test_the_decay_counts_the_longest_loader_and_the_step_cap(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """The total number of steps comes from the Trainer: epochs x the longest loader's
    batches (here the unlabelled pool's), or x ``--steps-per-epoch`` when that is smaller."""
    lab, unl = tiny_inputs
    common = {"size": SIZE, **TINY, "batch_size": 8, "labelled_batch_size": 8, "epochs": 2}
    common["lr_decay_start"] = 0.5
    capped = stage.PretrainGanParams(**common, steps_per_epoch=3)
    stage.run(capped, lab, [unl], tmp_path / "c.h5", tmp_path / "cp.h5")
    full = stage.PretrainGanParams(**common)
    stage.run(full, lab, [unl], tmp_path / "f.h5", tmp_path / "fp.h5")
    with open_artifact(tmp_path / "c.h5", "model") as art:
        capped_lr = read_group(art, "history")["lr_d"]
    with open_artifact(tmp_path / "f.h5", "model") as art:
        full_lr = read_group(art, "history")["lr_d"]
    lr = capped.lr_d
    # the last step of epoch 2 is step 2n - 1 of 2n: factor (2n - (2n - 1)) / n = 1 / n
    assert capped_lr == pytest.approx([lr, lr / 3])
    steps = 64 // 8  # 64 unlabelled faces: more batches than the 36 labelled training faces
    assert full_lr == pytest.approx([lr, lr / steps])


def test_weight_average_follows_the_decay() -> None:
    """avg starts at the first step's weights, then avg = decay * avg + (1 - decay) * w."""
    g = build_model("dcgan_g", latent_dim=4, output_size=16, widths=[4, 2])
    d = build_model("dcgan_d", in_channels=1, input_size=16, n_classes=2, widths=[2, 4])
    gan = SemiSupervisedGan(g, d, nz=4, d_ema_decay=0.75)
    assert gan.averaged_discriminator is not None
    averaged = gan.averaged_discriminator.module
    assert not any(p.requires_grad for p in averaged.parameters())
    for value in (1.0, 5.0, 9.0):
        with torch.no_grad():
            for p in d.parameters():
                p.fill_(value)
        gan._after_discriminator_step()
    # 1 -> 0.75 * 1 + 0.25 * 5 = 2 -> 0.75 * 2 + 0.25 * 9 = 3.75
    for p in averaged.parameters():
        assert torch.allclose(p, torch.full_like(p, 3.75))
    assert gan.d_steps == 3
    assert SemiSupervisedGan(g, d, nz=4).averaged_discriminator is None


def test_weight_averaging_leaves_the_training_unchanged(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """The averaged D is evaluated under its own random state: the losses of every step and
    the last weights' fold accuracies are those of the same run without averaging."""
    lab, unl = tiny_inputs
    common = {**TINY_RUN, "epochs": 2, "folds": 2, "d_dropout": 0.5, "lr_d": 2e-3}
    plain = stage.run(
        stage.PretrainGanParams(**common), lab, [unl], tmp_path / "a.h5", tmp_path / "ap.h5"
    )
    averaged = stage.run(
        stage.PretrainGanParams(**common, d_ema_decay=0.9),
        lab,
        [unl],
        tmp_path / "b.h5",
        tmp_path / "bp.h5",
    )
    histories = []
    for name in ("a.h5", "b.h5"):
        with open_artifact(tmp_path / name, "model") as art:
            histories.append(read_group(art, "history"))
    for key in ("d_loss", "g_loss", "train_accuracy"):
        np.testing.assert_array_equal(histories[0][key], histories[1][key])
    assert "train_accuracy_averaged" in histories[1]
    assert "last_weights" not in plain.summary
    last = averaged.summary["last_weights"]
    assert last["fold_accuracy"] == plain.summary["fold_accuracy"]
    a, b = load_predictions(tmp_path / "ap.h5"), load_predictions(tmp_path / "bp.h5")
    assert not np.allclose(a.probs, b.probs)  # the stored predictions are the average's


def test_the_epoch_is_selected_on_the_averaged_weights(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(
        **TINY_RUN, epochs=3, lr_d=2e-3, dev_fraction=0.3, d_ema_decay=0.5
    )
    result = stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    with open_artifact(tmp_path / "m.h5", "model") as art:
        dev = read_group(art, "history")["val_accuracy_averaged"]
    assert result.summary["best_epoch"] == int(np.argmax(dev))
    assert "last_weights" not in result.summary  # the selected epoch's raw weights are gone


def test_flip_tta_averages_each_face_with_its_mirror_image() -> None:
    from emocli.training.gan_discriminator import predict_probs

    torch.manual_seed(0)
    d = build_model("dcgan_d", in_channels=1, input_size=16, n_classes=3, widths=[4, 8]).eval()
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    plain, mirrored = predict_probs(d, x), predict_probs(d, x.flip(-1))
    both = predict_probs(d, x, tta="flip")
    assert np.allclose(both, (plain + mirrored) / 2, atol=1e-6)
    assert not np.allclose(both, plain)
    symmetric = (x + x.flip(-1)) / 2  # a mirror-symmetric face: TTA changes nothing
    assert np.allclose(predict_probs(d, symmetric, tta="flip"), predict_probs(d, symmetric))


def test_params_are_validated() -> None:
    from emocli.errors import ParamsError

    with pytest.raises(ParamsError, match="multiple"):
        stage.PretrainGanParams(size=40)
    with pytest.raises(ParamsError, match="g-loss"):
        stage.PretrainGanParams(g_loss="wasserstein")
    with pytest.raises(ParamsError, match="augment"):
        stage.PretrainGanParams(augment="specaugment")
    with pytest.raises(ParamsError, match="lr-decay-start"):
        stage.PretrainGanParams(lr_decay_start=1.5)
    with pytest.raises(ParamsError, match="tta"):
        stage.PretrainGanParams(tta="five-crop")
    with pytest.raises(ParamsError, match="d-input-noise"):
        stage.PretrainGanParams(d_input_noise=-0.1)
    with pytest.raises(ParamsError, match="d-block-dropout"):
        stage.PretrainGanParams(d_block_dropout=1.0)
    with pytest.raises(ParamsError, match="d-block-depth"):
        stage.PretrainGanParams(d_block_depth=-1)
    with pytest.raises(ParamsError, match="d-ema-decay"):
        stage.PretrainGanParams(d_ema_decay=1.0)
    with pytest.raises(ParamsError, match="consistency-weight"):
        stage.PretrainGanParams(consistency_weight=-1.0)
    with pytest.raises(ParamsError, match="consistency-threshold"):
        stage.PretrainGanParams(consistency_threshold=1.5)
    with pytest.raises(ParamsError, match="supervised-only"):
        stage.PretrainGanParams(schedule="supervised-only", consistency_weight=1.0)
    with pytest.raises(ParamsError, match="consistency-only needs"):
        stage.PretrainGanParams(schedule="consistency-only")


def test_labelled_augmentation_moves_pixels_and_keeps_the_range() -> None:
    from emocli.training.augment import preset

    g = build_model("dcgan_g", latent_dim=4, output_size=16, widths=[4, 2])
    d = build_model("dcgan_d", in_channels=1, input_size=16, n_classes=2, widths=[2, 4])
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    plain = SemiSupervisedGan(g, d, nz=4)
    assert plain.augment_labelled(x) is x
    torch.manual_seed(0)
    out = SemiSupervisedGan(g, d, nz=4, augment=preset("strong")).augment_labelled(x)
    assert out.shape == x.shape
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert not torch.allclose(out, x)


def test_cli_writes_default_outputs(tiny_inputs: tuple[Path, Path], workdir: Path) -> None:
    lab, unl = tiny_inputs
    args = ["pretrain-gan", str(lab), "-u", str(unl), *CLI_TINY_RUN]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (workdir / "models" / "lab-gan.h5").is_file()
    assert (workdir / "predictions" / "lab-gan.h5").is_file()
    assert "test" in res.output and "accuracy" in res.output
    bad = CliRunner().invoke(app, ["pretrain-gan", str(lab), "--g-loss", "nope"])
    assert bad.exit_code != 0 and "g-loss" in bad.output


def test_cli_reports_the_last_weights_beside_the_average(
    tiny_inputs: tuple[Path, Path], workdir: Path
) -> None:
    lab, unl = tiny_inputs
    args = ["pretrain-gan", str(lab), "-u", str(unl), *CLI_TINY_RUN]
    res = CliRunner().invoke(app, [*args, "--folds", "2", "--d-ema-decay", "0.9"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "2-fold accuracy" in text and "last weights without the average" in text


def test_cli_takes_the_old_spellings_of_renamed_options(
    tiny_inputs: tuple[Path, Path], workdir: Path
) -> None:
    """--unlabeled, --labeled-batch-size and --max-unlabeled (before the British spelling)
    still run, as the same params; an artifact that recorded the old names still gives its
    config under the new ones."""
    import json
    import sys

    import h5py

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    lab, unl = tiny_inputs
    new = ["--unlabelled", str(unl), "--labelled-batch-size", "16", "--max-unlabelled", "40"]
    old = ["--unlabeled", str(unl), "--labeled-batch-size", "16", "--max-unlabeled", "40"]
    first = CliRunner().invoke(app, ["pretrain-gan", str(lab), *new, *CLI_TINY_RUN])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, ["pretrain-gan", str(lab), *old, *CLI_TINY_RUN])
    assert again.exit_code == 0 and "up to date" in again.output, again.output
    model = workdir / "models" / "lab-gan.h5"
    with open_artifact(model, "model") as art:
        assert art.params["labelled_batch_size"] == 16 and art.params["max_unlabelled"] == 40
    with h5py.File(model, "a") as h5:  # as written before the rename
        params = json.loads(h5.attrs["params"])
        params["labeled_batch_size"] = params.pop("labelled_batch_size")
        params["max_unlabeled"] = params.pop("max_unlabelled")
        h5.attrs["params"] = json.dumps(params)
        old_roles = {"labelled": "labeled", "unlabelled": "unlabeled"}
        inputs = [
            {**i, "role": old_roles.get(i["role"], i["role"])}
            for i in json.loads(h5.attrs["inputs"])
        ]
        h5.attrs["inputs"] = json.dumps(inputs)
    res = CliRunner().invoke(app, ["inspect", str(model), "--as-config"])
    assert res.exit_code == 0, res.output
    values = tomllib.loads(res.output)
    assert (values["labelled"], values["unlabelled"]) == (str(lab), [str(unl)])
    assert (values["labelled_batch_size"], values["max_unlabelled"]) == (16, 40)


def test_a_config_with_the_old_parameter_names_still_loads(tmp_path: Path) -> None:
    import typer.main

    from emocli.config import load_config

    command = typer.main.get_command(app).commands["pretrain-gan"]  # type: ignore[attr-defined]
    config = tmp_path / "old.toml"
    config.write_text(
        'stage = "pretrain-gan"\nlabeled = "lab.h5"\nunlabeled = ["unl.h5"]\n'
        "labeled_batch_size = 16\nmax_unlabeled = 40\n"
    )
    assert load_config(config, command) == {
        "labelled": str(tmp_path / "lab.h5"),
        "unlabelled": [str(tmp_path / "unl.h5")],
        "labelled_batch_size": 16,
        "max_unlabelled": 40,
    }
    config.write_text("labeled_batch_size = 16\nlabelled_batch_size = 8\n")
    with pytest.raises(ParamsError, match="old name of labelled_batch_size"):
        load_config(config, command)


def test_help_shows_the_new_spellings_only() -> None:
    import subprocess
    import sys

    env = {"COLUMNS": "80", "PATH": str(Path(sys.executable).parent)}
    args = [sys.executable, "-m", "emocli.cli", "pretrain-gan", "--help"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    for name in ("--unlabelled", "--labelled-batch-size", "--max-unlabelled"):
        assert name in out
    for name in ("--unlabeled", "--labeled-batch-size", "--max-unlabeled"):
        assert name not in out


# ------------------------------------------------------------------ consistency (FixMatch)


def test_consistency_loss_keeps_only_confident_faces() -> None:
    """Face 0 is confident (class 2), face 1 is not: the loss is face 0's cross-entropy
    towards class 2 over the batch of two, and only the strong logits get a gradient."""
    target = torch.tensor([[0.0, 0.0, 6.0], [0.1, 0.0, 0.0]], requires_grad=True)
    strong = torch.tensor([[1.0, 0.0, 0.0], [5.0, -5.0, 0.0]], requires_grad=True)
    loss, share = gan_losses.consistency_loss(target, strong, threshold=0.9)
    expected = torch.nn.functional.cross_entropy(strong[:1], torch.tensor([2])) / 2
    assert loss.item() == pytest.approx(expected.item())
    assert share.item() == pytest.approx(0.5)
    loss.backward()
    assert target.grad is None or torch.all(target.grad == 0)
    assert strong.grad is not None and torch.all(strong.grad[1] == 0)
    assert torch.any(strong.grad[0] != 0)
    none, share = gan_losses.consistency_loss(target, strong, threshold=1.0)
    assert none.item() == 0.0 and share.item() == 0.0


def test_consistency_term_trains_and_is_logged(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """With a zero threshold every unlabelled face is a target: the term is logged each
    epoch, and it changes the training (the D losses differ from the same run without it)."""
    lab, unl = tiny_inputs
    common = {**TINY_RUN, "epochs": 2, "lr_d": 2e-3}
    stage.run(stage.PretrainGanParams(**common), lab, [unl], tmp_path / "a.h5", tmp_path / "ap.h5")
    stage.run(
        stage.PretrainGanParams(**common, consistency_weight=1.0, consistency_threshold=0.0),
        lab,
        [unl],
        tmp_path / "b.h5",
        tmp_path / "bp.h5",
    )
    with open_artifact(tmp_path / "a.h5", "model") as art:
        plain = read_group(art, "history")
    with open_artifact(tmp_path / "b.h5", "model") as art:
        history = read_group(art, "history")
    assert "d_consistency" not in plain
    assert len(history["d_consistency"]) == 2 and np.all(history["d_consistency"] > 0)
    np.testing.assert_allclose(history["confident_share"], 1.0)
    # the adversarial term (the term itself is not in it) follows another course
    assert not np.allclose(plain["d_unsupervised"], history["d_unsupervised"])


def test_consistency_only_trains_d_without_the_game(
    tiny_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """The ablation: labels + the consistency term; no adversarial term, G never trained."""
    lab, unl = tiny_inputs
    params = stage.PretrainGanParams(
        **TINY_RUN,
        epochs=2,
        lr_d=2e-3,
        schedule="consistency-only",
        consistency_weight=1.0,
        consistency_threshold=0.0,
    )
    result = stage.run(params, lab, [unl], tmp_path / "m.h5", tmp_path / "p.h5")
    assert result.summary["train_accuracy"] > 0.5
    with open_artifact(tmp_path / "m.h5", "model") as art:
        history = read_group(art, "history")
        assert "samples" not in art.h5  # no grids of an untrained G
        assert not art.h5["generator"].attrs["trained"]
    assert "d_unsupervised" not in history and "g_loss" not in history
    assert len(history["d_consistency"]) == 2 and len(history["d_supervised"]) == 2
    # the untrained G is not a start for a later GAN: D is, G starts afresh
    later = stage.PretrainGanParams(**TINY_RUN, epochs=1, init=str(tmp_path / "m.h5"))
    result = stage.run(later, lab, [unl], tmp_path / "n.h5", tmp_path / "np.h5")
    assert result.summary["init"]["generator_loaded"] is False


def test_new_params_at_their_defaults_leave_the_fingerprint_as_it_was() -> None:
    """The consistency options came after artifacts were made: at their defaults they are
    not fingerprinted (those artifacts stay up to date); set, they are."""
    from emocli.params import result_params

    plain = result_params(stage.PretrainGanParams())
    assert "consistency_weight" not in plain and "consistency_threshold" not in plain
    used = result_params(stage.PretrainGanParams(consistency_weight=1.0))
    assert used["consistency_weight"] == 1.0 and "consistency_threshold" not in used
    assert result_params(stage.PretrainGanParams(consistency_threshold=0.8))[
        "consistency_threshold"
    ] == pytest.approx(0.8)


def test_augment_signed_keeps_d_s_range() -> None:
    """The strong view of the consistency term and the labelled augmentation return faces
    in D's [-1, 1], not augment_batch's [0, 1]: a dark face stays negative."""
    from emocli.training.augment import STRONG
    from emocli.training.gan import augment_signed

    torch.manual_seed(0)
    dark = torch.full((4, 1, 16, 16), -0.8)
    out = augment_signed(dark, STRONG)
    assert out.shape == dark.shape
    assert out.min() >= -1.0 - 1e-5 and out.max() <= 1.0 + 1e-5
    assert (out < 0).float().mean() > 0.5
