"""Per-example randomness that does not depend on how a batch is split.

Every example of a training batch carries its own int32 seed pair, made in the
input pipeline. Random draws in the training step (penalty interpolation,
augmentation) come from these seeds, so one global batch gives the same
numbers on one device or split over many replicas.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def per_example_uniform(seeds: tf.Tensor, shape: Sequence[int], salt: int,
                        minval: float = 0.0, maxval: float = 1.0) -> tf.Tensor:
  """Uniform [minval, maxval) draws of `shape` for each example.

  Args:
    seeds: int32 [B, 2]. The examples' seeds.
    shape: per-example shape.
    salt: int. Distinguishes independent uses of the same seeds.
  Returns:
    float32 [B, *shape].
  """
  seeds = tf.cast(seeds, tf.int32)
  keys = tf.stack([seeds[:, 0], seeds[:, 1] * 1000003 + salt], axis=1)
  return tf.map_fn(
      lambda s: tf.random.stateless_uniform(shape, seed=s, minval=minval,
                                            maxval=maxval),
      keys, fn_output_signature=tf.float32)
