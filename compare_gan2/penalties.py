"""Discriminator penalties (compare_gan `penalty_lib`), chosen in gin by
`penalty.fn = @wgangp_penalty`; weighted by `options.lamba` in the GAN.

A penalty declares the inputs it needs among:
  discriminator: callable (x, y) -> logits, D in training mode;
  discriminator_model: the Keras discriminator (for weight penalties);
  x: real images [B, H, W, C] in [0, 1]; x_fake: fake images; y: labels or None;
  seeds: int32 [B, 2] per-example seeds for random draws.
"""

from __future__ import annotations

from typing import Any, Callable

import gin
import tensorflow as tf

from compare_gan2.losses import call_with_accepted_args
from compare_gan2.random_ops import per_example_uniform
from compare_gan2.registry import PENALTIES

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
                   seeds: tf.Tensor) -> tf.Tensor:
  """DRAGAN penalty (Kodali et al., 2017, arXiv:1705.07215).

  x_hat = clip(x + std(x) * (U[0,1) - 0.5), 0, 1), std over the whole batch;
  mean((sqrt(1e-4 + ||grad D(x_hat)||^2) - 1)^2).
  """
  noise = per_example_uniform(seeds, x.shape[1:], salt=2)
  std = tf.math.reduce_std(x)
  x_hat = tf.clip_by_value(x + std * (noise - 0.5), 0.0, 1.0)
  return tf.reduce_mean(tf.square(_gradient_norms(discriminator, x_hat, y) - 1.0))


@PENALTIES.register("l2_penalty")
def l2_penalty(discriminator_model: Any) -> tf.Tensor:
  """Sum over D's kernels of l2_loss(w) = sum(w^2) / 2."""
  kernels = [w for w in discriminator_model.trainable_weights
             if w.path.endswith("kernel")]
  return tf.add_n([tf.nn.l2_loss(w) for w in kernels])


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
