"""Example augmentation: a random horizontal flip per example."""

from __future__ import annotations

import tensorflow as tf

from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import AUGMENTATIONS


@AUGMENTATIONS.register("flip")
def flip(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
  """Mirrors each image [H, W, C] left-right with probability 1/2.

  x: [B, H, W, C] in [-1, 1]; seeds: int32 [B, 2] per-example seeds; salt:
  int, makes the draw independent of the other ops' draws.
  """
  u = per_example_uniform(seeds, [1, 1, 1], salt)
  return tf.where(u < 0.5, tf.reverse(x, axis=[2]), x)
