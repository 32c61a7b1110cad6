"""Example normalization: ProGAN's pixel norm as a G/D normalization."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.core.registry import NORMALIZATIONS


@NORMALIZATIONS.register("pixel_norm_example")
class PixelNormExample(keras.layers.Layer):
  """x / sqrt(mean over channels of x^2 + epsilon), no parameters.

  A normalization is a Keras layer built as `cls(name=..., use_sn=...)` and
  called as `layer(x, y=None, z=None, training=None)` with x [B, H, W, C] or
  [B, C], y the labels and z the latent (for conditional variants).
  """

  def __init__(self, use_sn: bool = False, epsilon: float = 1e-8, **kwargs: Any):
    super().__init__(**kwargs)
    self.use_sn = use_sn
    self.epsilon = epsilon

  def call(self, x, y=None, z=None, training=None):
    del y, z, training
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True)
                             + self.epsilon)

  def get_config(self):
    return {**super().get_config(), "use_sn": self.use_sn, "epsilon": self.epsilon}
