"""The Lightning hardware options of the training stages (``finetune``, ``pretrain-gan``),
declared once: each stage's params class takes its fields from these functions and states
only its default (``finetune`` lets Lightning choose the accelerator and devices;
``pretrain-gan`` asks for one CPU unless told otherwise, so that several GPUs are used only
with an explicit ``--strategy ddp``, the one its two networks' alternating steps are set up
for). They are not fingerprinted; with several devices each process draws its own batches,
which the resume points take into account."""

from __future__ import annotations

from typing import Any

from emocli.params import require, runtime_field

#: The ``--help`` panel of the hardware options.
HARDWARE = "Hardware"


def accelerator(default: str) -> Any:
    """``--accelerator``: Lightning's accelerator name."""
    return runtime_field(default, "Lightning accelerator: auto | cpu | gpu | mps.", group=HARDWARE)


def devices(default: str) -> Any:
    """``--devices``: Lightning's devices (``auto``, a count, or a list such as ``0,1``)."""
    return runtime_field(
        default, "Lightning devices: auto, a count or a list (0,1).", group=HARDWARE
    )


def num_nodes() -> Any:
    """``--num-nodes``: machines of a multi-node DDP run (1 = this one)."""
    return runtime_field(
        1, "Machines of a multi-node DDP run (--devices on each).", group=HARDWARE, min=1
    )


def strategy() -> Any:
    """``--strategy``: Lightning's strategy name (``auto``, ``ddp`` ...)."""
    return runtime_field("auto", "Lightning strategy (auto, ddp ...).", group=HARDWARE)


def check_hardware(params: Any) -> None:
    """Raise :class:`~emocli.errors.ParamsError` for a node count below 1."""
    require(params.num_nodes >= 1, "--num-nodes must be >= 1")
