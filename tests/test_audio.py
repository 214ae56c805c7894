"""extract-audio: decoding (PyAV), dataset layouts, the audio artifact, bad inputs, CLI.

Every input is synthesised here: WAV/FLAC with soundfile, MP4 (H.264 + AAC) with PyAV.
The helpers are reused by tests/test_spectrograms.py.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from emocli.artifacts import open_artifact, read_group
from emocli.audio import (
    AudioDecodeError,
    FrontEnd,
    decode_audio,
    log_mel,
    n_frames,
    normalise_each,
    pad_or_crop,
    preemphasis,
    resample,
)
from emocli.cli import app
from emocli.datasets.audio_sources import detect_audio_format, list_audio_inputs
from emocli.datasets.ravdess import RAVDESS_EMOTIONS, is_ravdess_name
from emocli.errors import InputError, ParamsError
from emocli.labels import sort_classes
from stages.extract_audio import ExtractAudioParams, run

runner = CliRunner()
SR = 16000


# --------------------------------------------------------------------------- fixtures


def tone(seconds: float, freq: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, data: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, subtype=subtype)
    return path


def write_video(path: Path, seconds: float = 1.0, audio: np.ndarray | None = None) -> Path:
    """An MP4 (H.264 64x64 at 25 fps) with, if ``audio`` is given, a stereo AAC track at 44.1 kHz."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 44100
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("aac", rate=rate) if audio is not None else None
        if sound is not None:
            sound.layout = "stereo"
        for i in range(int(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 5, np.uint8), "rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None and audio is not None:
            for start in range(0, audio.size, 1024):
                block = np.ascontiguousarray(np.stack([audio[start : start + 1024]] * 2))
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = rate, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return path


def make_bad_inputs(root: Path) -> dict[str, str]:
    """One file per kind of bad input under ``root/<class>/``; returns {stem: expected outcome}."""
    folder = root / "happy"
    write_video(folder / "silent_video.mp4")  # listed by the afew format only
    (folder / "empty.wav").parent.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    good = write_audio(root / "tmp" / "good.wav", tone(0.5, 440))
    (folder / "corrupt.wav").write_bytes(b"RIFX" + b"\x00" * 40 + good.read_bytes()[44:2000])
    (root / "tmp" / "good.wav").unlink()
    (root / "tmp").rmdir()
    write_audio(folder / "one_sample.wav", np.array([0.25], np.float32))
    rng = np.random.default_rng(0)
    write_audio(folder / "six_96k.wav", rng.uniform(-0.5, 0.5, (48000, 6)), 96000, "PCM_24")
    nan = tone(0.2, 300)
    nan[100] = np.nan
    write_audio(folder / "nan.wav", nan, SR, "FLOAT")
    return {
        "empty": "empty file",
        "corrupt": "not a readable media file",
        "nan": "non-finite samples",
        "one_sample": "kept",
        "six_96k": "kept",
    }


def make_ravdess(root: Path, actors: tuple[str, ...] = ("01", "02"), seconds: float = 0.4) -> Path:
    """RAVDESS-named FLAC files: 2 emotions x 2 statements per actor, varied tones."""
    for a, actor in enumerate(actors):
        for e, emotion in enumerate(("01", "05")):
            for statement in ("01", "02"):
                freq = 200 + 150 * e + 40 * a + 10 * int(statement)
                name = f"03-01-{emotion}-01-{statement}-01-{actor}.flac"
                length = seconds + 0.05 * (a + e)
                write_audio(root / f"Actor_{actor}" / name, tone(length, freq), SR, "PCM_16")
    return root


# --------------------------------------------------------------------------- signal functions


def test_decode_mixes_channels_by_mean_and_resamples(tmp_path: Path) -> None:
    sr_in = 44100
    t = np.arange(sr_in) / sr_in
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), np.full_like(t, 0.25)
    path = write_audio(tmp_path / "st.wav", np.stack([left, right], 1), sr_in, "PCM_16")
    mono = decode_audio(path, SR)
    assert mono.dtype == np.float32 and mono.ndim == 1
    assert abs(mono.size - SR) <= 1
    t16 = np.arange(mono.size) / SR
    expected = 0.25 * np.sin(2 * np.pi * 440 * t16) + 0.125
    core = slice(200, -200)  # the resampling filter's edges aside
    assert np.max(np.abs(mono[core] - expected[core])) < 5e-3


