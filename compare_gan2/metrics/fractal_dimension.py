"""Fractal (correlation) dimension of a sample set (Grassberger & Procaccia,
1983), as compare_gan reported it for generated images: the slope of
log C(r) against log r, where C(r) is the fraction of pairs closer than r.
A generator that collapses onto few modes or a thin manifold scores low."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, register_metric


def fractal_dimension(points, num_radii: int = 20, low_quantile: float = 0.001,
                      high_quantile: float = 0.05, max_points: int = 2000,
                      seed: int = 0) -> float:
  """Correlation dimension of points [N, D] (images are flattened).

  Radii are spaced logarithmically between the `low_quantile` and
  `high_quantile` of the pairwise distances: the scaling range, small enough
  to see the local dimension, large enough to hold many pairs.
  """
  x = _checks.as_finite(points, "points")
  x = x.reshape(len(x), -1)
  if len(x) < 10:
    raise ValueError(f"fractal_dimension needs at least 10 points, got {len(x)}.")
  if not 0 < low_quantile < high_quantile < 1:
    raise ValueError("Need 0 < low_quantile < high_quantile < 1. Received: "
                     f"{low_quantile}, {high_quantile}")
  if len(x) > max_points:
    x = x[np.random.RandomState(seed).choice(len(x), max_points, replace=False)]
  squared = np.sum(x * x, axis=1)
  d2 = squared[:, None] + squared[None, :] - 2.0 * x @ x.T
  distances = np.sqrt(np.clip(d2[np.triu_indices(len(x), k=1)], 0.0, None))
  low, high = np.quantile(distances, [low_quantile, high_quantile])
  if not low > 0:
    raise ValueError("Too many identical points: the low radius is 0.")
  radii = np.geomspace(low, high, num_radii)
  distances = np.sort(distances)
  fraction = np.searchsorted(distances, radii) / len(distances)
  slope, _ = np.polyfit(np.log(radii), np.log(fraction), 1)
  return float(slope)


@register_metric("fractal_dimension", directions={"fractal_dimension": 0})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Correlation dimension of the generated images (pixels), as compare_gan."""
  del real
  return {"fractal_dimension": fractal_dimension(fake.images)}
