"""The synthetic demo dataset: layout, determinism, detectable faces, sound tracks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import av
import cv2
import librosa
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emocli.demo import DemoSpec, generate_demo_data, video, voices
from emocli.demo.expressions import sample_intensity
from emocli.demo.generate import still_indices
from emocli.demo.spec import AFEW_TRAIN_COUNTS, EMOTION_FOLDERS, class_counts

#: Small enough to generate in a few seconds, big enough for every class in Train.
SMALL = DemoSpec(seed=0, clips_train=14, clips_val=7, frames_per_clip_sfew=3, unlabelled=10)

EMOTION = "(" + "|".join(EMOTION_FOLDERS) + ")"
AFEW_NAME = re.compile(rf"afew/(Train|Val)/{EMOTION}/(\d{{9}})\.mp4")
SFEW_NAME = re.compile(rf"sfew/(Train|Val)/{EMOTION}/(DemoMovie\d{{2}})_(\d{{9}})_(\d{{8}})\.png")
UNLABELLED_NAME = re.compile(r"unlabelled/face_\d{6}\.png")

HAAR_DIR: str = cv2.data.haarcascades  # type: ignore[attr-defined]  # not in cv2's stubs
FACE_CASCADE = HAAR_DIR + "haarcascade_frontalface_default.xml"
EYE_CASCADE = HAAR_DIR + "haarcascade_eye.xml"
MIN_FACE_RATE = 0.9
MIN_EYES_RATE = 0.75


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The SMALL demo dataset and its summary."""
    out = tmp_path_factory.mktemp("demo") / "data"
    return out, generate_demo_data(out, SMALL)


def relative_files(root: Path) -> list[str]:
    """Every file under ``root``, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()
        for name in relative_files(root)
    }


def grey_clahe(bgr: np.ndarray) -> np.ndarray:
    """The preprocessing of SPEC's methodology 1: grey, then CLAHE."""
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return clahe.apply(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))


def detect(
    bgr: np.ndarray, faces: cv2.CascadeClassifier, eyes: cv2.CascadeClassifier
) -> tuple[bool, bool]:
    """(a face was found, both eyes were found in the upper half of the largest face)."""
    grey = grey_clahe(bgr)
    found = faces.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
    if len(found) == 0:
        return False, False
    x, y, w, h = max(found, key=lambda box: box[2] * box[3])
    boxes = eyes.detectMultiScale(grey[y : y + h, x : x + w], scaleFactor=1.1, minNeighbors=3)
    centres = [(ex + ew / 2, ey + eh / 2) for ex, ey, ew, eh in boxes if ey + eh / 2 < h / 2]
    left = any(cx < w / 2 for cx, _ in centres)
    right = any(cx >= w / 2 for cx, _ in centres)
    return True, left and right


def detection_rates(images: list[np.ndarray]) -> tuple[float, float]:
    """Fraction of ``images`` with a face, and of those faces with both eyes found."""
    faces = cv2.CascadeClassifier(FACE_CASCADE)
    eyes = cv2.CascadeClassifier(EYE_CASCADE)
    results = np.array([detect(image, faces, eyes) for image in images])
    n_faces = results[:, 0].sum()
    return float(results[:, 0].mean()), float(results[:, 1].sum() / max(n_faces, 1))


def read_image(path: Path) -> np.ndarray:
    """A PNG as (H, W, 3) uint8 BGR."""
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def decode_frames(path: Path) -> list[np.ndarray]:
    """Every video frame of a clip, (H, W, 3) uint8 BGR."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """A clip's sound track as (n,) float32 mono and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate(chunks).astype(np.float32), stream.rate


# --- layout -----------------------------------------------------------------------------