def test_decode_flac_at_its_rate_is_exact(tmp_path: Path) -> None:
    data = tone(0.3, 500)
    path = write_audio(tmp_path / "a.flac", data, SR, "PCM_16")
    reference, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(decode_audio(path, SR), reference)


def test_decode_audio_track_of_mp4(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 1.0, tone(1.0, 300, sr=44100))
    mono = decode_audio(path, SR)
    assert 0.95 <= mono.size / SR <= 1.1  # AAC adds up to ~2 frames of priming
    spectrum = np.abs(np.fft.rfft(mono))
    assert abs(np.argmax(spectrum) * SR / mono.size - 300) < 5


def test_decode_errors_carry_a_reason(tmp_path: Path) -> None:
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    for path, reason in ((write_video(tmp_path / "v.mp4"), "no audio stream"), (empty, "empty")):
        with pytest.raises(AudioDecodeError) as info:
            decode_audio(path, SR)
        assert info.value.reason.startswith(reason)
        assert str(path) in str(info.value)


def test_resample_keeps_a_tone() -> None:
    x = tone(1.0, 1000, sr=48000)
    y = resample(x, 48000, SR)
    assert abs(y.size - SR) <= 1
    assert abs(np.argmax(np.abs(np.fft.rfft(y))) * SR / y.size - 1000) < 2


def test_preemphasis_matches_librosa_with_zero_initial_state() -> None:
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    ours = preemphasis(x, 0.97)
    theirs = librosa.effects.preemphasis(x, coef=0.97, zi=np.zeros(1))
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert ours[0] == x[0]
    assert preemphasis(x, 0.0) is x


def test_pad_or_crop_pads_at_the_end_and_crops_the_centre() -> None:
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(pad_or_crop(x, 13), [*range(10), 0, 0, 0])
    np.testing.assert_array_equal(pad_or_crop(x, 4), [3, 4, 5, 6])


