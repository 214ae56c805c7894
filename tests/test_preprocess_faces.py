"""The preprocess-faces stage and command: artifact contents, bad inputs, videos, cache, CLI."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import open_artifact, read_group
from emocli.cli import app
from emocli.errors import InputError
from stages.preprocess_faces import PreprocessFacesParams, run
from tests.test_faces import draw_face, scene, write_clip

runner = CliRunner()


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture(scope="module")
def sfew_with_bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SFEW-like folder of 'wild' stills: faces, a faceless image, and every kind of bad file."""
    from PIL import Image

    root = tmp_path_factory.mktemp("data") / "sfew"
    train = root / "Train"
    _png(train / "Happy" / "MovieA_000000001_00000001.png", scene(160, (240, 80)))
    _png(train / "Sad" / "MovieA_000000002_00000003.png", scene(140, (100, 200)))
    noise = np.random.default_rng(0).integers(0, 255, (300, 400)).astype(np.uint8)
    _png(train / "Sad" / "MovieB_000000003_00000001.png", noise)
    bad = train / "Angry"
    bad.mkdir(parents=True)
    ok, jpeg = cv2.imencode(".jpg", scene(160, (240, 40)))
    (bad / "MovieC_000000004_00000001.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2])
    (bad / "MovieC_000000005_00000001.png").write_bytes(b"")
    (bad / "MovieC_000000006_00000001.png").write_text("this is not a PNG")
    _png(bad / "MovieC_000000007_00000001.png", np.zeros((4, 4), np.uint8))
    _png(bad / "MovieC_000000008_00000001.png", scene(160, (240, 80)).astype(np.uint16) * 257)
    rgba = cv2.cvtColor(cv2.cvtColor(scene(160, (200, 60)), cv2.COLOR_GRAY2BGR), cv2.COLOR_BGR2BGRA)
    rgba[..., 3] = 128
    _png(bad / "MovieC_000000009_00000001.png", rgba)
    cmyk = Image.fromarray(scene(160, (220, 90))).convert("CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, format="JPEG")
    (bad / "MovieC_000000010_00000001.jpg").write_bytes(buffer.getvalue())
    return root


ALL_IDS = {
    "Train/Happy/MovieA_000000001_00000001",
    "Train/Sad/MovieA_000000002_00000003",
    "Train/Sad/MovieB_000000003_00000001",
    *(f"Train/Angry/MovieC_0000000{k:02d}_00000001" for k in range(4, 11)),
}


def test_every_input_is_kept_or_rejected_with_its_reason(
    sfew_with_bad_files: Path, tmp_path: Path
) -> None:
    out = tmp_path / "faces.h5"
    result = run(PreprocessFacesParams(workers=1), sfew_with_bad_files, out)
    assert not result.up_to_date
    with open_artifact(out, "faces") as art:
        ids = list(art.column("sample_id"))
        rejects = read_group(art, "rejects")
        images = art.column("images")
        assert art.attrs["source_format"] == "sfew"
        assert art.attrs["preprocessing"]["on_miss"] == "reject"  # wild images
        assert art.attrs["canonical_eyes"] == [[19.2, 23.04], [44.8, 23.04]]
        assert images.shape == (len(ids), 64, 64) and images.dtype == np.uint8
        status = dict(zip(ids, art.column("status"), strict=True))
        labels = dict(zip(ids, art.column("label"), strict=True))
        clips = dict(zip(ids, art.column("clip_id"), strict=True))
        groups = dict(zip(ids, art.column("group"), strict=True))
        classes = art.classes
        assert set(art.column("frame")) == {-1}
    reasons = dict(zip(rejects["sample_id"], rejects["reason"], strict=True))
    assert set(ids) | set(reasons) == ALL_IDS and not set(ids) & set(reasons)
    assert reasons["Train/Sad/MovieB_000000003_00000001"] == "no face"
    assert reasons["Train/Angry/MovieC_000000005_00000001"] == "empty file"
    assert reasons["Train/Angry/MovieC_000000006_00000001"] == "unreadable image"
    assert reasons["Train/Angry/MovieC_000000007_00000001"].startswith("too small")
    for k in (8, 9, 10):  # 16-bit PNG, RGBA PNG, CMYK JPEG: decoded and processed
        assert status[f"Train/Angry/MovieC_0000000{k:02d}_00000001"].startswith("face")
    happy = "Train/Happy/MovieA_000000001_00000001"
    assert classes[labels[happy]] == "happy" and status[happy] == "face+eyes"
    assert clips[happy] == "000000001" and groups[happy] == "MovieA"
    summary = result.summary
    assert summary["faces"] == len(ids) and summary["rejected"] == len(reasons)
    angry = next(r for r in summary["table"] if r["class"] == "angry")
    assert angry["read"] == 7 and angry["kept"] + angry["rejected"] == 7
    assert (tmp_path / "faces.preview.png").is_file()


def test_cache_force_and_workers_do_not_change_the_result(
    sfew_with_bad_files: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.h5"
    first = run(PreprocessFacesParams(workers=1, size=48), sfew_with_bad_files, out)
    again = run(PreprocessFacesParams(workers=2, size=48), sfew_with_bad_files, out)
    assert again.up_to_date and again.summary == first.summary
    with open_artifact(out) as art:
        one = art.column("images"), list(art.column("sample_id"))
    forced = run(PreprocessFacesParams(workers=2, size=48), sfew_with_bad_files, out, force=True)
    assert not forced.up_to_date
    with open_artifact(out) as art:
        assert list(art.column("sample_id")) == one[1]
        assert np.array_equal(art.column("images"), one[0])
    other = run(PreprocessFacesParams(workers=1, size=32), sfew_with_bad_files, out)
    assert not other.up_to_date  # a result-changing parameter reruns


def test_video_clips_sample_frames_and_reject_undecodable_ones(tmp_path: Path) -> None:
    root = tmp_path / "afew"
    clip = root / "Train" / "Happy" / "000000001.mp4"
    clip.parent.mkdir(parents=True)
    write_clip(clip, [scene(150, (200 + 5 * i, 90)) for i in range(6)], fps=10)
    broken = root / "Train" / "Sad" / "000000002.avi"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"RIFF garbage that no demuxer accepts" * 10)
    (root / "Train" / "Sad" / "000000003.mp4").write_bytes(b"")
    zeroed = root / "Train" / "Sad" / "000000004.avi"  # a valid header, payload wiped
    write_clip(zeroed, [scene(150)] * 3)
    data = bytearray(zeroed.read_bytes())
    data[len(data) // 10 : -200] = bytes(len(data) - 200 - len(data) // 10)
    zeroed.write_bytes(bytes(data))
    out = tmp_path / "afew.h5"
    result = run(PreprocessFacesParams(workers=1, fps=5.0), root, out)
    with open_artifact(out, "faces") as art:
        assert list(art.column("frame")) == [0, 2, 4]  # 10 fps sampled at 5 fps
        assert set(art.column("clip_id")) == {"000000001"}
        assert list(art.column("sample_id"))[0] == "Train/Happy/000000001/00000"
        assert all(s.startswith("face") for s in art.column("status"))
        rejects = read_group(art, "rejects")
    reasons = dict(zip(rejects["sample_id"], rejects["reason"], strict=True))
    assert reasons["Train/Sad/000000002"].startswith("not a readable video file")
    assert reasons["Train/Sad/000000003"] == "empty file (0 bytes)"
    assert reasons["Train/Sad/000000004"] == "no decodable frames"
    assert result.summary["media"] == "video" and result.summary["on_miss"] == "reject"
    capped = run(PreprocessFacesParams(workers=1, max_frames=2), root, tmp_path / "c.h5")
    assert capped.summary["faces"] == 2


def test_fer2013_csv_rows_become_faces(tmp_path: Path) -> None:
    crop = cv2.resize(draw_face(200)[40:170, 35:165], (48, 48), interpolation=cv2.INTER_AREA)
    pixels = " ".join(str(v) for v in crop.ravel())
    path = tmp_path / "fer2013.csv"
    path.write_text(
        f"emotion,pixels,Usage\n3,{pixels},Training\n5,{pixels},PublicTest\n0,1 2 3,Training\n"
    )
    out = tmp_path / "fer.h5"
    result = run(PreprocessFacesParams(workers=1, size=48), path, out)
    with open_artifact(out, "faces") as art:
        names = [art.classes[k] for k in art.column("label")]
        assert names == ["happy", "surprise"]
        assert list(art.column("split")) == ["train", "val"]
        assert art.attrs["preprocessing"]["on_miss"] == "keep"  # pre-cropped faces
        rejects = read_group(art, "rejects")
    assert list(rejects["reason"]) == ["bad pixels (not a square of integers 0..255)"]
    assert result.summary["layout"] == "csv"


def test_missing_or_empty_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        run(PreprocessFacesParams(), tmp_path / "missing", tmp_path / "x.h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        run(PreprocessFacesParams(), tmp_path / "empty", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_the_old_spelling_of_the_unlabelled_format_is_the_same_params() -> None:
    old, new = PreprocessFacesParams(format="unlabeled"), PreprocessFacesParams(format="unlabelled")
    assert old == new and old.format == "unlabelled"  # hence the same fingerprint


def test_a_config_with_the_old_name_of_the_cascade_still_loads(tmp_path: Path) -> None:
    """``cascade``, the parameter of --cascade before the option was generated from the field
    ``face_cascade``, is read as ``face_cascade``."""
    import typer.main

    from emocli.config import load_config

    command = typer.main.get_command(app).commands["preprocess-faces"]  # type: ignore[attr-defined]
    config = tmp_path / "old.toml"
    config.write_text('stage = "preprocess-faces"\ncascade = "x.xml"\n')
    assert load_config(config, command) == {"face_cascade": "x.xml"}


def test_the_class_list_option_is_comma_separated_normalised_names(tmp_path: Path) -> None:
    for name in ("happy", "sad"):
        (tmp_path / "ds" / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "ds" / name / "a.png"), np.full((32, 32), 128, np.uint8))
    out = tmp_path / "f.h5"
    args = [str(tmp_path / "ds"), "--detector", "none", "--classes", "Happy, sad", "-o", str(out)]
    result = runner.invoke(app, ["preprocess-faces", *args, "-j", "1", "--no-preview"])
    assert result.exit_code == 0, result.output
    with open_artifact(out, "faces") as art:
        assert art.params["classes"] == ["happy", "sad"]


def test_cli_default_output_summary_and_errors(
    sfew_with_bad_files: Path, workdir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["preprocess-faces", str(sfew_with_bad_files), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert (workdir / "faces" / "sfew.h5").is_file()
    assert (workdir / "faces" / "sfew.preview.png").is_file()
    assert "inputs per split and class" in result.output and "rejected" in result.output
    again = runner.invoke(app, ["preprocess-faces", str(sfew_with_bad_files)])
    assert again.exit_code == 0 and "up to date" in again.output
    missing = runner.invoke(app, ["preprocess-faces", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "not found" in missing.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["preprocess-faces", str(tmp_path / "empty")])
    assert empty.exit_code != 0 and "empty" in empty.output
    bad = runner.invoke(app, ["preprocess-faces", str(sfew_with_bad_files), "--on-miss", "maybe"])
    assert bad.exit_code != 0 and "--on-miss" in bad.output
