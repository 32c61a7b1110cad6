"""Weight initializers of compare_gan (`weights.initializer`)."""

from __future__ import annotations

import gin
import keras

INITIALIZERS = ("normal", "truncated", "orthogonal")


@gin.configurable("weights")
def weight_initializer(initializer: str = "normal",
                       stddev: float = 0.02) -> keras.initializers.Initializer:
  """Returns the kernel initializer named by gin `weights.initializer`.

  Args:
    initializer: str. One of "normal" (N(0, stddev), the default),
      "truncated" (truncated normal) or "orthogonal".
    stddev: float. Standard deviation of the normal initializers.
  """
  if initializer == "normal":
    return keras.initializers.RandomNormal(stddev=stddev)
  if initializer == "truncated":
    return keras.initializers.TruncatedNormal(stddev=stddev)
  if initializer == "orthogonal":
    return keras.initializers.Orthogonal()
  raise ValueError(
      f"`weights.initializer` must be one of {INITIALIZERS}. "
      f"Received: initializer={initializer!r}")
