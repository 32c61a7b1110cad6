"""Input validation shared by the metric functions.

Metrics are computed once per checkpoint and end up in scores.csv, so a bad
input must fail loudly here rather than produce a silent NaN in a table.
"""

from __future__ import annotations

import numpy as np


def as_finite(x, name: str, ndim: int | None = None,
              dtype=np.float64) -> np.ndarray:
  """Returns `x` as an array of `dtype`, checking rank and finiteness."""
  x = np.asarray(x, dtype=dtype)
  if ndim is not None and x.ndim != ndim:
    raise ValueError(f"{name} must have rank {ndim}, got shape {x.shape}.")
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{name} contains NaN or Inf values.")
  return x


def check_features(act1, act2, min_samples: int = 2
                   ) -> tuple[np.ndarray, np.ndarray]:
  """Validates two [N, D] feature matrices with the same D."""
  act1 = as_finite(act1, "act1", ndim=2)
  act2 = as_finite(act2, "act2", ndim=2)
  if act1.shape[1] != act2.shape[1]:
    raise ValueError(
        f"Feature dimensions differ: act1 has {act1.shape[1]}, "
        f"act2 has {act2.shape[1]}.")
  for name, a in (("act1", act1), ("act2", act2)):
    if a.shape[0] < min_samples:
      raise ValueError(
          f"{name} needs at least {min_samples} samples, got {a.shape[0]}.")
  return act1, act2


def check_images(images, name: str) -> np.ndarray:
  """Validates a [N, H, W, C] image batch."""
  return as_finite(images, name, ndim=4)
