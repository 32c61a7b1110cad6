"""Consistency regularization: CR (Zhang et al., ICLR 2020,
arXiv:1910.12027), bCR and zCR (Zhao et al., AAAI 2021, "Improved Consistency
Regularization for GANs", arXiv:2002.04724), chosen in gin by
`ModularGAN.d_regularizer = "cr"` (or "bcr", "zcr", or a list such as
["bcr", "zcr"], the papers' ICR).

The papers' equations (their code, on an internal compare_gan, was not
released; docs/fidelity.md), with D(.) D's logits before the activation and
T a random horizontal flip and shift by a few pixels:
  cr:  D loss + lambda * ||D(x) - D(T(x))||^2 on the reals;
  bcr: D loss + lambda_real * ||D(x) - D(T(x))||^2
              + lambda_fake * ||D(G(z)) - D(T(G(z)))||^2;
  zcr: D loss + lambda_dis * ||D(G(z)) - D(G(z + dz))||^2,
       G loss - lambda_gen * ||G(z) - G(z + dz)||^2, dz ~ N(0, sigma_noise^2 I).
||.||^2 is the squared difference averaged over the batch (and, for G's
images, over pixels and channels). Both sides of each difference carry the
gradient of the network trained in that step (D in the D step, G in G's);
the images D sees in the D step are constants (fakes stop-gradient).

x, G(z) are the images D saw in the step (DiffAugment's output when a policy
is set); conditional GANs pass the same labels on both sides. Every random
draw (flip, shift, dz) comes from the example's seeds, so one replica and
several agree, and XLA gives the same values. No state.
"""

from __future__ import annotations

import tensorflow as tf

from compare_gan2.augment import diffaugment as augment
from compare_gan2.gans.regularizer import DStep, GStep, Metrics, Regularizer, check_weights
from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import REGULARIZERS

# Salts of the regularizers' draws: apart from the GAN's augmentation salts
# (DiffAugment uses salt * 1000 + 10 i for salts 1, 2).
REAL_T_SALT, FAKE_T_SALT, NOISE_SALT = 5001, 6001, 7001
PADDINGS = ("reflect", "zeros")


def consistency_transform(images: tf.Tensor, seeds: tf.Tensor, salt: int,
                          shift_ratio: float = 0.125,
                          padding: str = "reflect", flip: bool = True) -> tf.Tensor:
  """The papers' T: a horizontal flip with probability 1/2 (unless not
  `flip`), then a shift by integers in [-s, s] per axis, s = int(size *
  shift_ratio + 0.5) (4 pixels at 32), the vacated pixels filled by
  `padding`. Differentiable in images."""
  x = augment.random_flip(images, seeds, salt) if flip else images
  offsets = augment.random_offsets(seeds, salt + 1, x.shape[1:3], shift_ratio)
  return augment.shift_images(x, offsets, padding)


