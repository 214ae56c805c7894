"""The on-disk layout of an artifact: its kinds, required root attributes, schema version and
how columns are chunked and compressed (:mod:`emocli.artifacts` describes the layout)."""

from __future__ import annotations

import json
from typing import Any

import h5py

#: Version of the on-disk layout. Readers refuse files with a newer version.
SCHEMA_VERSION = 1

#: The kinds of artifact the pipeline writes.
KINDS: tuple[str, ...] = ("faces", "audio", "spectrograms", "model", "predictions", "evaluation")

#: Root attributes every artifact carries.
REQUIRED_ATTRS: tuple[str, ...] = (
    "kind",
    "schema_version",
    "emocli_version",
    "stage",
    "params",
    "inputs",
    "fingerprint",
    "created_utc",
    "classes",
    "n_samples",
)

#: Root attributes that are always JSON text.
JSON_ATTRS = ("params", "inputs", "classes", "summary")

#: Target size of one HDF5 chunk of a per-sample column, in bytes.
CHUNK_BYTES = 1 << 20
#: Filters of numeric datasets: gzip level 4, byte shuffle, fletcher32 checksums.
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True, "fletcher32": True}
#: HDF5 type of text: variable-length UTF-8.
STRING = h5py.string_dtype("utf-8")


def json_attr(value: Any) -> str:
    """``value`` as attribute text: JSON with sorted keys (``str`` for what JSON lacks)."""
    return json.dumps(value, sort_keys=True, default=str)
