"""The face dataset readers on small generated fixtures in the real layouts, and auto-detection."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emocli.datasets.detect import detect_face_format, read_face_source
from emocli.datasets.fer2013 import iter_fer2013_pixels, pixels_to_image
from emocli.datasets.sfew import parse_sfew_name
from emocli.errors import InputError


def _image(path: Path, side: int = 24, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((side, side), value, np.uint8))
    return path


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_sfew_layout(tmp_path: Path) -> None:
    root = tmp_path / "sfew"
    _image(root / "Train" / "Angry" / "Airheads_000519240_00000005.png")
    _image(root / "Train" / "Sad" / "IAmSam_013827920__00000055.png")  # a real odd name
    _image(root / "Val" / "Surprise" / "Some_Movie_001234567_00000012.png")
    _image(root / "Test" / "Unknown_000000001_00000001.png")
    assert detect_face_format(root) == "sfew"
    source = read_face_source(root)
    by_id = {i.sample_id: i for i in source.items}
    first = by_id["Train/Angry/Airheads_000519240_00000005"]
    assert (first.label, first.split, first.clip_id, first.group) == (
        "angry",
        "train",
        "000519240",
        "Airheads",
    )
    assert by_id["Train/Sad/IAmSam_013827920__00000055"].clip_id == "013827920"
    val = by_id["Val/Surprise/Some_Movie_001234567_00000012"]
    assert (val.split, val.group, val.label) == ("val", "Some_Movie", "surprise")
    test = by_id["Test/Unknown_000000001_00000001"]
    assert (test.label, test.split) == ("", "test")
    assert source.classes[:7] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert source.precropped  # 24 px images
    # a split folder given directly: its name is the split
    train = read_face_source(root / "Train")
    assert train.format == "sfew" and {i.split for i in train.items} == {"train"}


def test_sfew_names() -> None:
    assert parse_sfew_name("OceansThirteen-010619400_00000087") == (
        "OceansThirteen",
        "010619400",
        87,
    )
    assert parse_sfew_name("no_numbers_here") is None


def test_afew_layout(tmp_path: Path) -> None:
    root = tmp_path / "AFEW"
    _touch(root / "Train" / "Happy" / "000046280.avi")
    _touch(root / "Val" / "Fear" / "000150964.avi")
    assert detect_face_format(root) == "afew"
    source = read_face_source(root)
    assert source.media == "video" and not source.precropped
    assert [(i.clip_id, i.label, i.split) for i in source.items] == [
        ("000046280", "happy", "train"),
        ("000150964", "fear", "val"),
    ]


def _ck_sequence(images: Path, subject: str, seq: str, n: int) -> list[Path]:
    return [
        _image(images / subject / seq / f"{subject}_{seq}_{k:08d}.png", 30, 10 * k)
        for k in range(1, n + 1)
    ]


def test_ckplus_original_layout(tmp_path: Path) -> None:
    root = tmp_path / "CK+"
    images = root / "cohn-kanade-images"
    frames = _ck_sequence(images, "S005", "001", 11)
    _ck_sequence(images, "S005", "002", 4)  # unlabelled sequence: not used
    _ck_sequence(images, "S010", "003", 5)
    emotion = root / "Emotion"
    _touch(emotion / "S005" / "001" / "S005_001_00000011_emotion.txt", b"   3.0000000e+00\n")
    _touch(emotion / "S010" / "003" / "S010_003_00000005_emotion.txt", b"   6.0000000e+00\n")
    _touch(emotion / "S010" / "004" / "S010_004_00000005_emotion.txt", b"garbage")
    assert detect_face_format(root) == "ckplus"
    source = read_face_source(root)
    assert source.layout == "cohn-kanade" and not source.precropped
    seq1 = [i for i in source.items if i.clip_id == "S005_001"]
    assert [i.path for i in seq1] == frames[-3:]  # ceil(20 % of 11) = 3 last frames
    assert {i.label for i in seq1} == {"disgust"} and {i.subject for i in seq1} == {"S005"}
    seq3 = [i for i in source.items if i.clip_id == "S010_003"]
    assert len(seq3) == 1 and seq3[0].label == "sad"
    assert not [i for i in source.items if i.clip_id == "S005_002"]
    assert [r[2] for r in source.rejects] == ["unreadable CK+ label file"]
    with_neutral = read_face_source(root, ck_neutral=True, ck_peak_fraction=0.5)
    seq1 = [i for i in with_neutral.items if i.clip_id == "S005_001"]
    assert seq1[0].path == frames[0] and seq1[0].label == "neutral"
    assert len(seq1) == 1 + 6  # neutral + ceil(50 % of 11)
    assert "neutral" in with_neutral.classes


def test_ck48_layout(tmp_path: Path) -> None:
    root = tmp_path / "ckplus48"
    _image(root / "anger" / "S010_004_00000017.png", 48)
    _image(root / "contempt" / "S138_008_00000007.png", 48)
    _image(root / "sadness" / "S011_002_00000020.png", 48)
    assert detect_face_format(root) == "ckplus"
    source = read_face_source(root)
    assert source.layout == "ck48" and source.precropped
    assert source.classes == ["angry", "sad", "contempt"]  # SPEC names first, others kept
    first = source.items[0]
    assert (first.label, first.subject, first.clip_id) == ("angry", "S010", "S010_004")


def test_fer2013_csv(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    rows = ["emotion,pixels,Usage"]
    for k, (emotion, usage) in enumerate(
        [("0", "Training"), ("6", "PublicTest"), ("9", "Training"), ("3", "PrivateTest")]
    ):
        rows.append(f"{emotion},{' '.join(str((k * 7 + j) % 256) for j in range(48 * 48))},{usage}")
    path.write_text("\n".join(rows) + "\n")
    assert detect_face_format(path) == "fer2013"
    assert detect_face_format(tmp_path) == "fer2013"  # the folder holding fer2013.csv
    source = read_face_source(path)
    assert source.media == "pixels" and source.csv == path and source.precropped
    assert [(i.label, i.split, i.row) for i in source.items] == [
        ("angry", "train", 0),
        ("neutral", "val", 1),
        ("happy", "test", 3),
    ]
    assert [r[2] for r in source.rejects] == ["bad label '9'"]
    texts = list(iter_fer2013_pixels(path, [i.row for i in source.items]))
    image = pixels_to_image(texts[2])
    assert image is not None and image.shape == (48, 48) and image[0, 1] == (3 * 7 + 1) % 256
    assert pixels_to_image("1 2 3") is None and pixels_to_image("a b c d") is None


def test_fer2013_image_folders(tmp_path: Path) -> None:
    root = tmp_path / "fer2013"
    _image(root / "train" / "happy" / "Training_10118481.jpg", 48)
    _image(root / "test" / "sad" / "PublicTest_8810.jpg", 48)
    _image(root / "test" / "sad" / "PrivateTest_100.jpg", 48)
    assert detect_face_format(root) == "fer2013"
    source = read_face_source(root)
    assert source.layout == "image-folder"
    assert [(i.label, i.split) for i in source.items] == [
        ("sad", "test"),
        ("sad", "val"),
        ("happy", "train"),
    ]


def test_ravdess_videos(tmp_path: Path) -> None:
    root = tmp_path / "ravdess"
    _touch(root / "Actor_12" / "01-01-03-02-01-01-12.mp4")
    _touch(root / "Actor_12" / "02-01-02-01-01-01-12.mp4")
    _touch(root / "Actor_12" / "clip.mp4")  # not a RAVDESS name: forced format rejects it
    assert detect_face_format(root / "Actor_12" / "01-01-03-02-01-01-12.mp4") == "ravdess-video"
    source = read_face_source(root, "ravdess-video")
    assert [(i.label, i.subject, i.clip_id) for i in source.items] == [
        ("happy", "12", "01-03-02-01-01-12"),
        ("calm", "12", "01-02-01-01-01-12"),
    ]
    assert len(source.rejects) == 1 and "clip" in source.rejects[0][0]


def test_folder_and_unlabelled(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    _image(root / "train" / "Anger" / "a.png")
    _image(root / "train" / "Sadness" / "b.jpg")
    _image(root / "val" / "Happiness" / "c.bmp")
    assert detect_face_format(root) == "folder"
    source = read_face_source(root)
    assert [(i.label, i.split) for i in source.items] == [
        ("angry", "train"),
        ("sad", "train"),
        ("happy", "val"),
    ]
    pets = tmp_path / "pets"
    _image(pets / "cats" / "x.png")
    _image(pets / "dogs" / "y.png")
    assert detect_face_format(pets) == "unlabelled"  # not emotion names: needs --format folder
    forced = read_face_source(pets, "folder")
    assert [i.label for i in forced.items] == ["cats", "dogs"]
    tree = tmp_path / "casia"
    _image(tree / "0000045" / "001.jpg")
    _image(tree / "0000099" / "001.jpg")
    source = read_face_source(tree)
    assert source.format == "unlabelled" and source.classes == []
    assert [i.sample_id for i in source.items] == ["0000045/001", "0000099/001"]
    assert all(i.label == "" for i in source.items)
    for name in ("unlabelled", "unlabeled"):  # the old spelling is still read
        given = read_face_source(tree, name)
        assert given.format == "unlabelled" and len(given.items) == 2


def test_missing_empty_and_mismatched_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_face_source(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        read_face_source(tmp_path / "empty")
    _touch(tmp_path / "docs" / "readme.txt")
    with pytest.raises(InputError, match="no images, videos"):
        read_face_source(tmp_path / "docs")
    with pytest.raises(InputError, match="no sfew samples"):
        read_face_source(tmp_path / "docs", "sfew")
    _image(tmp_path / "flat" / "a.png")
    with pytest.raises(InputError, match="unknown face format"):
        read_face_source(tmp_path / "flat", "casia")


@pytest.mark.real_data
def test_real_layouts_are_recognised(shared_datasets: Path) -> None:
    sfew = read_face_source(shared_datasets / "sfew2" / "Train")
    assert (sfew.format, len(sfew.items), sfew.precropped) == ("sfew", 859, True)
    assert all(i.clip_id and i.split == "train" for i in sfew.items)
    ck48 = read_face_source(shared_datasets / "ckplus48")
    assert (ck48.format, ck48.layout, len(ck48.items)) == ("ckplus", "ck48", 981)
    assert len({i.subject for i in ck48.items}) == 118
    assert "contempt" in ck48.classes and "angry" in ck48.classes
    fer = read_face_source(shared_datasets / "fer2013")
    splits = {s: sum(i.split == s for i in fer.items) for s in ("train", "val")}
    assert (fer.layout, splits) == ("image-folder", {"train": 28709, "val": 3589})
    csv = read_face_source(shared_datasets / "fer2013_sample.csv")
    assert (csv.media, len(csv.items)) == ("pixels", 560)
    ravdess = read_face_source(shared_datasets / "ravdess_av_sample")
    assert ravdess.format == "ravdess-video" and ravdess.items[0].label == "neutral"
    utk = read_face_source(shared_datasets / "utkface_unlabeled")
    assert (utk.format, len(utk.items), utk.classes) == ("unlabelled", 9780, [])
