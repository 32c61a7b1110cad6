"""Per-example randomness that does not depend on how a batch is split.

Every example of a training batch carries its own int32 seed pair, made in the
input pipeline. Random draws in the training step (penalty interpolation,
augmentation) come from these seeds, so one global batch gives the same
numbers on one device or split over many replicas.

The draws are a counter-based integer hash of (seed pair, salt, position),
not `tf.random.stateless_*`: those give other numbers under XLA than on the
CPU kernels, and need a per-example loop. The hash is vectorised and gives
the same bits everywhere.
"""

from __future__ import annotations

import math
from typing import Sequence

import tensorflow as tf


def _mix(x: tf.Tensor) -> tf.Tensor:
  """A 32-bit integer finaliser (xor-shift-multiply) with good avalanche."""
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
  x = x * tf.constant(0x7FEB352D, tf.uint32)
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
  x = x * tf.constant(0x846CA68B, tf.uint32)
  return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


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
  seeds = tf.bitcast(tf.cast(seeds, tf.int32), tf.uint32)
  size = math.prod(int(d) for d in shape)
  salt = tf.constant(salt % 2**32, tf.uint32)
  key = _mix(seeds[:, 0] ^ _mix(seeds[:, 1] ^ _mix(salt)))
  counter = tf.range(size, dtype=tf.int32)
  bits = _mix(key[:, None] ^ _mix(tf.bitcast(counter, tf.uint32) + salt))
  # The top 24 bits make an exact float32 in [0, 1).
  u = tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / 2**24)
  u = minval + (maxval - minval) * u
  return tf.reshape(u, [-1, *[int(d) for d in shape]])