def squared_distance(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  """||a - b||^2 averaged over the batch and the other axes (float32)."""
  return tf.reduce_mean(tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def per_example_normal(seeds: tf.Tensor, size: int, salt: int) -> tf.Tensor:
  """N(0, 1) draws [B, size] from the examples' seeds (Box-Muller)."""
  u = per_example_uniform(seeds, [2, size], salt)
  radius = tf.sqrt(-2.0 * tf.math.log(1.0 - u[:, 0]))
  return radius * tf.cos(2.0 * 3.141592653589793 * u[:, 1])


class _Augmented(Regularizer):
  """The shared part of CR and bCR: T and the term on one side."""

  def __init__(self, shift_ratio: float, padding: str, flip: bool):
    name = type(self).registry_name
    if not isinstance(flip, bool):
      raise ValueError(f"{name}.flip must be True or False. Received: {flip!r}")
    if padding not in PADDINGS:
      raise ValueError(f"{name}.padding must be one of {', '.join(PADDINGS)}. "
                       f"Received: {padding!r}")
    if not 0.0 <= shift_ratio < 0.5:
      raise ValueError(f"{name}.shift_ratio must be in [0, 0.5). Received: {shift_ratio!r}")
    self.shift_ratio = float(shift_ratio)
    self.padding = padding
    self.flip = flip

  def transform(self, images: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
    return consistency_transform(images, seeds, salt, self.shift_ratio, self.padding,
                                 self.flip)

  def real_term(self, step: DStep) -> tf.Tensor:
    """||D(x) - D(T(x))||^2 on the reals."""
    augmented = self.transform(step.real, step.seeds, REAL_T_SALT)
    return squared_distance(step.real_logits,
                            step.discriminate(augmented, step.y_real, True))

  def fake_term(self, step: DStep) -> tf.Tensor:
    """||D(G(z)) - D(T(G(z)))||^2 on the fakes."""
    augmented = self.transform(step.fake, step.seeds, FAKE_T_SALT)
    return squared_distance(step.fake_logits,
                            step.discriminate(augmented, step.y_fake, False))


@REGULARIZERS.register("cr")
class CR(_Augmented):
  """Consistency regularization (Zhang et al., 2020): D's logits on the reals and their flipped and shifted copies agree.

  Args:
    weight: float. lambda in D's loss. Defaults to `10.0`, the paper's.
    shift_ratio: float. Largest shift as a fraction of the side. Defaults
      to `0.125` (4 pixels at 32).
    padding: "reflect" (default) or "zeros": what fills the vacated pixels.
    flip: bool. Whether T flips (the papers' T does; `False` for data whose
      meaning a mirror changes, such as digits or text). Defaults to `True`.
  """

  def __init__(self, weight: float = 10.0, shift_ratio: float = 0.125,
               padding: str = "reflect", flip: bool = True):
    check_weights("cr", weight=weight)
    super().__init__(shift_ratio, padding, flip)
    self.weight = float(weight)

  def d_term(self, step: DStep) -> tuple[tf.Tensor, Metrics]:
    term = self.real_term(step)
    return self.weight * term, {"cr_real": term}


@REGULARIZERS.register("bcr")
class BalancedCR(_Augmented):
  """Balanced consistency regularization (Zhao et al., 2021): CR on the reals and on the fakes.

  Args:
    lambda_real, lambda_fake: float. Weights in D's loss. Default `10.0`
      each, the paper's.
    shift_ratio, padding, flip: T's, as `cr`.
  """

  def __init__(self, lambda_real: float = 10.0, lambda_fake: float = 10.0,
               shift_ratio: float = 0.125, padding: str = "reflect", flip: bool = True):
    check_weights("bcr", lambda_real=lambda_real, lambda_fake=lambda_fake)
    super().__init__(shift_ratio, padding, flip)
    self.lambda_real, self.lambda_fake = float(lambda_real), float(lambda_fake)

  def d_term(self, step: DStep) -> tuple[tf.Tensor, Metrics]:
    real, fake = self.real_term(step), self.fake_term(step)
    return (self.lambda_real * real + self.lambda_fake * fake,
            {"bcr_real": real, "bcr_fake": fake})


@REGULARIZERS.register("zcr")
class LatentCR(Regularizer):
  """Latent consistency regularization (Zhao et al., 2021): D agrees on G(z) and G(z + dz); G's outputs are pushed apart.

  Args:
    lambda_dis: float. Weight of ||D(G(z)) - D(G(z + dz))||^2 in D's loss.
      Defaults to `5.0`, the paper's.
    lambda_gen: float. Weight of -||G(z) - G(z + dz)||^2 in G's loss.
      Defaults to `0.5`, the paper's.
    sigma_noise: float. Standard deviation of dz. Defaults to `0.03`.
  """

  def __init__(self, lambda_dis: float = 5.0, lambda_gen: float = 0.5,
               sigma_noise: float = 0.03):
    check_weights("zcr", lambda_dis=lambda_dis, lambda_gen=lambda_gen,
                  sigma_noise=sigma_noise)
    self.lambda_dis, self.lambda_gen = float(lambda_dis), float(lambda_gen)
    self.sigma_noise = float(sigma_noise)

  def perturb(self, z: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    """z + dz, the same dz in the D and the G step of one slot's seeds."""
    dz = per_example_normal(seeds, int(z.shape[-1]), NOISE_SALT)
    return z + self.sigma_noise * tf.cast(dz, z.dtype)

  def d_term(self, step: DStep) -> tuple[tf.Tensor, Metrics]:
    if step.z is None:
      raise ValueError("zcr needs the D step's latents: call it through the GAN's "
                       "training step (d_step / d_gradients).")
    moved = tf.stop_gradient(step.generate(self.perturb(step.z, step.seeds), step.y_fake))
    term = squared_distance(step.fake_logits,
                            step.discriminate(moved, step.y_fake, False))
    return self.lambda_dis * term, {"zcr_dis": term}

  def g_term(self, step: GStep) -> tuple[tf.Tensor, Metrics]:
    moved = step.generate(self.perturb(step.z, step.seeds), step.y_fake)
    term = squared_distance(step.fake, moved)
    return -self.lambda_gen * term, {"zcr_gen": term}