@pytest.mark.parametrize("samples", [1, 399, 400, 401, 559, 560, 16000, 52907])
def test_frame_count_formula(samples: int) -> None:
    x = np.random.default_rng(samples).standard_normal(samples).astype(np.float32)
    fe = FrontEnd(SR, samples)
    spec = log_mel(x, fe)
    assert spec.shape == (40, 1 + max(0, samples - 400) // 160)
    assert spec.shape[1] == n_frames(samples, 400, 160)
    centred = log_mel(x, FrontEnd(SR, samples, center=True))
    assert centred.shape == (40, 1 + samples // 160)


# --------------------------------------------------------------------------- layouts


def test_sources_detect_and_label_each_layout(tmp_path: Path) -> None:
    afew = tmp_path / "afew"
    write_video(afew / "Train" / "Angry" / "000123.mp4", 0.2, tone(0.2, 300, 44100))
    write_video(afew / "Val" / "Happy" / "000456.avi", 0.2, tone(0.2, 300, 44100))
    listing = list_audio_inputs(afew)
    assert listing.format == "afew"
    assert [(i.label, i.split, i.clip_id) for i in listing.items] == [
        ("angry", "train", "000123"),
        ("happy", "val", "000456"),
    ]

    rav = make_ravdess(tmp_path / "rav", actors=("07",))
    write_video(rav / "Actor_07" / "02-01-05-01-01-01-07.mp4", 0.2)  # video-only: no audio
    listing = list_audio_inputs(rav)
    assert listing.format == "ravdess" and len(listing.items) == 4
    first = listing.items[0]
    assert (first.label, first.subject, first.clip_id, first.split) == (
        "neutral",
        "07",
        "01-01-01-01-01-07",
        "",
    )
    assert listing.rejects[0][0] == "Actor_07/02-01-05-01-01-01-07"
    assert "video-only" in listing.rejects[0][2]

    folder = tmp_path / "folder"
    write_audio(folder / "sad" / "x.wav", tone(0.1, 200))
    write_audio(folder / "surprised" / "y.ogg", tone(0.1, 200))
    assert detect_audio_format(folder) == "folder"
    assert [i.label for i in list_audio_inputs(folder).items] == ["sad", "surprise"]
    assert detect_audio_format(rav / "Actor_07" / "03-01-01-01-01-01-07.flac") == "ravdess"


@pytest.mark.parametrize(
    ("stem", "is_ravdess"),
    [
        ("03-01-05-01-02-01-16", True),
        ("01-01-01-01-01-01-07", True),
        ("03-01-09-01-02-01-16", False),  # no emotion 09
        ("000123", False),
        ("03-01-05-01-02-01", False),
    ],
)
def test_ravdess_names_are_recognised(stem: str, is_ravdess: bool) -> None:
    assert is_ravdess_name(stem) is is_ravdess


def test_sources_refuse_unusable_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        list_audio_inputs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        list_audio_inputs(tmp_path / "empty")
    mixed = tmp_path / "mixed"
    write_audio(mixed / "sad" / "x.wav", tone(0.1, 200))
    write_video(mixed / "sad" / "y.mp4", 0.2)
    with pytest.raises(InputError, match="--format"):
        list_audio_inputs(mixed)
    flat = tmp_path / "flat"
    write_audio(flat / "x.wav", tone(0.1, 200))
    with pytest.raises(InputError, match="expected"):
        list_audio_inputs(flat, "folder")


# --------------------------------------------------------------------------- the stage


def test_extract_audio_artifact_layout_and_cache(tmp_path: Path) -> None:
    rav = make_ravdess(tmp_path / "rav")
    out = tmp_path / "audio.h5"
    result = run(ExtractAudioParams(workers=1), rav, out)
    assert not result.up_to_date and result.summary["clips"] == 8
    with open_artifact(out, "audio") as art:
        assert art.attrs["sample_rate"] == SR
        # RAVDESS's eight classes, whichever occur (the faces of the same clips have them too)
        assert art.classes == sort_classes(list(RAVDESS_EMOTIONS.values()))
        assert set(art.classes[i] for i in art.column("label")) == {"angry", "neutral"}
        data = art.column("waveforms/data")
        offset, length = art.column("offset"), art.column("length")
        assert data.dtype == np.float32 and data.size == length.sum()
        np.testing.assert_array_equal(offset, np.concatenate([[0], np.cumsum(length)[:-1]]))
        np.testing.assert_allclose(art.column("duration"), length / SR)
        ids = list(art.column("sample_id"))
        k = ids.index("Actor_02/03-01-05-01-02-01-02")
        source, _ = sf.read(rav / f"{ids[k]}.flac", dtype="float32")
        np.testing.assert_array_equal(data[offset[k] : offset[k] + length[k]], source)
        assert set(art.column("split")) == {""}  # RAVDESS has no split: none recorded
        assert list(art.column("subject")[:4]) == ["01"] * 4
        assert art.column("label")[k] == art.classes.index("angry")
        assert read_group(art, "rejects")["reason"].size == 0
    again = run(ExtractAudioParams(workers=1), rav, out)
    assert again.up_to_date and again.summary == result.summary
    assert not run(ExtractAudioParams(workers=1), rav, out, force=True).up_to_date


def test_extract_audio_with_two_workers_gives_the_same_data(tmp_path: Path) -> None:
    rav = make_ravdess(tmp_path / "rav")
    run(ExtractAudioParams(workers=1), rav, tmp_path / "one.h5")
    run(ExtractAudioParams(workers=2), rav, tmp_path / "two.h5")
    with open_artifact(tmp_path / "one.h5") as one, open_artifact(tmp_path / "two.h5") as two:
        assert one.fingerprint == two.fingerprint  # workers are not fingerprinted
        for name in ("waveforms/data", "offset", "sample_id", "label"):
            np.testing.assert_array_equal(one.column(name), two.column(name))


def test_bad_inputs_are_rejected_with_reasons_or_processed(tmp_path: Path) -> None:
    expected = make_bad_inputs(tmp_path / "bad")
    out = tmp_path / "bad.h5"
    result = run(ExtractAudioParams(format="folder", workers=1), tmp_path / "bad", out)
    with open_artifact(out, "audio") as art:
        rejects = read_group(art, "rejects")
        reasons = {
            Path(i).name: r for i, r in zip(rejects["sample_id"], rejects["reason"], strict=True)
        }
        kept = {
            Path(i).name: n
            for i, n in zip(art.column("sample_id"), art.column("length"), strict=True)
        }
        data = art.column("waveforms/data")
        offsets = dict(
            zip([Path(i).name for i in art.column("sample_id")], art.column("offset"), strict=True)
        )
    for stem, outcome in expected.items():
        if outcome == "kept":
            assert stem in kept, stem
        else:
            assert reasons[stem].startswith(outcome), (stem, reasons[stem])
    assert kept["one_sample"] == 1
    assert abs(kept["six_96k"] - SR // 2) <= 1  # 0.5 s at 96 kHz -> 8000 samples at 16 kHz
    six = data[offsets["six_96k"] : offsets["six_96k"] + kept["six_96k"]]
    assert np.all(np.isfinite(six)) and six.std() < 0.2  # the mean of 6 independent channels
    assert result.summary["rejects"] == 3 and result.summary["clips"] == 2

    video = run(ExtractAudioParams(format="afew", workers=1), tmp_path / "bad", tmp_path / "v.h5")
    assert video.summary["reject_reasons"] == {"no audio stream": 1}


def test_params_are_validated() -> None:
    with pytest.raises(ParamsError, match="--format"):
        ExtractAudioParams(format="mp3")
    with pytest.raises(ParamsError, match="--sample-rate"):
        ExtractAudioParams(sample_rate=10)


# --------------------------------------------------------------------------- CLI


def test_cli_extract_audio_writes_into_the_workspace(tmp_path: Path, workdir: Path) -> None:
    rav = make_ravdess(tmp_path / "ravdess", actors=("03",))
    result = runner.invoke(app, ["extract-audio", str(rav), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert (workdir / "audio" / "ravdess.h5").is_file()
    assert "4 clips (ravdess)" in result.output and "0 rejected" in result.output
    again = runner.invoke(app, ["extract-audio", str(rav), "-j", "1"])
    assert "up to date" in again.output
    bad = runner.invoke(app, ["extract-audio", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "error:" in bad.output and "not found" in bad.output


def test_clip_norm_band_standardises_every_mel_band_of_a_clip() -> None:
    rng = np.random.default_rng(0)
    tilt = np.linspace(-30, 10, 40)[:, None]  # a voice's spectral colour: a slope over bands
    spectrograms = (tilt + 5 * rng.standard_normal((3, 40, 50))).astype(np.float32)
    whole = normalise_each(spectrograms)
    assert abs(float(whole[0].mean())) < 1e-5 and abs(float(whole[0].std()) - 1) < 1e-4
    assert np.ptp(whole[0].mean(axis=-1)) > 1  # the colour stays
    bands = normalise_each(spectrograms, "band")
    np.testing.assert_allclose(bands.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(bands.std(axis=-1), 1, atol=1e-4)
