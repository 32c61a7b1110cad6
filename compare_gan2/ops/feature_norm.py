"""Normalization of flat features [B, N] with the feature-map layers."""

from __future__ import annotations

import keras
import tensorflow as tf


def normalize_features(norm: keras.layers.Layer, x: tf.Tensor,
                       y: tf.Tensor | None = None, z: tf.Tensor | None = None,
                       training: bool | None = None) -> tf.Tensor:
  """Applies a normalization layer to features [B, N] -> [B, N].

  The registered normalizations broadcast their conditional scale and offset
  as [B, 1, 1, C], so the features are viewed as [B, 1, 1, N]: the batch
  moments are then per feature, as batch norm on a dense layer computes them.
  """
  n = x.shape[-1]
  h = norm(tf.reshape(x, [-1, 1, 1, n]), y=y, z=z, training=training)
  return tf.reshape(h, [-1, n])
