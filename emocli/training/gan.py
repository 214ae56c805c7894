"""The semi-supervised DCGAN as a LightningModule with manual optimisation.

The discriminator ``D`` is an emotion classifier with K outputs (``dcgan_d``); "real vs
fake" is read from those K logits as in Salimans et al. 2016 (:mod:`emocli.training.gan_losses`).
One training step (one unlabelled batch ``x_u`` of shape (B, 1, S, S) in [-1, 1]):

1. discriminator step: ``0.5 (-log D(x_u)) + 0.5 (-log(1 - D(G(z))))``, plus
   ``supervised_weight * CE(D(x_l), y_l)`` on a labelled batch when the schedule says so:
   ``periodic`` - every ``supervised_every`` steps (the source's schedule);
   ``mixed`` - in every step;
2. generator step: feature matching on D's penultimate features (default) or the
   non-saturating ``-log D(G(z))``.

Consistency (``consistency_weight`` > 0, Sohn et al. 2020, "FixMatch"): in the discriminator
step, D's class for each unlabelled face (the logits of step 1, no gradient) becomes the
target of a strongly augmented copy of the face where D's top probability reaches
``consistency_threshold``: ``consistency_weight * mean(mask * CE(D(strong(x_u)), argmax))``.

``supervised-only`` trains the same discriminator on the labelled batches alone (the
baseline the GAN has to beat): no generator step, no unlabelled term. ``consistency-only``
(an ablation) keeps the supervised and consistency terms and drops the generator and the
adversarial term: what the game itself adds.

Weight averaging (``d_ema_decay`` > 0): after every discriminator step an exponential moving
average of D's parameters is updated (``avg = decay * avg + (1 - decay) * weights``), in a
copy of D that is never trained (``averaged_discriminator``); its batch-norm statistics come
from :func:`recalibrate_batchnorm`, like the trained D's.

Batch norm: D's statistics are recomputed on real faces before every evaluation
(:mod:`emocli.training.gan_discriminator`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from emocli.errors import TrainingError
from emocli.stage_params.gan import ADVERSARIAL_SCHEDULES, G_LOSSES, SCHEDULES
from emocli.training import gan_losses
from emocli.training.augment import STRONG, AugmentConfig, augment_batch
from emocli.training.gan_discriminator import discriminator_outputs

#: Adam's beta1 for both networks (Radford et al.: 0.5 stabilises training).
ADAM_BETA1 = 0.5


def augment_signed(x: torch.Tensor, config: AugmentConfig) -> torch.Tensor:
    """Random transforms ``config`` of a batch (B, 1, S, S) in D's range [-1, 1], returned in
    [-1, 1] (``augment_batch`` works in [0, 1])."""
    return augment_batch((x + 1) / 2, config) * 2 - 1


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror each image of (B, C, H, W) left-right with probability 1/2."""
    mask = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


