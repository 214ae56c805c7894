"""`emocli finetune` end to end on tiny artifacts: outputs, k-fold, chains, caching, errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli.artifacts import open_artifact, read_group
from emocli.cli import app
from emocli.predictions import load_predictions
from emocli.training.model_store import load_model, read_model_info
from tests.test_training import CLASSES, make_faces, make_spectrograms

runner = CliRunner()
TINY = ["--model", "resnet_small", "--model-kwargs", '{"widths": [4, 8], "blocks": [1, 1]}']
FAST = [
    "--batch-size",
    "8",
    "--lr",
    "0.01",
    "--accelerator",
    "cpu",
    "--devices",
    "1",
    "--threads",
    "1",
]


class _Result:
    """A CLI run: exit code and the output with line wraps undone."""

    def __init__(self, args: list[str]) -> None:
        result = runner.invoke(app, ["finetune", *args])
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split()).replace("- ", "-")


def _run(*args: str) -> _Result:
    return _Result(list(args))


def test_finetune_writes_model_predictions_and_curves(tmp_path: Path, workdir: Path) -> None:
    src = make_faces(tmp_path / "faces.h5", splits=lambda n: ["train"] * (n - 12) + ["test"] * 12)
    result = _run(str(src), *TINY, *FAST, "--epochs", "3", "--patience", "2", "--tta", "flip")
    assert result.exit_code == 0, result.output
    model_path = workdir / "models" / "faces-resnet_small.h5"
    pred_path = workdir / "predictions" / "faces-resnet_small.h5"
    assert model_path.is_file() and pred_path.is_file()
    assert (workdir / "models" / "faces-resnet_small.curves.png").stat().st_size > 1000
    assert "accuracy" in result.output
    model, info = load_model(model_path)
    assert info.architecture == "resnet_small" and info.classes == CLASSES
    assert info.model_kwargs["input_size"] == [16, 16] and info.model_kwargs["in_channels"] == 1
    assert info.input["kind"] == "faces" and info.input["normalisation"]["scale"] == 255.0
    assert info.input["upstream"]["stage"] == "preprocess-faces"
    assert set(info.history) >= {"epoch", "train_loss", "val_loss", "val_accuracy", "lr"}
    assert 1 <= len(info.history["epoch"]) <= 3
    preds = load_predictions(pred_path)
    assert len(preds) == 48 and preds.modality == "face" and preds.level == "frame"
    assert sorted(set(preds.split.tolist())) == ["test", "train"]
    assert (preds.fold == -1).all()
    with open_artifact(pred_path) as art:
        assert art.attrs["model"] == str(model_path)
    # the model artifact reproduces the stored predictions
    x = torch.from_numpy(np.stack([np.zeros((16, 16), np.uint8)]))[:, None]
    with torch.no_grad():
        assert model(info.transform()(x)).shape == (1, 3)


def test_second_run_is_up_to_date_and_force_reruns(tmp_path: Path, workdir: Path) -> None:
    src = make_faces(tmp_path / "faces.h5")
    args = [str(src), *TINY, *FAST, "--epochs", "1"]
    assert _run(*args).exit_code == 0
    again = _run(*args)
    assert again.exit_code == 0 and "up to date" in again.output
    changed = _run(*args, "--threads", "2")  # runtime-only option: still up to date
    assert "up to date" in changed.output
    forced = _run(*args, "--force")
    assert forced.exit_code == 0 and "wrote" in forced.output


def test_an_up_to_date_rerun_never_imports_torch(tmp_path: Path, workdir: Path) -> None:
    """Torch's start-up (seconds) is paid only when training starts, not by a cached rerun."""
    import subprocess
    import sys

    src = make_faces(tmp_path / "faces.h5")
    args = [str(src), *TINY, *FAST, "--epochs", "1"]
    assert _run(*args).exit_code == 0
    probe = (
        "import sys\nfrom emocli.cli import main\nsys.argv = ['emocli', 'finetune', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch loaded:', 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    )
    assert "up to date" in done.stdout and "torch loaded: False" in done.stdout, done.stdout


def test_kfold_writes_out_of_fold_predictions_grouped_by_subject(
    tmp_path: Path, workdir: Path
) -> None:
    src = make_faces(tmp_path / "faces.h5", n_subjects=6, per_subject=6)
    result = _run(str(src), *TINY, *FAST, "--epochs", "2", "--folds", "3", "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    assert "3-fold accuracy" in result.output and "by subject" in result.output
    preds = load_predictions(workdir / "predictions" / "faces-resnet_small.h5")
    assert len(preds) == 36 and sorted(set(preds.fold.tolist())) == [0, 1, 2]
    assert (preds.split == "test").all()
    for fold in range(3):
        subjects = set(preds.subject[preds.fold == fold].tolist())
        others = set(preds.subject[preds.fold != fold].tolist())
        assert subjects and not subjects & others
    info = read_model_info(workdir / "models" / "faces-resnet_small.h5")
    assert info.attrs["folds"] == 3 and info.attrs["weights_fold"] == 2
    assert sorted(set(info.history["fold"].tolist())) == [0, 1, 2]
    one = _run(
        str(src),
        *TINY,
        *FAST,
        "--epochs",
        "1",
        "--folds",
        "3",
        "--fold",
        "1",
        "--val-fraction",
        "0",
    )
    assert one.exit_code == 0, one.output
    single = load_predictions(workdir / "predictions" / "faces-resnet_small-fold1.h5")
    assert set(single.fold.tolist()) == {1}
    assert set(single.sample_id.tolist()) == set(preds.sample_id[preds.fold == 1].tolist())


@pytest.mark.parametrize("others", ["mean", "refit"])
def test_stacking_predicts_train_rows_out_of_fold(
    tmp_path: Path, workdir: Path, others: str
) -> None:
    def splits(n: int) -> list[str]:
        return ["train"] * (n - 12) + ["val"] * 12

    src = make_faces(tmp_path / "faces.h5", n_subjects=8, per_subject=6, splits=splits)
    other = make_faces(tmp_path / "other.h5", n_subjects=8, per_subject=6, splits=splits, seed=5)
    stack = [*TINY, *FAST, "--epochs", "1", "--folds", "3", "--stacking", others]
    stack += ["--validation", "none"]
    result = _run(str(src), *stack, "--predictions", str(tmp_path / "self.h5"))
    assert result.exit_code == 0, result.output
    assert "3-fold accuracy" in result.output and "36 rows predicted out of fold" in result.output
    by = "the fold models' mean" if others == "mean" else "the refitted model"
    assert f"12 by {by}" in result.output
    preds = load_predictions(tmp_path / "self.h5")
    train, val = preds.split == "train", preds.split == "val"
    assert len(preds) == 48 and train.sum() == 36 and val.sum() == 12
    assert sorted(set(preds.fold[train].tolist())) == [0, 1, 2]  # every train row out of fold
    assert (preds.fold[val] == -1).all()  # no fold model trained on val
    for fold in range(3):  # folds by subject, over the train rows only
        subjects = set(preds.subject[preds.fold == fold].tolist())
        assert subjects and not subjects & set(preds.subject[preds.fold != fold].tolist())
    model, info = load_model(workdir / "models" / "faces-resnet_small.h5")
    assert info.attrs["weights_fold"] == (-1 if others == "refit" else 2)
    if others == "refit":  # val is predicted by the model artifact, trained on every train row
        with open_artifact(src) as art:
            images = torch.from_numpy(art.column("images")[-12:])[:, None]
        with torch.no_grad():
            expected = torch.softmax(model(info.transform()(images)), dim=1).numpy()
        np.testing.assert_allclose(preds.probs[val], expected, atol=1e-5)
    # another artifact of the same clips: each row takes the fold that held its clip out
    result = _run(
        str(src), *stack, "--predict-on", str(other), "--predictions", str(tmp_path / "o.h5")
    )
    assert result.exit_code == 0, result.output
    onto = load_predictions(tmp_path / "o.h5")
    assert onto.clip_id.tolist() == preds.clip_id.tolist()
    assert onto.fold.tolist() == preds.fold.tolist()
    assert not np.allclose(onto.probs, preds.probs)  # other images, same fold models


def test_stacking_matches_training_clips_only_and_keeps_clips_whole(
    tmp_path: Path, workdir: Path
) -> None:
    src = make_faces(tmp_path / "faces.h5")  # unsplit: every row is a training row
    val = make_faces(tmp_path / "val.h5", splits=lambda n: ["val"] * n, seed=5)  # same clip ids
    args = [str(src), *TINY, *FAST, "--epochs", "1", "--folds", "3", "--stacking", "mean"]
    out = str(tmp_path / "val-preds.h5")
    result = _run(*args, "--validation", "none", "--predict-on", str(val), "--predictions", out)
    assert result.exit_code == 0, result.output
    preds = load_predictions(out)
    assert (preds.fold == -1).all()  # val rows are never out of fold, whatever their clip id
    started = time.perf_counter()
    split = _run(*args, "--group-by", "none")  # frames of a clip in several folds
    assert split.exit_code == 2 and "have rows in several folds" in split.output
    assert "--group-by clip_id" in split.output and time.perf_counter() - started < 10


def test_stacking_an_input_of_training_rows_only(tmp_path: Path, workdir: Path) -> None:
    src = make_faces(tmp_path / "faces.h5")  # every row unsplit: all held out by some fold
    args = [str(src), *TINY, *FAST, "--epochs", "1", "--folds", "3", "--stacking", "mean"]
    result = _run(*args, "--validation", "none")
    assert result.exit_code == 0, result.output
    preds = load_predictions(workdir / "predictions" / "faces-resnet_small.h5")
    assert len(preds) == 48 and sorted(set(preds.fold.tolist())) == [0, 1, 2]


def test_chain_transfers_everything_but_the_classifier(tmp_path: Path, workdir: Path) -> None:
    support = make_faces(tmp_path / "support.h5", classes=["angry", "happy", "neutral", "sad"])
    target = make_faces(tmp_path / "target.h5", seed=5)
    first = _run(
        str(support), *TINY, *FAST, "--epochs", "1", "-o", str(tmp_path / "support-model.h5")
    )
    assert first.exit_code == 0, first.output
    chain = _run(
        str(target), "--init", str(tmp_path / "support-model.h5"), *FAST, "--epochs", "1",
        "--freeze", "base", "--lr", "0.05", "-o", str(tmp_path / "chain.h5"),
    )  # fmt: skip
    assert chain.exit_code == 0, chain.output
    source, _ = load_model(tmp_path / "support-model.h5")
    chained, info = load_model(tmp_path / "chain.h5")
    assert info.architecture == "resnet_small"  # --model auto takes the source's
    assert info.input["normalisation"]["from"] == str(tmp_path / "support-model.h5")
    src_state, new_state = source.state_dict(), chained.state_dict()
    for key, value in new_state.items():
        if key.startswith("classifier."):
            assert value.shape[0] == 3  # replaced: 4 classes -> 3
        else:  # frozen base: unchanged from the source
            assert torch.equal(value, src_state[key]), key
    transfer = info.attrs["transfer"]
    assert transfer["head_replaced"] and transfer["kept"] == [
        "classifier.bias",
        "classifier.weight",
    ]
    wrong = _run(
        str(target), "--init", str(tmp_path / "support-model.h5"), "--model", "vgg16", *FAST
    )
    assert wrong.exit_code != 0 and "use --model resnet_small" in wrong.output


def test_predict_on_another_artifact_maps_labels_by_name(tmp_path: Path, workdir: Path) -> None:
    src = make_faces(tmp_path / "faces.h5")
    other = make_faces(
        tmp_path / "other.h5", seed=3, n_subjects=2, classes=["happy", "sad", "contempt"]
    )
    result = _run(str(src), *TINY, *FAST, "--epochs", "1", "--predict-on", str(other))
    assert result.exit_code == 0, result.output
    preds = load_predictions(workdir / "predictions" / "other-resnet_small.h5")
    assert len(preds) == 16 and preds.classes == CLASSES
    with open_artifact(other) as art:
        names = [art.classes[i] for i in art.column("label")]
    expected = [CLASSES.index(n) if n in CLASSES else -1 for n in names]
    assert preds.label.tolist() == expected


def test_spectrogram_images_take_the_image_path(tmp_path: Path, workdir: Path) -> None:
    src = make_spectrograms(tmp_path / "spec.h5", images=32)
    args = [str(src), "--model", "vgg16", "--model-kwargs", '{"width_mult": 0.0625, "hidden": 8}']
    result = _run(*args, *FAST, "--epochs", "1")
    assert result.exit_code == 0, result.output
    info = read_model_info(workdir / "models" / "spec-vgg16.h5")
    assert info.input["column"] == "images" and info.channels == 3
    assert info.model_kwargs["input_size"] == [32, 32]
    with open_artifact(workdir / "models" / "spec-vgg16.h5") as art:
        assert "history" in art.h5 and read_group(art, "history")["epoch"].tolist() == [0.0]
        assert json.loads(art.h5.attrs["input"])["kind"] == "spectrograms"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "resnet9000"], "--model must be one of"),
        (["--freeze", "some"], "all-but-last-N"),
        (["--folds", "1"], "--folds must be 0"),
        (["--fold", "2"], "--fold i needs --folds K"),
        (["--model-kwargs", "{bad"], "not valid JSON"),
        (["--model-kwargs", '{"n_classes": 3}'], "come from the input"),
        (["--init", "imagenet:/nonexistent.pth"], "input not found"),
        (["--folds", "10"], "10 folds need at least 10"),
        (["--stacking", "mean"], "--stacking needs --folds"),
        (["--folds", "3", "--stacking", "all"], "--stacking must be one of"),
        (["--folds", "3", "--predict-on", "x.h5"], "needs --stacking"),
    ],
)
def test_bad_options_give_clear_errors(
    tmp_path: Path, workdir: Path, args: list[str], message: str
) -> None:
    src = make_faces(tmp_path / "faces.h5")
    result = _run(str(src), *FAST, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert not list((workdir / "models").glob("*.h5")) if (workdir / "models").exists() else True


def test_wrong_input_kind_is_refused(tmp_path: Path, workdir: Path) -> None:
    src = make_faces(tmp_path / "faces.h5")
    _run(str(src), *TINY, *FAST, "--epochs", "1", "-o", str(tmp_path / "m.h5"))
    result = _run(str(tmp_path / "m.h5"), *FAST)
    assert result.exit_code != 0 and "faces or spectrograms artifact is expected" in result.output


def test_test_subjects_and_specaugment_on_features(tmp_path: Path, workdir: Path) -> None:
    src = make_spectrograms(tmp_path / "spec.h5")
    args = [
        str(src),
        "--model",
        "audio_fayek",
        "--model-kwargs",
        '{"widths": [2, 4], "kernel": 3, "hidden": 16}',
    ]
    result = _run(
        *args, *FAST, "--epochs", "2", "--test-subjects", "4-5", "--augment", "specaugment"
    )
    assert result.exit_code == 0, result.output
    preds = load_predictions(workdir / "predictions" / "spec-audio_fayek.h5")
    assert sorted(set(preds.subject[preds.split == "test"].tolist())) == ["S004", "S005"]
    assert "test" in result.output and preds.modality == "audio"
    bad = _run(*args, *FAST, "--augment", "spec", "--force")
    assert bad.exit_code != 0 and "use --augment specaugment, speech or none" in bad.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_unavailable_accelerator_is_a_clear_error(tmp_path: Path, workdir: Path) -> None:
    src = make_faces(tmp_path / "faces.h5")
    result = _run(str(src), *TINY, "--epochs", "1", "--accelerator", "gpu")
    assert result.exit_code != 0 and "Lightning cannot use --accelerator gpu" in result.output


def test_validation_sources(tmp_path: Path, workdir: Path) -> None:
    from emocli.artifacts import open_artifact as _open

    def splits(n: int) -> list[str]:
        return ["train"] * (n - 16) + ["val"] * 16

    src = make_faces(tmp_path / "faces.h5", splits=splits)
    for mode, expected in (("auto", "split"), ("holdout", "holdout"), ("none", "none")):
        out = tmp_path / f"m-{mode}.h5"
        result = _run(str(src), *TINY, *FAST, "--epochs", "1", "--validation", mode, "-o", str(out))
        assert result.exit_code == 0, result.output
        with _open(out) as art:
            summary = art.attrs["summary"]
        assert summary["validation"] == expected
        assert summary["val"] == {"split": 16, "holdout": summary["val"], "none": 0}[expected]
        assert summary["train"] == (32 if expected != "holdout" else 32 - summary["val"])
    plain = make_faces(tmp_path / "plain.h5")
    bad = _run(str(plain), *TINY, *FAST, "--validation", "split")
    assert bad.exit_code != 0 and "no labelled 'val' rows" in bad.output


def test_load_model_errors_and_gan_style_artifacts(tmp_path: Path) -> None:
    from emocli.artifacts import InputRef
    from emocli.errors import ArtifactError
    from emocli.models import TINY_CONFIGS, build_model
    from emocli.stage import OutputSpec, StageInfo, run_stage
    from emocli.training.model_store import ModelInfo, write_model
    from tests.test_training import _FakeParams

    torch.manual_seed(0)
    kwargs = {"in_channels": 1, "input_size": 16, "n_classes": 3, **TINY_CONFIGS["dcgan_d"]}
    net = build_model("dcgan_d", **kwargs)

    def write(path: Path, info: ModelInfo, state_net: torch.nn.Module) -> None:
        def build(writers: dict) -> dict:
            write_model(writers["model"], state_net, info)
            return {}

        run_stage(StageInfo("pretrain-gan", 1), _FakeParams(), [InputRef("x", str(path), "faces")],
                  {"model": OutputSpec(path, "model")}, build, force=True)  # fmt: skip

    gan_input = {"kind": "faces", "size": 16, "channels": 1, "normalisation": "minus_one_to_one"}
    write(tmp_path / "gan.h5", ModelInfo("dcgan_d", kwargs, CLASSES, gan_input), net)
    model, info = load_model(tmp_path / "gan.h5")
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), net.state_dict().values(), strict=True)
    )
    assert info.normalisation() == (255.0, [0.5], [0.5])  # the GAN's x / 127.5 - 1
    assert info.input_size == (16, 16) and info.channels == 1
    other = build_model("dcgan_d", **{**kwargs, "widths": [4, 4]})
    write(tmp_path / "bad.h5", ModelInfo("dcgan_d", kwargs, CLASSES, gan_input), other)
    with pytest.raises(ArtifactError, match="do not fit a dcgan_d"):
        load_model(tmp_path / "bad.h5")
    write(tmp_path / "unknown.h5", ModelInfo("resnet9000", {}, CLASSES, gan_input), net)
    with pytest.raises(ArtifactError, match="cannot rebuild"):
        load_model(tmp_path / "unknown.h5")


def test_model_names_match_the_registry() -> None:
    from emocli.models import MODELS
    from emocli.stage_params.choices import MODEL_NAMES

    assert tuple(MODELS) == MODEL_NAMES


def test_validating_finetune_params_imports_no_torch() -> None:
    """The up-to-date check validates params first: it must stay fast (no torch, Lightning)."""
    import subprocess
    import sys

    code = (
        "import sys; from stages.finetune import FinetuneParams; "
        "FinetuneParams(model='resnet_small', freeze='all-but-last-2', test_subjects='17-20'); "
        "print(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
