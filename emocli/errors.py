"""The tool's own error types: every expected failure is one of these, with a message a user can act on.

The CLI turns an :class:`EmocliError` into a one-line ``error: ...`` message and a non-zero
exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class EmocliError(Exception):
    """A failure the user can fix (bad input, wrong artifact, missing folder ...)."""

    exit_code = 2


class ArtifactError(EmocliError):
    """An HDF5 artifact is missing, corrupt, of the wrong kind or of an unknown schema."""


class InputError(EmocliError):
    """A raw input (dataset folder, media file, CSV) cannot be used as given."""


class ParamsError(EmocliError):
    """A stage parameter is out of range or inconsistent with another."""


class TrainingError(EmocliError):
    """Training diverged (NaN/Inf loss, collapse); no artifact is written."""


class LockedError(EmocliError):
    """Another emocli process is writing the same output right now."""