class SemiSupervisedGan(pl.LightningModule):
    """Generator + discriminator-classifier trained with Salimans's semi-supervised losses.

    Batches (a CombinedLoader of TensorDatasets): ``{"unlabelled": [(B, 1, S, S)],
    "labelled": [(B, 1, S, S), (B,) int64]}``; ``supervised-only`` has only ``labelled``.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        nz: int,
        lr_d: float = 2e-4,
        lr_g: float = 2e-4,
        schedule: str = "periodic",
        supervised_every: int = 1,
        supervised_weight: float = 1.0,
        g_loss: str = "feature-matching",
        collapse_patience: int = 200,
        collapse_threshold: float = 1e-3,
        flip: bool = True,
        augment: AugmentConfig | None = None,
        total_steps: int = 0,
        lr_decay_start: float = 1.0,
        d_ema_decay: float = 0.0,
        consistency_weight: float = 0.0,
        consistency_threshold: float = 0.95,
    ) -> None:
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}")
        if g_loss not in G_LOSSES:
            raise ValueError(f"g_loss must be one of {G_LOSSES}")
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.nz = nz
        self.lr_d, self.lr_g = lr_d, lr_g
        self.schedule = schedule
        self.supervised_every = max(1, supervised_every)
        self.supervised_weight = supervised_weight
        self.g_loss = g_loss
        self.collapse_patience = collapse_patience
        self.collapse_threshold = collapse_threshold
        self.flip = flip
        self.augment = augment
        #: Discriminator steps of the whole training (0 = from the Trainer at the start).
        self.total_steps = total_steps
        self.lr_decay_start = lr_decay_start
        self.consistency_weight = consistency_weight
        self.consistency_threshold = consistency_threshold
        #: The moving average of D's weights (None without ``d_ema_decay``); its ``module``
        #: is a ``dcgan_d`` like ``discriminator``.
        self.averaged_discriminator: AveragedModel | None = None
        if d_ema_decay > 0:
            self.averaged_discriminator = AveragedModel(
                discriminator, multi_avg_fn=get_ema_multi_avg_fn(d_ema_decay)
            )
            self.averaged_discriminator.requires_grad_(False)
        #: The learning-rate factor of the latest step (for the history).
        self.last_lr_factor = 1.0
        #: Discriminator steps so far (Lightning's global_step counts both optimisers).
        self.d_steps = 0
        self._low_d_steps = 0
        self.epoch_sums: dict[str, float] = {}
        self.epoch_counts: dict[str, int] = {}
        #: Called at the end of every training epoch with this module (evaluation, grids).
        self.epoch_hooks: list[Callable[[SemiSupervisedGan], None]] = []

    # ---------------------------------------------------------------- optimisers
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=self.lr_d, betas=(ADAM_BETA1, 0.999)
        )
        opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=self.lr_g, betas=(ADAM_BETA1, 0.999)
        )
        return [opt_d, opt_g]

    def lr_factor(self) -> float:
        """Salimans et al.'s schedule: the learning rates are constant until
        ``lr_decay_start`` x ``total_steps`` discriminator steps, then fall linearly to 0 at
        ``total_steps`` (1 = no decay, or when the total is unknown)."""
        if self.lr_decay_start >= 1.0 or self.total_steps <= 0:
            return 1.0
        start = self.lr_decay_start * self.total_steps
        if self.d_steps < start:
            return 1.0
        return max(0.0, (self.total_steps - self.d_steps) / (self.total_steps - start))

    def on_train_start(self) -> None:
        """Take the number of steps from the Trainer when it was not given: epochs x batches
        per epoch (the longest loader, capped by ``limit_train_batches``; per DDP rank)."""
        if self.total_steps <= 0:
            estimated = float(self.trainer.estimated_stepping_batches)
            self.total_steps = int(estimated) if math.isfinite(estimated) else 0

    def _apply_lr_schedule(self, *optimizers: Any) -> None:
        factor = self.last_lr_factor = self.lr_factor()
        for opt, base in zip(optimizers, (self.lr_d, self.lr_g), strict=False):
            for group in getattr(opt, "optimizer", opt).param_groups:
                group["lr"] = base * factor

    def sample_noise(self, n: int) -> torch.Tensor:
        """(n, nz) standard normal noise on this module's device."""
        return torch.randn(n, self.nz, device=self.device)

    def augment_labelled(self, x: torch.Tensor) -> torch.Tensor:
        """Random transforms of a labelled batch (B, 1, S, S) in [-1, 1] (none without
        ``augment``); the unlabelled and generated images are left as they are."""
        if self.augment is None:
            return x
        return augment_signed(x, self.augment)

    # ---------------------------------------------------------------- steps
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        opt_d, opt_g = self.optimizers()  # type: ignore[attr-defined]
        self._apply_lr_schedule(opt_d, opt_g)
        x_l, y_l = batch["labelled"]
        if self.schedule == "supervised-only":
            x_l = self.augment_labelled(x_l)
            if self.flip:
                x_l = random_hflip(x_l)
            self._supervised_only_step(opt_d, x_l, y_l)
            return
        (x_u,) = batch["unlabelled"]
        # the labelled batch is transformed only on the steps that use it
        supervised = self.schedule != "periodic" or self.d_steps % self.supervised_every == 0
        if supervised:
            x_l = self.augment_labelled(x_l)
        if self.flip:
            x_u = random_hflip(x_u)
            x_l = random_hflip(x_l) if supervised else x_l
        self._discriminator_step(
            opt_d, x_u, x_l if supervised else None, y_l if supervised else None
        )
        if self.adversarial:
            self._generator_step(opt_g, x_u)

    @property
    def adversarial(self) -> bool:
        """Whether the schedule plays the game (G trained, D's real/fake term)."""
        return self.schedule in ADVERSARIAL_SCHEDULES

    def _supervised_only_step(self, opt_d: Any, x_l: torch.Tensor, y_l: torch.Tensor) -> None:
        self.toggle_optimizer(opt_d)
        logits, _ = discriminator_outputs(self.discriminator, x_l)
        loss = gan_losses.supervised_loss(logits, y_l)
        self._check_finite("discriminator", loss)
        opt_d.zero_grad()
        self.manual_backward(loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)
        self._after_discriminator_step()
        self._record({"d_supervised": loss.item(), "d_loss": loss.item()}, x_l.shape[0])

    def _discriminator_step(
        self,
        opt_d: Any,
        x_u: torch.Tensor,
        x_l: torch.Tensor | None,
        y_l: torch.Tensor | None,
    ) -> None:
        self.toggle_optimizer(opt_d)
        fake = None
        if self.adversarial:
            with torch.no_grad():
                fake = self.generator(self.sample_noise(x_u.shape[0]))
        # without the game D's logits on x_u are only the consistency term's targets
        with torch.set_grad_enabled(self.adversarial):
            real_logits, _ = discriminator_outputs(self.discriminator, x_u)
        fake_logits = (
            discriminator_outputs(self.discriminator, fake)[0] if fake is not None else None
        )
        lab_logits = None
        if x_l is not None:
            lab_logits, _ = discriminator_outputs(self.discriminator, x_l)
        if fake_logits is not None:
            terms = gan_losses.discriminator_loss(
                real_logits, fake_logits, lab_logits, y_l, self.supervised_weight
            )
        else:
            assert lab_logits is not None and y_l is not None
            supervised = gan_losses.supervised_loss(lab_logits, y_l)
            terms = {"total": self.supervised_weight * supervised, "supervised": supervised}
        if self.consistency_weight > 0:
            strong = augment_signed(x_u, STRONG)
            strong_logits, _ = discriminator_outputs(self.discriminator, strong)
            consistency, kept = gan_losses.consistency_loss(
                real_logits.detach(), strong_logits, self.consistency_threshold
            )
            terms["total"] = terms["total"] + self.consistency_weight * consistency
            terms["consistency"], terms["confident"] = consistency, kept
        self._check_finite("discriminator", terms["total"])
        opt_d.zero_grad()
        self.manual_backward(terms["total"])
        opt_d.step()
        self.untoggle_optimizer(opt_d)
        self._after_discriminator_step()
        record = {"d_loss": terms["total"].item()}
        if "unsupervised" in terms:
            record["d_unsupervised"] = terms["unsupervised"].item()
            self._watch_collapse(terms["unsupervised"].item())
        if x_l is not None:
            record["d_supervised"] = terms["supervised"].item()
        if "consistency" in terms:
            record["d_consistency"] = terms["consistency"].item()
            record["confident_share"] = terms["confident"].item()
        self._record(record, x_u.shape[0])

    def _generator_step(self, opt_g: Any, x_u: torch.Tensor) -> None:
        self.toggle_optimizer(opt_g)
        fake = self.generator(self.sample_noise(x_u.shape[0]))
        fake_logits, fake_feats = discriminator_outputs(self.discriminator, fake)
        if self.g_loss == "feature-matching":
            with torch.no_grad():
                _, real_feats = discriminator_outputs(self.discriminator, x_u)
            loss = gan_losses.feature_matching_loss(real_feats, fake_feats)
        else:
            loss = gan_losses.non_saturating_loss(fake_logits)
        self._check_finite("generator", loss)
        opt_g.zero_grad()
        self.manual_backward(loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self._record({"g_loss": loss.item()}, x_u.shape[0])

    def _after_discriminator_step(self) -> None:
        self.d_steps += 1
        if self.averaged_discriminator is not None:
            self.averaged_discriminator.update_parameters(self.discriminator)

    # ---------------------------------------------------------------- guards and logs
    def _check_finite(self, network: str, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the {network} loss became {loss.item()} at epoch {self.current_epoch}, "
                f"step {self.d_steps}: training diverged; lower --lr-d/--lr-g or change the "
                "seed. No artifact was written."
            )

    def _watch_collapse(self, d_unsupervised: float) -> None:
        """Stop when D's adversarial loss stays near 0 (it wins outright, G gets no signal)."""
        if d_unsupervised < self.collapse_threshold:
            self._low_d_steps += 1
        else:
            self._low_d_steps = 0
        if self.collapse_patience and self._low_d_steps >= self.collapse_patience:
            g = self.epoch_sums.get("g_loss", math.nan) / max(1, self.epoch_counts.get("g_loss", 0))
            raise TrainingError(
                f"GAN collapse at epoch {self.current_epoch}: the discriminator's adversarial "
                f"loss stayed below {self.collapse_threshold:g} for {self._low_d_steps} steps "
                f"(generator loss {g:.3g} this epoch: G gets no useful gradient); try --g-loss feature-matching, a lower "
                "--lr-d or another --seed. No artifact was written."
            )

    def _record(self, values: dict[str, float], batch_size: int) -> None:
        for key, value in values.items():
            self.epoch_sums[key] = self.epoch_sums.get(key, 0.0) + value
            self.epoch_counts[key] = self.epoch_counts.get(key, 0) + 1
        self.log_dict(values, prog_bar=True, on_step=True, on_epoch=False, batch_size=batch_size)

    def epoch_means(self) -> dict[str, float]:
        """Mean of each loss over the epoch so far."""
        return {k: self.epoch_sums[k] / max(1, self.epoch_counts[k]) for k in self.epoch_sums}

    def on_train_epoch_start(self) -> None:
        self.epoch_sums, self.epoch_counts = {}, {}

    def on_train_epoch_end(self) -> None:
        for hook in self.epoch_hooks:
            hook(self)
