"""The HDF5 artifact contract: write atomically, read and validate, fingerprint.

Every stage writes its results as one self-describing HDF5 file (an *artifact*). Layout:

* root attributes (all JSON-encoded where not plain strings/ints): ``kind``,
  ``schema_version``, ``emocli_version``, ``stage``, ``params``, ``inputs``, ``fingerprint``,
  ``created_utc``, ``classes``, ``n_samples``, ``summary``, plus kind-specific extras set by
  the stage;
* root-level **datasets are per-sample columns**: they all share the first dimension
  ``n_samples`` (``sample_id``, ``label``, ``split``, ``subject``, ``clip_id``, ``images`` ...);
* **groups** hold everything else (``rejects/``, ``weights/``, ``stats/``, ``history/`` ...).

Writes go to a hidden temporary file in the output's directory that is validated and then
moved into place with :func:`os.replace`, so an interrupted stage never leaves a file at the
output path that looks valid. Reading validates kind and schema version and names the file,
what was expected and what was found. Large arrays are chunked, compressed and checksummed
(fletcher32), so flipped bytes are reported instead of silently read.

Nothing here ever unpickles: attributes are JSON, arrays are plain HDF5 datasets.

Modules: :mod:`~emocli.artifacts.layout` (kinds, required attributes, schema version,
chunking), :mod:`~emocli.artifacts.writer` (:class:`ArtifactWriter`),
:mod:`~emocli.artifacts.reader` (:func:`open_artifact`, :class:`Artifact`),
:mod:`~emocli.artifacts.fingerprints` (:class:`InputRef`, ``fingerprint_*``) and
:mod:`~emocli.artifacts.temporaries` (stale temporaries, full disks); everything is
re-exported here.
"""

from emocli.artifacts.fingerprints import (
    InputRef,
    fingerprint_artifact,
    fingerprint_of,
    fingerprint_raw,
)
from emocli.artifacts.layout import CHUNK_BYTES, KINDS, REQUIRED_ATTRS, SCHEMA_VERSION
from emocli.artifacts.reader import Artifact, is_up_to_date, open_artifact, read_group
from emocli.artifacts.temporaries import (
    DISK_FULL_BYTES,
    abandoned_files,
    remove_stale_temporaries,
)
from emocli.artifacts.writer import ArtifactWriter

__all__ = [
    "CHUNK_BYTES",
    "DISK_FULL_BYTES",
    "KINDS",
    "REQUIRED_ATTRS",
    "SCHEMA_VERSION",
    "Artifact",
    "ArtifactWriter",
    "InputRef",
    "abandoned_files",
    "fingerprint_artifact",
    "fingerprint_of",
    "fingerprint_raw",
    "is_up_to_date",
    "open_artifact",
    "read_group",
    "remove_stale_temporaries",
]
