"""``import-predictions``' parameters, declared once for the command, the stage and the CSV
reader (:mod:`emocli.importing`)."""

from __future__ import annotations

from dataclasses import dataclass

from emocli.params import param, require

#: Default tolerance on ``|sum(probabilities) - 1|``.
SUM_TOLERANCE = 0.01
#: Prediction levels (see docs/artifacts.md, kind ``predictions``).
LEVELS: tuple[str, ...] = ("auto", "frame", "clip")


@dataclass(frozen=True)
class ImportPredictionsParams:
    """modality : ``face``, ``video``, ``audio`` ... (what ``fuse`` matches inputs by); its
        option is the command's (its default is guessed from the CSV's file name).
    level : ``auto``, ``frame`` or ``clip``.
    renormalize : divide rows that do not sum to 1 by their sum instead of rejecting them.
    tolerance : accepted ``|sum - 1|`` of a row's probabilities.
    """

    modality: str = "video"
    level: str = param("auto", "frame, clip or auto (frame if clip ids repeat).")
    renormalize: bool = param(
        False, "Divide rows that do not sum to 1 by their sum (else reject).", "--renormalize/"
    )
    tolerance: float = param(SUM_TOLERANCE, "Accepted |sum of a row - 1|.")

    def __post_init__(self) -> None:
        require(bool(self.modality.strip()), "--modality must not be empty")
        require(self.modality != "fused", "--modality 'fused' is reserved for fuse's outputs")
        require(self.level in LEVELS, f"--level must be one of {', '.join(LEVELS)}")
        require(0 < self.tolerance < 1, f"--tolerance must be in (0, 1), got {self.tolerance}")
