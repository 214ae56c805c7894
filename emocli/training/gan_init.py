"""pretrain-gan's two networks: their constructor arguments and their start from ``--init``.

* :func:`d_kwargs` / :func:`g_kwargs`: the registry constructor arguments of the
  discriminator (``dcgan_d``, a K-class classifier of (B, 1, S, S) faces in [-1, 1]) and of
  the generator (``dcgan_g``, noise (B, nz) -> (B, 1, S, S) in [-1, 1]), after Radford et al.
  2015 with Salimans et al. 2016's K-class discriminator.
* :func:`load_init` reads an earlier ``dcgan_d`` model artifact into :class:`InitWeights`,
  which copies its tensors into a new D (and G, when the artifact stores one of the same
  shapes).

Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emocli.stage_params.gan import D_ARCHITECTURE, PretrainGanParams


def d_kwargs(params: PretrainGanParams, n_classes: int) -> dict[str, Any]:
    """Constructor kwargs of the discriminator (``dcgan_d`` in the model registry) for
    ``n_classes`` classes: one grey input channel of ``size`` x ``size`` pixels."""
    return {
        "in_channels": 1,
        "input_size": params.size,
        "n_classes": n_classes,
        "widths": list(params.d_widths),
        "dropout": params.d_dropout,
        "input_noise": params.d_input_noise,
        "block_dropout": params.d_block_dropout,
        "block_depth": params.d_block_depth,
    }


def g_kwargs(params: PretrainGanParams) -> dict[str, Any]:
    """Constructor kwargs of the generator (``dcgan_g``): ``nz`` noise values to one grey
    ``size`` x ``size`` image."""
    return {
        "latent_dim": params.nz,
        "out_channels": 1,
        "output_size": params.size,
        "widths": list(params.g_widths),
    }


@dataclass
class InitWeights:
    """The tensors of an ``--init`` model artifact: D's (with its classes) and G's, if any."""

    source: str
    classes: list[str]
    discriminator: dict[str, Any]
    generator: dict[str, Any]

    def into_discriminator(self, d: Any, classes: Sequence[str]) -> dict[str, Any]:
        """Copy every matching tensor into ``d`` (not the classifier if the classes differ);
        the transfer report's summary."""
        from emocli.transfer import transfer_state

        report = transfer_state(d, self.discriminator, self.classes, classes, self.source)
        return report.summary()

    def into_generator(self, g: Any) -> bool:
        """Load G's tensors when the stored generator has exactly ``g``'s shapes."""
        own = g.state_dict()
        fits = bool(self.generator) and set(self.generator) == set(own)
        fits = fits and all(self.generator[n].shape == own[n].shape for n in own)
        if fits:
            g.load_state_dict(self.generator)
        return fits


def load_init(path: str) -> InitWeights:
    """Read an ``--init`` artifact; :class:`ArtifactError` unless it holds a ``dcgan_d``."""
    from emocli.artifacts import open_artifact
    from emocli.errors import ArtifactError
    from emocli.training.model_store import load_model, read_model_info
    from emocli.weights import read_state_dict

    info = read_model_info(path)  # refuse another network before reading its weights
    if info.architecture != D_ARCHITECTURE:
        raise ArtifactError(
            f"--init {path} holds a {info.architecture!r} model; pretrain-gan starts only from a "
            f"{D_ARCHITECTURE} (an earlier pretrain-gan, or finetune --model {D_ARCHITECTURE})"
        )
    d, _ = load_model(path)  # checks that the weights fit the dcgan_d they claim to be
    generator: dict[str, Any] = {}
    with open_artifact(path, "model") as art:
        stored = art.h5.get("generator")
        # a G the schedule never trained (supervised-only, consistency-only) is no start
        if stored is not None and len(stored) and stored.attrs.get("trained", True):
            generator = read_state_dict(art, "generator")
    return InitWeights(path, list(info.classes), d.state_dict(), generator)
