"""Regularizers of a GAN's losses, chosen by name in gin with
`ModularGAN.d_regularizer` (one name, or a list of names to combine them):
LeCam (gans/lecam.py) and consistency regularization (gans/consistency.py).

A regularizer adds a term to D's loss (`d_term`, once per D step) and may add
one to G's loss (`g_term`, once per G step). Each sees the step through a
`DStep` / `GStep`: the images and D's logits of the step, the latents, the
per-example seeds, and callables that run D and G again (on augmented images,
perturbed latents), so that every GAN class (ModularGAN, SSGAN, S3GAN,
ProgressiveGAN) gets them from ModularGAN's step without copied code.
Terms are means over the replica's batch; the GAN divides its losses by the
replica count, so gradients are those of the global batch's mean.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import tensorflow as tf

from compare_gan2.core.registry import REGULARIZERS

Metrics = dict[str, tf.Tensor]


@dataclasses.dataclass
class DStep:
  """One D step as a regularizer sees it.

  real, fake: the images D saw ([B, H, W, C], after the GAN's augmentation;
    fake is stop-gradient); y_real, y_fake: their one-hot labels or None.
  real_logits, fake_logits: D's logits on them (this step's pass).
  z: the latents of the fakes; seeds: int32 [B, 2] per-example seeds;
  step: the GAN's global step (G updates done).
  discriminate(x, y, is_real): D's logits on x in training mode.
  generate(z, y): G's images (training mode) as D sees them (augmented as the
    step's fakes, same draws).
  """
  real: tf.Tensor
  y_real: Any
  fake: tf.Tensor
  y_fake: Any
  real_logits: tf.Tensor
  fake_logits: tf.Tensor
  z: tf.Tensor
  seeds: tf.Tensor
  step: tf.Tensor
  discriminate: Callable[[tf.Tensor, Any, bool], tf.Tensor]
  generate: Callable[[tf.Tensor, Any], tf.Tensor]


@dataclasses.dataclass
class GStep:
  """One G step: `fake` = G(z) before augmentation (it carries G's
  gradient), its latents and labels, the seeds, the step and `generate(z, y)`
  (G's raw images, training mode)."""
  fake: tf.Tensor
  z: tf.Tensor
  y_fake: Any
  seeds: tf.Tensor
  step: tf.Tensor
  generate: Callable[[tf.Tensor, Any], tf.Tensor]


class Regularizer:
  """A term of D's loss and possibly G's. Subclasses with state make its
  variables in `__init__` (the GAN does so under the strategy's scope) and
  list them in `variables` (checkpointed with the GAN)."""

  # True when the term all-reduces over replicas inside the loss (refused by
  # jit_compile with several replicas, see modular.check_split_jit).
  synchronises_replicas = False

  @property
  def variables(self) -> list[tf.Variable]:
    return []

  def d_term(self, step: DStep) -> tuple[tf.Tensor, Metrics]:
    """(weighted term added to D's loss, metrics)."""
    del step
    return tf.constant(0.0), {}

  def g_term(self, step: GStep) -> tuple[tf.Tensor, Metrics]:
    """(weighted term added to G's loss, metrics)."""
    del step
    return tf.constant(0.0), {}


def check_weights(name: str, **weights: float) -> None:
  """One clear error for a negative (or NaN) weight."""
  for key, value in weights.items():
    if not value >= 0.0:
      raise ValueError(f"{name}.{key} must be >= 0. Received: {value!r}")


def make_regularizer(entry: Any) -> Regularizer | None:
  """The regularizer named by `entry` (a name, `@name` from gin, an
  instance, or None/"none")."""
  if entry is None or entry == "none":
    return None
  if isinstance(entry, Regularizer):
    return entry
  return REGULARIZERS.make(entry)


def make_regularizers(entry: Any) -> list[Regularizer]:
  """`ModularGAN.d_regularizer`: None, one entry, or a list of entries (each
  registered name at most once: their metrics share names)."""
  entries: Sequence[Any] = entry if isinstance(entry, (list, tuple)) else [entry]
  made = [r for r in (make_regularizer(e) for e in entries) if r is not None]
  names = [getattr(type(r), "registry_name", type(r).__name__) for r in made]
  repeated = sorted({n for n in names if names.count(n) > 1})
  if repeated:
    raise ValueError(f"ModularGAN.d_regularizer lists {', '.join(repeated)} twice; "
                     "name each regularizer once.")
  return made
