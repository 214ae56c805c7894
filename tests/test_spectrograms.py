"""build-spectrograms: agreement with direct librosa calls, frame counts, training-only
statistics (by construction), --stats-from, padding/cropping, images, preview, CLI."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.artifacts import open_artifact, read_group
from emocli.audio import (
    FrontEnd,
    frontend_from_artifact,
    frontend_of,
    logmel_features,
    spectrogram_image,
)
from emocli.cli import app
from emocli.errors import InputError, ParamsError
from emocli.training.options import subject_mask
from emocli.training.splits import training_rows
from stages import extract_audio
from stages.build_spectrograms import BuildSpectrogramsParams, run
from tests.test_audio import SR, make_bad_inputs, make_ravdess, tone, write_audio

runner = CliRunner()
ONE = {"workers": 1}


def split_dataset(root: Path, val_freq: float = 2000.0, val_amp: float = 0.3) -> Path:
    """Train/Val folders of 2 classes; the val clips' content is set by the arguments."""
    rng = np.random.default_rng(0)
    for k in range(4):
        label = ("angry", "sad")[k % 2]
        quiet = 0.02 * rng.standard_normal(int(SR * (0.3 + 0.05 * k))).astype(np.float32)
        write_audio(root / "Train" / label / f"t{k}.wav", quiet + tone(0.3 + 0.05 * k, 300), SR)
    for k in range(3):
        label = ("angry", "sad")[k % 2]
        write_audio(root / "Val" / label / f"v{k}.wav", tone(0.25, val_freq, amp=val_amp), SR)
    return root


def extract(source: Path, out: Path, fmt: str = "auto") -> Path:
    extract_audio.run(extract_audio.ExtractAudioParams(format=fmt, workers=1), source, out)
    return out


def librosa_reference(waveform: np.ndarray, pad: int, coef: float = 0.97) -> np.ndarray:
    """The thesis's front end written with direct librosa calls: (40, T) float64, per-spectrogram
    standardised (before the global statistics)."""
    y = np.zeros(pad, np.float64)
    y[: min(pad, waveform.size)] = waveform[:pad]
    y = librosa.effects.preemphasis(y, coef=coef, zi=np.zeros(1))
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=SR,
        n_fft=400,
        hop_length=160,
        win_length=400,
        window="hamming",
        center=False,
        n_mels=40,
    )
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
    return (db - db.mean()) / db.std()


@pytest.fixture(scope="module")
def split_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("split")
    return extract(split_dataset(root / "data"), root / "audio.h5")


@pytest.fixture(scope="module")
def built(split_audio: Path) -> Path:
    out = split_audio.parent / "spec" / "audio.h5"
    run(BuildSpectrogramsParams(as_image=48, **ONE), split_audio, out)
    return out


def waveforms(audio: Path) -> list[np.ndarray]:
    with open_artifact(audio, "audio") as art:
        data, offset, length = (art.column(c) for c in ("waveforms/data", "offset", "length"))
    return [data[o : o + n] for o, n in zip(offset, length, strict=True)]


