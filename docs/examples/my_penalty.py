"""Example penalty: R1's gradient penalty on the generated images (R2)."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from compare_gan2.core.registry import PENALTIES


@PENALTIES.register("r2_penalty")
def r2_penalty(discriminator: Callable[..., tf.Tensor], x_fake: tf.Tensor,
               y: Any) -> tf.Tensor:
  """0.5 * E ||grad D(x_fake)||^2, unweighted (`ModularGAN.lamba` weighs it).

  A penalty names the arguments it needs among discriminator (x, y ->
  logits), discriminator_model, discriminator_variables, x, x_fake [B, H, W,
  C], y, seeds and data_range.
  """
  with tf.GradientTape() as tape:
    tape.watch(x_fake)
    logits = discriminator(x_fake, y)
  grad = tape.gradient(logits, x_fake)
  return 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))
