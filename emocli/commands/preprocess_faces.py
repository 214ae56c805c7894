"""`emocli preprocess-faces`: face images / video clips -> a ``faces`` artifact of grey crops."""

# ruff: noqa: UP045 - typer needs Optional on Python 3.10
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from emocli.commands.common import OUTPUT, StageCall, argument, run_and_report, with_params
from emocli.stage_params.faces import PreprocessFacesParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult


@with_params(PreprocessFacesParams)
def command(
    call: StageCall,
    source: Path = argument(
        "Dataset folder or file: "
        "SFEW, AFEW, CK+ (or CK+48), fer2013.csv or FER2013 image folders, RAVDESS videos, "
        "<class>/*.png folders, or any tree of images."
    ),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Find, crop, equalise and align the face in every image or video frame of a dataset
    (CLAHE + Haar face, then Haar eyes + similarity transform), into grey SIZE x SIZE crops;
    inputs without a usable face are listed as rejects with the reason.

    Example: emocli preprocess-faces sfew/ --size 64
    """
    from stages import preprocess_faces as stage

    def action(progress: ProgressHook) -> StageResult:
        out = output or call.workspace.default_output("faces", source)
        return stage.run(call.params(), source, out, **call.options(progress))

    run_and_report(action, stage.describe)


#: Parameters renamed since configs were first written: old name -> new name.
RENAMED_PARAMETERS = {"cascade": "face_cascade"}
#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "faces"}
