"""`emocli preprocess-faces`: face images / video clips -> a ``faces`` artifact of grey crops."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from emocli.commands.common import Config, Force, Output, Workdir, run_and_report, with_params
from emocli.stage_params.faces import PreprocessFacesParams

if TYPE_CHECKING:
    from emocli.progress import ProgressHook
    from emocli.stage import StageResult

#: Parameters renamed since configs were first written: old name -> new name.
RENAMED_PARAMETERS = {"cascade": "face_cascade"}


#: ``inspect --as-config``: the options that name an output -> the output's role.
AS_CONFIG = {"output": "faces"}


@with_params(PreprocessFacesParams)
def command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder or file: SFEW, AFEW, CK+ (or CK+48), fer2013.csv or FER2013 "
            "image folders, RAVDESS videos, <class>/*.png folders, or any tree of images.",
            show_default=False,
        ),
    ],
    output: Output = None,
    workdir: Workdir = None,
    force: Force = False,
    config: Config = None,
    **values: Any,
) -> None:
    """Find, crop, equalise and align the face in every image or video frame of a dataset
    (CLAHE + Haar face, then Haar eyes + similarity transform), into grey SIZE x SIZE crops;
    inputs without a usable face are listed as rejects with the reason.

    Example: emocli preprocess-faces sfew/ --size 64
    """
    from emocli.workspace import resolve_workspace
    from stages import preprocess_faces as stage

    def action(progress: ProgressHook) -> StageResult:
        out = output or resolve_workspace(workdir).default_output("faces", source)
        params = PreprocessFacesParams(**values)
        return stage.run(params, source, out, force=force, progress=progress)

    run_and_report(action, stage.describe)
