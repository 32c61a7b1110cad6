"""Discriminator penalties (compare_gan `penalty_lib`), chosen in gin by
`penalty.fn = @wgangp_penalty`; weighted by `options.lamba` in the GAN.

A penalty declares the inputs it needs among:
  discriminator: callable (x, y) -> logits, D in training mode;
  discriminator_model: the Keras discriminator;
  discriminator_variables: what the D step trains, D's trainable variables
    and its heads' (SSGAN's rotation head, S3GAN's predictor and projection),
    as the original's `discriminator.trainable_variables` (every trainable
    variable whose name contains "discriminator") held them;
  x: real images [B, H, W, C] in `data_range`; x_fake: fake images;
  y: labels or None; seeds: int32 [B, 2] per-example seeds for random draws;
  data_range: (lo, hi) of the real data, or None when unbounded.
"""

from __future__ import annotations

from typing import Any, Callable

import gin
import tensorflow as tf

from compare_gan2.losses import call_with_accepted_args
from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import PENALTIES, import_submodules

DiscriminatorFn = Callable[[tf.Tensor, Any], tf.Tensor]


def _gradient_norms(discriminator: DiscriminatorFn, x: tf.Tensor,
                    y: Any) -> tf.Tensor:
  """sqrt(1e-4 + ||dD(x)/dx||^2) per example, as the original computes it."""
  with tf.GradientTape() as tape:
    tape.watch(x)
    logits = discriminator(x, y)
  grad = tape.gradient(logits, x)
  return tf.sqrt(1e-4 + tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))


@PENALTIES.register("no_penalty")
def no_penalty() -> tf.Tensor:
  """No penalty: 0."""
  return tf.constant(0.0)


@PENALTIES.register("wgangp_penalty")
def wgangp_penalty(discriminator: DiscriminatorFn, x: tf.Tensor,
                   x_fake: tf.Tensor, y: Any, seeds: tf.Tensor) -> tf.Tensor:
  """WGAN-GP gradient penalty (Gulrajani et al., 2017, arXiv:1704.00028).

  x_hat = x + a (x_fake - x), a ~ U[0, 1) per example;
  mean((sqrt(1e-4 + ||grad D(x_hat)||^2) - 1)^2).
  """
  alpha = per_example_uniform(seeds, [1, 1, 1], salt=1)
  x_hat = x + alpha * (x_fake - x)
  return tf.reduce_mean(tf.square(_gradient_norms(discriminator, x_hat, y) - 1.0))


@PENALTIES.register("dragan_penalty")
def dragan_penalty(discriminator: DiscriminatorFn, x: tf.Tensor, y: Any,
                   seeds: tf.Tensor,
                   data_range: tuple[float, float] | None = (0.0, 1.0)
                   ) -> tf.Tensor:
  """DRAGAN penalty (Kodali et al., 2017, arXiv:1705.07215).

  x_hat = clip(x + std(x) * (U[0,1) - 0.5), lo, hi), std over the whole batch;
  mean((sqrt(1e-4 + ||grad D(x_hat)||^2) - 1)^2). The original clips to
  [0, 1], the range of its images; here (lo, hi) is the data's `data_range`,
  and unbounded data (`None`, the 2-D mixtures) is not clipped.
  """
  noise = per_example_uniform(seeds, x.shape[1:], salt=2)
  std = tf.math.reduce_std(x)
  x_hat = x + std * (noise - 0.5)
  if data_range is not None:
    x_hat = tf.clip_by_value(x_hat, float(data_range[0]), float(data_range[1]))
  return tf.reduce_mean(tf.square(_gradient_norms(discriminator, x_hat, y) - 1.0))


def _is_kernel(variable: tf.Variable) -> bool:
  """A dense, convolution or transposed convolution kernel: the original's
  variables named ".../kernel:0" (projection embeddings included; biases,
  norm scales, attention's sigma and spectral-norm vectors not)."""
  return variable.path.split("/")[-1] == "kernel"


@PENALTIES.register("l2_penalty")
def l2_penalty(discriminator_variables: list[tf.Variable]) -> tf.Tensor:
  """Mean over the trainable kernels of D and its heads of
  l2_loss(w) = sum(w^2) / 2, as the original (a mean, not a sum)."""
  kernels = [w for w in discriminator_variables if w.trainable and _is_kernel(w)]
  if not kernels:
    raise ValueError("l2_penalty: the discriminator has no trainable kernels. "
                     f"Received variables: {[w.path for w in discriminator_variables]}")
  return tf.reduce_mean(tf.stack([tf.nn.l2_loss(w) for w in kernels]))


@PENALTIES.register("r1_penalty")
def r1_penalty(discriminator: DiscriminatorFn, x: tf.Tensor, y: Any) -> tf.Tensor:
  """R1 penalty (Mescheder et al., 2018, arXiv:1801.04406) without its weight:
  0.5 * E ||grad D(x_real)||^2, so `options.lamba` plays the paper's gamma."""
  with tf.GradientTape() as tape:
    tape.watch(x)
    logits = discriminator(x, y)
  grad = tape.gradient(logits, x)
  return 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))


@gin.configurable("penalty", allowlist=["fn"])
def get_penalty_loss(fn: Any = "no_penalty", **kwargs: Any) -> tf.Tensor:
  """Evaluates the penalty chosen by gin `penalty.fn` (a name or `@name`)."""
  return call_with_accepted_args(PENALTIES.get(fn), **kwargs)


# A new penalty of the package is one file in this folder: imported here,
# after the definitions above that it may use.
import_submodules(__name__, __path__)