def test_every_file_follows_the_real_datasets_naming(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    names = relative_files(root)
    assert "README.txt" in names
    unexpected = [
        n
        for n in names
        if n != "README.txt"
        and not (AFEW_NAME.fullmatch(n) or SFEW_NAME.fullmatch(n) or UNLABELLED_NAME.fullmatch(n))
    ]
    assert unexpected == []


def test_summary_matches_the_files_and_the_spec(demo: tuple[Path, dict]) -> None:
    root, summary = demo
    names = relative_files(root)
    for split, n_clips in (("Train", SMALL.clips_train), ("Val", SMALL.clips_val)):
        assert summary["afew"][split] == class_counts(n_clips)
        for emotion in EMOTION_FOLDERS:
            clips = [n for n in names if n.startswith(f"afew/{split}/{emotion}/")]
            stills = [n for n in names if n.startswith(f"sfew/{split}/{emotion}/")]
            assert len(clips) == summary["afew"][split][emotion]
            assert len(stills) == summary["sfew"][split][emotion]
            assert len(stills) == SMALL.frames_per_clip_sfew * len(clips)
    assert summary["unlabelled"] == SMALL.unlabelled
    assert len([n for n in names if UNLABELLED_NAME.fullmatch(n)]) == SMALL.unlabelled


def test_every_class_is_in_train(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    for emotion in EMOTION_FOLDERS:
        assert list((root / "afew" / "Train" / emotion).glob("*.mp4")), emotion
        assert list((root / "sfew" / "Train" / emotion).glob("*.png")), emotion


def test_stills_name_existing_clips_and_frames(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    movie_of_clip: dict[str, str] = {}
    for name in relative_files(root):
        match = SFEW_NAME.fullmatch(name)
        if not match:
            continue
        split, emotion, movie, clip_id, frame = match.groups()
        clip = root / "afew" / split / emotion / f"{clip_id}.mp4"
        assert clip.is_file(), name
        with av.open(str(clip)) as container:
            assert int(frame) < container.streams.video[0].frames
        assert movie_of_clip.setdefault(clip_id, movie) == movie


def test_clip_ids_are_unique_and_splits_share_no_movie(demo: tuple[Path, dict]) -> None:
    root, summary = demo
    ids = [
        AFEW_NAME.fullmatch(n).group(3)  # type: ignore[union-attr]
        for n in relative_files(root)
        if AFEW_NAME.fullmatch(n)
    ]
    assert len(ids) == len(set(ids)) == SMALL.clips_train + SMALL.clips_val
    assert not set(summary["movies"]["Train"]) & set(summary["movies"]["Val"])


def test_refuses_to_write_into_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate_demo_data(tmp_path, SMALL)
    assert relative_files(tmp_path) == ["keep.txt"]


def test_an_interrupted_run_leaves_nothing_behind(tmp_path: Path) -> None:
    def stop(task: str, done: int, total: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_demo_data(tmp_path / "d", DemoSpec(clips_train=2, clips_val=0), progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_every_task_to_completion(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    spec = DemoSpec(clips_train=1, clips_val=0, unlabelled=2, max_clip_s=1.0)
    generate_demo_data(tmp_path / "d", spec, progress=lambda t, d, n: calls.append((t, d, n)))
    finals = {task: (done, total) for task, done, total in calls}
    assert finals == {"rendering clips": (1, 1), "drawing unlabelled faces": (2, 2)}


# --- determinism ------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(demo: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = demo
    generate_demo_data(tmp_path / "again", SMALL)
    assert digests(tmp_path / "again") == digests(root)


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    tiny = DemoSpec(clips_train=3, clips_val=1, unlabelled=3, max_clip_s=1.5)
    generate_demo_data(tmp_path / "a", tiny)
    generate_demo_data(tmp_path / "b", replace(tiny, seed=1))
    first, second = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert set(first.values()) & set(second.values()) == set()
    assert all(first[n] != second[n] for n in first if n.startswith("unlabelled/"))


# --- faces the Haar cascades find -------------------------------------------------------


def test_haar_cascade_finds_the_face_in_the_stills(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    stills = [read_image(p) for p in sorted((root / "sfew").rglob("*.png"))]
    face_rate, eyes_rate = detection_rates(stills)
    assert face_rate >= MIN_FACE_RATE
    assert eyes_rate >= MIN_EYES_RATE


def test_haar_cascade_finds_the_face_in_video_frames(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    clips = sorted((root / "afew").rglob("*.mp4"))[::4]
    frames = [frame for clip in clips for frame in decode_frames(clip)[::3]]
    assert len(frames) > 40
    face_rate, eyes_rate = detection_rates(frames)
    assert face_rate >= MIN_FACE_RATE
    assert eyes_rate >= MIN_EYES_RATE


def test_haar_cascade_finds_the_unlabelled_faces(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    faces = [read_image(p) for p in sorted((root / "unlabelled").glob("*.png"))]
    face_rate, _ = detection_rates(faces)
    assert face_rate >= MIN_FACE_RATE


# --- clips: video and sound -------------------------------------------------------------


def test_clips_have_video_and_audio_of_the_same_duration(demo: tuple[Path, dict]) -> None:
    root, _ = demo
    for clip in sorted((root / "afew").rglob("*.mp4")):
        with av.open(str(clip)) as container:
            video, audio = container.streams.video[0], container.streams.audio[0]
            assert video.average_rate == SMALL.fps
            assert (video.width, video.height) == (SMALL.image_size, SMALL.image_size)
            assert audio.rate == SMALL.sample_rate and audio.channels == 1
            assert video.duration is not None and audio.duration is not None
            assert video.time_base is not None and audio.time_base is not None
            video_s = float(video.duration * video.time_base)
            audio_s = float(audio.duration * audio.time_base)
        assert SMALL.min_clip_s - 0.05 <= video_s <= SMALL.max_clip_s + 0.05
        assert abs(audio_s - video_s) < 0.1, clip
        samples, rate = decode_audio(clip)
        assert abs(samples.size / rate - video_s) < 0.1, clip
        assert 0.0 < float(np.abs(samples).max()) <= 1.0


def test_clips_can_fall_back_to_mpeg4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "VIDEO_CODECS", ("no-such-codec", "mpeg4"))
    frames = [np.full((96, 96, 3), 40 * k, np.uint8) for k in range(5)]
    path = tmp_path / "clip.mp4"
    video.write_clip(path, frames, np.zeros(5 * 640, np.float32), fps=25, sample_rate=16000)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
        assert container.streams.audio[0].codec_context.name == "aac"
    assert len(decode_frames(path)) == 5


def test_angry_clips_are_louder_than_sad_clips(demo: tuple[Path, dict]) -> None:
    root, _ = demo

    def mean_rms(emotion: str) -> float:
        clips = sorted((root / "afew").glob(f"*/{emotion}/*.mp4"))
        return float(np.mean([np.sqrt(np.mean(decode_audio(c)[0] ** 2)) for c in clips]))

    assert mean_rms("Angry") > 1.5 * mean_rms("Sad")


def _voice_measures(emotion: str, n: int, seed: int) -> np.ndarray:
    """(n, 3) per utterance: RMS, median F0 in Hz and F0 slope in semitones per second."""
    rng = np.random.default_rng(seed)
    sr, frame_s = 16000, 512 / 16000
    rows = []
    for _ in range(n):
        prosody = voices.clip_prosody(emotion, sample_intensity(rng), rng)
        utterance = voices.synthesise(
            voices.Voice(f0=150.0, formant_scale=1.0), prosody, 2 * sr, sr, rng
        )
        f0 = librosa.yin(
            utterance.audio, fmin=60, fmax=800, sr=sr, frame_length=2048, hop_length=512
        )
        envelope = utterance.envelope[::512][: f0.size]
        voiced = envelope[: f0.size] > 0.9
        semitones = 12 * np.log2(f0[voiced])
        slope = np.polyfit(np.flatnonzero(voiced) * frame_s, semitones, 1)[0]
        rms = float(np.sqrt(np.mean(utterance.audio**2)))
        rows.append((rms, float(np.median(f0[voiced])), float(slope)))
    return np.array(rows)


def test_voice_prosody_depends_on_the_emotion() -> None:
    angry, sad, surprise = (
        _voice_measures(e, 8, seed) for seed, e in enumerate(("Angry", "Sad", "Surprise"))
    )
    assert angry[:, 0].mean() > 1.5 * sad[:, 0].mean()  # louder
    assert angry[:, 1].mean() > 1.15 * sad[:, 1].mean()  # higher
    assert surprise[:, 2].mean() > sad[:, 2].mean() + 2.0  # rising, not falling


# --- small parts ------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=2000))
def test_class_counts_share_the_total_like_afew(total: int) -> None:
    counts = class_counts(total)
    assert sum(counts.values()) == total
    assert list(counts) == list(EMOTION_FOLDERS)
    if total >= len(EMOTION_FOLDERS):
        assert min(counts.values()) >= 1
    if total >= 200:
        assert counts["Happy"] > counts["Disgust"]
        share = {c: n / total for c, n in counts.items()}
        expected = {c: n / sum(AFEW_TRAIN_COUNTS.values()) for c, n in AFEW_TRAIN_COUNTS.items()}
        assert all(abs(share[c] - expected[c]) < 0.02 for c in share)


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=10))
def test_still_indices_lie_in_the_clip(n_frames: int, count: int) -> None:
    indices = still_indices(n_frames, count)
    assert indices == sorted(set(indices))
    assert all(0 <= i < n_frames for i in indices)
    assert len(indices) == min(count, n_frames - n_frames // 2)


@pytest.mark.parametrize(
    "bad",
    [
        {"clips_train": -1},
        {"image_size": 64},
        {"fps": 0},
        {"min_clip_s": 2.0, "max_clip_s": 1.0},
        {"fps": 24, "sample_rate": 22050},
    ],
)
def test_spec_rejects_impossible_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        DemoSpec(**bad)


def test_demo_summary_checks_the_sources_claims() -> None:
    from emocli.demo.summary import summary_lines

    def item(name: str, modality: str, level: str, acc: float, n: int = 40) -> dict:
        classes = ["a", "b", "c", "d"]
        return dict(name=name, modality=modality, level=level, split="val", n=n,
                    accuracy=acc, macro_f1=acc, classes=classes)  # fmt: skip

    video, audio = item("video", "face", "clip", 0.6), item("audio", "audio", "clip", 0.3)
    gan = item("sfew-gan", "face", "frame", 0.3)  # 12 of 40 at chance 25 %: not shown
    worse = summary_lines({"inputs": [video, audio, item("fused-svm", "fused", "clip", 0.5), gan]})
    assert "fusion beats each modality (second source): NOT shown" in worse[-2]
    assert "faces it never saw (first source): NOT shown" in worse[-1]
    gan = item("sfew-gan", "face", "frame", 0.6)
    better = summary_lines({"inputs": [video, audio, item("fused-svm", "fused", "clip", 0.7), gan]})
    assert "fusion beats each modality (second source): shown" in better[-2]
    assert "fused-svm 70.0 % > video 60.0 %, audio 30.0 %" in better[-2]
    assert "faces it never saw (first source): shown" in better[-1]
    assert all("seeds 0-2:" in line for line in better[1:5])
