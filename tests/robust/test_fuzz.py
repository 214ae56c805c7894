"""Fuzzing: the readers of user files raise nothing but the tool's own errors, with a message.

Targets: the FER2013 CSV reader (and its pixel parser), the SFEW, CK+ and RAVDESS file-name
parsers, the prediction and label CSV importers, and the artifact reader (random bytes and
valid artifacts with random bytes overwritten). Any other exception is a crash.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emocli.artifacts import ArtifactWriter, open_artifact, read_group
from emocli.datasets.ckplus import parse_ck_name
from emocli.datasets.fer2013 import pixels_to_image, read_fer2013_csv
from emocli.datasets.ravdess import parse_ravdess_name
from emocli.datasets.sfew import parse_sfew_name
from emocli.errors import EmocliError
from emocli.importing import read_labels, read_predictions_csv
from tests.robust.helpers import record

#: Examples per fuzz target: a few dozen in `make test`, more in `make test-robust`.
EXAMPLES = int(os.environ.get("EMOCLI_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

#: CSV-ish text: header words, numbers, separators, quotes, odd characters.
CSV_TOKENS = st.sampled_from(
    [
        "emotion",
        "pixels",
        "usage",
        "Usage",
        "Training",
        "PublicTest",
        "clip_id",
        "sample_id",
        "split",
        "label",
        "Angry",
        "Happy",
        "Neutral",
        "train",
        "val",
        ",",
        ",",
        "\n",
        "\n",
        "\r\n",
        '"',
        " ",
        "0",
        "1",
        "6",
        "7",
        "-1",
        "255",
        "256",
        "0.5",
        "1e309",
        "nan",
        "inf",
        "é",
        "\x00",
        "\ufeff",
        ";",
        "\t",
    ]
)
CSV_TEXT = st.one_of(
    st.lists(CSV_TOKENS, max_size=60).map("".join),
    st.text(max_size=300),
)


class Tally:
    """How many inputs a fuzz target tried and how many it rejected with EmocliError."""

    def __init__(self) -> None:
        self.tried = 0
        self.rejected = 0

    def call(self, fn: Callable[[], Any]) -> None:
        self.tried += 1
        try:
            fn()
        except EmocliError as exc:
            assert str(exc).strip(), "an error without a message"
            self.rejected += 1


@pytest.fixture
def tally() -> Iterator[Tally]:
    counter = Tally()
    yield counter
    record(bad_inputs_fuzzed=counter.tried, crashes=0)


def _with_file(data: bytes | str, suffix: str, fn: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8", errors="surrogatepass")
        else:
            path.write_bytes(data)
        return fn(path)


def test_fer2013_csv_reader(tally: Tally) -> None:
    @FUZZ
    @given(CSV_TEXT)
    def check(text: str) -> None:
        tally.call(lambda: _with_file(text, ".csv", read_fer2013_csv))

    check()
    header = st.lists(CSV_TOKENS, max_size=30).map(lambda t: "emotion,pixels,Usage\n" + "".join(t))

    @FUZZ
    @given(header)
    def check_rows(text: str) -> None:
        tally.call(lambda: _with_file(text, ".csv", read_fer2013_csv))

    check_rows()


@FUZZ
@given(st.text(max_size=200))
def test_fer2013_pixel_parser(text: str) -> None:
    image = pixels_to_image(text)
    assert image is None or (image.dtype == np.uint8 and image.shape[0] == image.shape[1])


NAME_TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            ["S005", "_", "-", "001", "00000011", "03", "01", "24", "99", "Airheads", "é"]
        ),
        max_size=12,
    ).map("".join),
)


@FUZZ
@given(NAME_TEXT)
def test_file_name_parsers(stem: str) -> None:
    for parse in (parse_sfew_name, parse_ck_name):
        parsed = parse(stem)
        assert parsed is None or (len(parsed) == 3 and isinstance(parsed[2], int))
    try:
        parse_ravdess_name(stem)
    except EmocliError as exc:
        assert stem[:10] in str(exc) or "RAVDESS" in str(exc)


def test_prediction_and_label_csv_importers(tally: Tally) -> None:
    prediction_header = st.lists(CSV_TOKENS, max_size=40).map(
        lambda t: "clip_id,split,label,Angry,Happy\n" + "".join(t)
    )

    @FUZZ
    @given(st.one_of(CSV_TEXT, prediction_header))
    def check(text: str) -> None:
        tally.call(lambda: _with_file(text, ".csv", read_predictions_csv))
        tally.call(lambda: _with_file(text, ".csv", read_labels))

    check()


def _valid_artifact_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.h5"
        writer = ArtifactWriter(path, "faces", stage="t", params={}, inputs=[], fingerprint="f")
        writer.set_classes(["angry", "happy"])
        writer.add_column("images", np.arange(64 * 48 * 48, dtype=np.uint8).reshape(64, 48, 48))
        writer.add_column("label", np.arange(64) % 2)
        writer.add_column("sample_id", [f"s{i}" for i in range(64)])
        writer.write_group("rejects", {"path": ["x.png"], "reason": ["unreadable"]})
        writer.close()
        writer.commit()
        return path.read_bytes()


def _read_everything(path: Path) -> None:
    with open_artifact(path) as art:
        _ = (art.kind, art.fingerprint, art.classes, art.params, art.n_samples)
        for name in art.columns():
            art.column(name)
        read_group(art, "rejects")


def test_artifact_reader(tally: Tally) -> None:
    valid = _valid_artifact_bytes()

    @FUZZ
    @given(st.binary(max_size=4096))
    def random_bytes(data: bytes) -> None:
        tally.call(lambda: _with_file(b"\x89HDF\r\n\x1a\n" + data, ".h5", _read_everything))

    @FUZZ
    @given(
        st.lists(
            st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=1, max_size=16)),
            min_size=1,
            max_size=4,
        )
    )
    def mutated(patches: list[tuple[int, bytes]]) -> None:
        data = bytearray(valid)
        for offset, chunk in patches:
            data[offset : offset + len(chunk)] = chunk
        tally.call(lambda: _with_file(bytes(data[: len(valid)]), ".h5", _read_everything))

    random_bytes()
    mutated()
    assert io.BytesIO(valid).read(4) == b"\x89HDF"