def test_features_match_direct_librosa_calls(split_audio: Path, built: Path) -> None:
    waves = waveforms(split_audio)
    pad = max(w.size for w in waves)
    with open_artifact(built, "spectrograms") as art:
        features = art.column("features")
        split = art.column("split")
        mean, std = art.column("stats/mean"), art.column("stats/std")
    each = np.stack([librosa_reference(w, pad) for w in waves])
    train = each[split == "train"]
    ref_mean = train.mean(axis=(0, 2))
    ref_std = train.transpose(1, 0, 2).reshape(40, -1).std(axis=1)
    np.testing.assert_allclose(mean, ref_mean, atol=1e-5)
    np.testing.assert_allclose(std, ref_std, atol=1e-5)
    expected = (each - ref_mean[:, None]) / ref_std[:, None]
    assert features.shape == (len(waves), 40, 1 + (pad - 400) // 160)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, expected, atol=1e-5)


def test_statistics_come_from_the_training_split_only(tmp_path: Path) -> None:
    """Same training clips, wildly different validation clips: identical statistics and
    identical training features."""
    quiet = extract(split_dataset(tmp_path / "a", 2000.0, 0.3), tmp_path / "a.h5")
    loud = extract(split_dataset(tmp_path / "b", 5000.0, 0.9), tmp_path / "b.h5")
    outputs = []
    for audio in (quiet, loud):
        out = tmp_path / "spec" / audio.name
        run(BuildSpectrogramsParams(pad="0.4", **ONE), audio, out)
        outputs.append(out)
    with open_artifact(outputs[0]) as a, open_artifact(outputs[1]) as b:
        np.testing.assert_array_equal(a.column("stats/mean"), b.column("stats/mean"))
        np.testing.assert_array_equal(a.column("stats/std"), b.column("stats/std"))
        train = a.column("split") == "train"
        np.testing.assert_array_equal(a.column("features")[train], b.column("features")[train])
        assert not np.allclose(a.column("features")[~train], b.column("features")[~train])
        stats = read_group(a, "stats")
        assert sorted(Path(s).parent.parent.name for s in stats["sample_id"]) == ["Train"] * 4
        assert "split == 'train'" in a.attrs["summary"]["stats_selection"]


def test_training_rows_rules() -> None:
    split = np.array(["train", "train", "val", "test"])
    labels = np.array([0, 1, 0, -1])
    subjects = np.array(["01", "17", "02", "18"])
    mask, _ = training_rows(split, labels, subjects)
    assert mask.tolist() == [True, True, False, False]
    mask, how = training_rows(split, labels, subjects, train_subjects="01-16")
    assert mask.tolist() == [True, False, False, False] and "01-16" in how
    none = np.array([""] * 4)
    assert training_rows(none, labels, subjects)[0].tolist() == [True, True, True, False]
    assert training_rows(none, -np.ones(4, int), subjects)[0].all()
    with pytest.raises(ParamsError, match="splits present"):
        training_rows(split, labels, subjects, train_split="dev")
    with pytest.raises(ParamsError, match="selects no row"):
        training_rows(split, labels, subjects, train_subjects="05-09")
    assert subject_mask(np.array(["1", "05", "16", "17", "x"]), "01-16,x").tolist() == [
        True,
        True,
        True,
        False,
        True,
    ]


def test_train_subjects_restrict_the_statistics(tmp_path: Path) -> None:
    audio = extract(make_ravdess(tmp_path / "rav", ("01", "02", "17")), tmp_path / "rav.h5")
    out = tmp_path / "spec.h5"
    run(BuildSpectrogramsParams(train_subjects="01-16", **ONE), audio, out)
    with open_artifact(out) as art:
        ids = read_group(art, "stats")["sample_id"]
        assert len(ids) == 8 and not any(i.endswith("-17") for i in ids)
        features = art.column("features")
        subjects = art.column("subject")
        _, stats = frontend_from_artifact(art)
    # the training actors' normalised features have mean 0 and std 1 per band by construction
    train = features[subjects != "17"]
    np.testing.assert_allclose(train.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(train.transpose(1, 0, 2).reshape(40, -1).std(axis=1), 1, atol=1e-3)
    assert stats.mean.shape == (40,)


def test_stats_from_reuses_front_end_and_statistics(tmp_path: Path, built: Path) -> None:
    other = tmp_path / "other"
    write_audio(other / "angry" / "long.wav", tone(1.0, 440), SR)
    write_audio(other / "sad" / "short.wav", tone(0.1, 880), SR)
    audio = extract(other, tmp_path / "other.h5")
    out = tmp_path / "other-spec.h5"
    result = run(BuildSpectrogramsParams(**ONE), audio, out, stats_from=built)
    assert result.summary["cropped"] == 1 and result.summary["padded"] == 1
    with open_artifact(built) as ref, open_artifact(out) as art:
        np.testing.assert_array_equal(ref.column("stats/mean"), art.column("stats/mean"))
        assert ref.attrs["frontend"] == art.attrs["frontend"]
        assert art.column("features").shape[1:] == ref.column("features").shape[1:]
        frontend, stats = frontend_from_artifact(art)
        features = art.column("features")
        assert [i["kind"] for i in art.attrs["inputs"]] == ["audio", "spectrograms"]
    # the pure function for `emocli predict` reproduces the stored rows, crop and pad included
    for k, wave in enumerate(waveforms(audio)):
        np.testing.assert_allclose(
            logmel_features(wave, SR, frontend, stats), features[k], atol=1e-5
        )
    with pytest.raises(ParamsError, match="n_mels"):
        run(BuildSpectrogramsParams(n_mels=32, **ONE), audio, tmp_path / "x.h5", stats_from=built)
    with pytest.raises(ParamsError, match="--pad"):
        run(BuildSpectrogramsParams(pad="2", **ONE), audio, tmp_path / "y.h5", stats_from=built)


def test_logmel_features_resamples_a_new_recording(built: Path) -> None:
    with open_artifact(built) as art:
        frontend, stats = frontend_from_artifact(art)
    at_48k = tone(0.3, 300, sr=48000)
    features = logmel_features(at_48k, 48000, frontend, stats)
    assert features.shape == (40, frontend.n_frames) and np.all(np.isfinite(features))


def test_fixed_duration_crops_the_centre(tmp_path: Path) -> None:
    data = tmp_path / "d"
    rng = np.random.default_rng(3)
    long_clip = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    write_audio(data / "angry" / "long.wav", long_clip, SR, "FLOAT")
    write_audio(data / "sad" / "silent.wav", np.zeros(SR // 4, np.float32), SR, "FLOAT")
    audio = extract(data, tmp_path / "d.h5")
    out = tmp_path / "s.h5"
    result = run(BuildSpectrogramsParams(pad="0.5", global_norm="none", **ONE), audio, out)
    assert (result.summary["cropped"], result.summary["padded"]) == (1, 1)
    with open_artifact(out) as art:
        features = art.column("features")
    centre = long_clip[SR // 4 : SR // 4 + SR // 2]
    np.testing.assert_allclose(features[0], librosa_reference(centre, SR // 2), atol=1e-4)
    assert np.all(np.isfinite(features[1])) and np.all(features[1] == 0)  # silence: no NaN


def test_images_and_preview(built: Path) -> None:
    with open_artifact(built) as art:
        images = art.column("images")
        features = art.column("features")
        assert images.shape == (art.n_samples, 48, 48, 3) and images.dtype == np.uint8
        np.testing.assert_array_equal(images[0], spectrogram_image(features[0], 48))
    preview = built.with_suffix(".png")
    assert preview.is_file() and preview.read_bytes()[:4] == b"\x89PNG"


def test_image_puts_low_frequencies_at_the_bottom() -> None:
    spec = np.zeros((40, 100), np.float32)
    spec[:5] = 1.0  # energy in the lowest bands
    image = spectrogram_image(spec, 32, "gray")
    assert image[-1, :, 0].mean() > 200 and image[0, :, 0].mean() < 50
    assert np.array_equal(image[..., 0], image[..., 2])


def test_copies_per_sample_columns_and_classes(split_audio: Path, built: Path) -> None:
    with open_artifact(split_audio) as a, open_artifact(built) as s:
        assert s.classes == a.classes
        for name in ("sample_id", "label", "split", "subject", "clip_id", "duration"):
            np.testing.assert_array_equal(s.column(name), a.column(name))
        assert not s.has("offset") and not s.has("length")
        assert s.attrs["frontend"]["pad_samples"] == int(a.column("length").max())


def test_two_workers_give_the_same_features(split_audio: Path, built: Path, tmp_path: Path) -> None:
    out = tmp_path / "two.h5"
    run(BuildSpectrogramsParams(as_image=48, workers=2), split_audio, out)
    with open_artifact(built) as one, open_artifact(out) as two:
        assert one.fingerprint == two.fingerprint
        np.testing.assert_array_equal(one.column("features"), two.column("features"))


def test_global_norm_modes(split_audio: Path, tmp_path: Path) -> None:
    for mode, shape in (("scalar", (1,)), ("none", (1,))):
        out = tmp_path / f"{mode}.h5"
        run(BuildSpectrogramsParams(global_norm=mode, **ONE), split_audio, out)
        with open_artifact(out) as art:
            assert art.column("stats/mean").shape == shape
            if mode == "none":
                assert art.column("stats/std") == 1 and art.column("stats/mean") == 0


def test_params_are_validated() -> None:
    for bad in ({"pad": "-1"}, {"pad": "long"}, {"preemphasis": 1.0}, {"global_norm": "x"}):
        with pytest.raises(ParamsError):
            BuildSpectrogramsParams(**bad)  # type: ignore[arg-type]
    with pytest.raises(ParamsError, match="window"):
        BuildSpectrogramsParams(window="nope")
    with pytest.raises(ParamsError, match="n-fft"):
        frontend_of(BuildSpectrogramsParams(n_fft=256), SR, 1000)
    frontend = frontend_of(BuildSpectrogramsParams(n_fft=512), SR, 100)
    assert frontend == FrontEnd(SR, 512, n_fft=512)  # shorter than a frame: one frame


def test_bad_inputs_that_survive_extraction_give_finite_spectrograms(tmp_path: Path) -> None:
    make_bad_inputs(tmp_path / "bad")  # keeps a 1-sample clip and a 96 kHz 6-channel one
    audio = extract(tmp_path / "bad", tmp_path / "bad.h5", "folder")
    for pad in ("longest", "0.01"):  # 0.01 s is shorter than one 25 ms frame
        out = tmp_path / f"bad-{pad}.h5"
        result = run(BuildSpectrogramsParams(pad=pad, **ONE), audio, out)
        with open_artifact(out) as art:
            features = art.column("features")
        assert features.shape[0] == 2 and np.all(np.isfinite(features))
    assert result.summary["n_frames"] == 1


def test_empty_audio_artifact_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "d" / "sad").mkdir(parents=True)
    (tmp_path / "d" / "sad" / "x.wav").write_bytes(b"")
    audio = extract(tmp_path / "d", tmp_path / "empty.h5")
    with pytest.raises(InputError, match="no clips"):
        run(BuildSpectrogramsParams(**ONE), audio, tmp_path / "s.h5")


def test_cli_chains_through_the_workspace(tmp_path: Path, workdir: Path) -> None:
    rav = make_ravdess(tmp_path / "ravdess", ("01", "18"))
    none = runner.invoke(app, ["build-spectrograms"])
    assert none.exit_code == 2 and "extract-audio" in none.output
    assert runner.invoke(app, ["extract-audio", str(rav), "-j", "1"]).exit_code == 0
    result = runner.invoke(app, ["build-spectrograms", "-j", "1", "--train-subjects", "01"])
    assert result.exit_code == 0, result.output
    assert (workdir / "spectrograms" / "ravdess.h5").is_file()
    assert (workdir / "spectrograms" / "ravdess.png").is_file()
    assert "8 spectrograms of 40 mel bands" in result.output and "(4 rows)" in result.output
    again = runner.invoke(app, ["build-spectrograms", "-j", "1", "--train-subjects", "01"])
    assert "up to date" in again.output
    extract(rav, workdir / "audio" / "second.h5")
    two = runner.invoke(app, ["build-spectrograms"])
    assert two.exit_code == 2 and "second.h5" in two.output and "ravdess.h5" in two.output
    bad = runner.invoke(
        app, ["build-spectrograms", str(workdir / "audio" / "second.h5"), "--pad", "x"]
    )
    assert bad.exit_code == 2 and "--pad" in bad.output


def test_trim_db_cuts_silence_so_padding_does_not_change_a_clip(tmp_path: Path) -> None:
    """The same utterance after 0.05 s or 0.4 s of silence gives the same spectrogram once
    trimmed (it would not with padding alone), and predict's front end agrees."""
    speech = tone(0.3, 300)
    data = tmp_path / "d"
    for name, silence in (("short", 0.05), ("long", 0.4)):
        gap = np.zeros(int(SR * silence), np.float32)
        write_audio(data / "angry" / f"{name}.wav", np.concatenate([gap, speech]), SR)
    audio = extract(data, tmp_path / "d.h5")
    trimmed, padded = tmp_path / "t.h5", tmp_path / "p.h5"
    run(BuildSpectrogramsParams(pad="0.5", trim_db=40, global_norm="none", **ONE), audio, trimmed)
    run(BuildSpectrogramsParams(pad="0.5", global_norm="none", **ONE), audio, padded)
    with open_artifact(trimmed) as art:
        features = art.column("features")
        frontend, stats = frontend_from_artifact(art)
    assert frontend.trim_db == 40
    np.testing.assert_allclose(features[0], features[1], atol=1e-4)
    with open_artifact(padded) as art:
        assert np.abs(art.column("features")[0] - art.column("features")[1]).max() > 0.5
    for k, wave in enumerate(waveforms(audio)):
        np.testing.assert_allclose(
            logmel_features(wave, SR, frontend, stats), features[k], atol=1e-5
        )


def test_trim_silence_keeps_the_loud_span() -> None:
    from emocli.audio import trim_silence

    x = np.zeros(SR, np.float32)
    x[4000:9000] = tone(5000 / SR, 300)
    kept = trim_silence(x, 40, 400, 160)
    assert 5000 <= kept.size <= 5000 + 2 * 400 and np.abs(kept).max() == np.abs(x).max()
    assert trim_silence(np.zeros(SR, np.float32), 40, 400, 160).size == SR  # silence: unchanged
