"""extract-audio and build-spectrograms on the team's real data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli.artifacts import open_artifact, read_group
from stages.build_spectrograms import BuildSpectrogramsParams
from stages.build_spectrograms import run as build
from stages.extract_audio import ExtractAudioParams
from stages.extract_audio import run as extract


@pytest.mark.real_data
def test_ravdess_av_sample_audio_track(shared_datasets: Path, tmp_path: Path) -> None:
    out = tmp_path / "av.h5"
    result = extract(ExtractAudioParams(workers=1), shared_datasets / "ravdess_av_sample", out)
    assert result.summary["clips"] == 1 and result.summary["rejects"] == 0
    with open_artifact(out, "audio") as art:
        assert 3.3 <= float(art.column("duration")[0]) <= 3.4
        assert art.classes[int(art.column("label")[0])] == "neutral"
        assert len(art.classes) == 8 and art.column("subject")[0] == "01"
        assert art.column("clip_id")[0] == "01-01-01-01-01-01"
        wave = art.column("waveforms/data")
    assert 0.001 < float(np.abs(wave).max()) <= 1.0  # real sound, not silence


@pytest.mark.real_data
@pytest.mark.slow
def test_ravdess_speech_all_clips(shared_datasets: Path, tmp_path: Path) -> None:
    audio = tmp_path / "ravdess.h5"
    result = extract(ExtractAudioParams(workers=2), shared_datasets / "ravdess_speech_16k", audio)
    assert (result.summary["clips"], result.summary["rejects"]) == (1200, 0)
    spec = tmp_path / "spec.h5"
    built = build(BuildSpectrogramsParams(train_subjects="01-16", workers=2), audio, spec)
    assert built.summary["clips"] == 1200 and built.summary["stats_rows"] == 960
    with open_artifact(spec, "spectrograms") as art:
        stats_ids = read_group(art, "stats")["sample_id"]
        assert not any(i.endswith(("-17", "-18", "-19", "-20")) for i in stats_ids)
        assert art.column("features", slice(0, 10)).shape == (10, 40, built.summary["n_frames"])
