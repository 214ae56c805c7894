"""``predict``'s parameters on a faces / spectrograms artifact (stage ``predict-artifact``),
declared once for the command and the stage; ``runtime`` also chooses how media files are
predicted."""

from __future__ import annotations

from dataclasses import dataclass

from emocli.int8_graph import RUNTIMES
from emocli.params import param, require, runtime_field
from emocli.stage_params.choices import TTAS


@dataclass(frozen=True)
class PredictArtifactParams:
    """batch_size : rows per forward pass. tta : ``flip`` averages each face's probabilities
    with its mirror image's (face models only). runtime : ``auto`` (the int8 graph a bundled
    model carries, else torch), ``torch``, or ``onnx`` (that graph, else the model exported to
    ONNX; onnxruntime runs both, and the export needs the ``onnx`` extra).
    threads : CPU threads. workers, channels_last, max_memory_mb : as finetune's; no option.
    """

    batch_size: int = param(64, "Rows per forward pass (artifact input).", min=1)
    tta: str = param(
        "none", f"{' | '.join(TTAS)} (average with the mirror image; face artifact input)."
    )
    runtime: str = param(
        "auto",
        "auto (a bundled model's int8 graph, else torch) | torch | onnx (the int8 graph, else "
        "the model exported to ONNX; run with onnxruntime).",
    )
    workers: int = runtime_field(0)
    threads: int = runtime_field(0, "CPU threads (0 = the idle cores).", min=0)
    channels_last: bool = runtime_field(True)
    max_memory_mb: int = runtime_field(4096)

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "--batch-size must be >= 1")
        require(self.tta in TTAS, f"--tta must be one of {', '.join(TTAS)}")
        require(self.runtime in RUNTIMES, f"--runtime must be one of {', '.join(RUNTIMES)}")
        require(self.workers >= 0 and self.threads >= 0, "--workers and --threads must be >= 0")
        require(self.max_memory_mb >= 0, "--max-memory-mb must be >= 0")
