"""k-NN manifold metrics: improved precision and recall (Kynkaanniemi et al.,
2019, arXiv:1904.06991; k = 3) and density and coverage (Naeem et al., 2020,
arXiv:2002.09797; k = 5), as the `prdc` package of the latter's authors
computes them.

Each sample's manifold ball has the radius of its k-th nearest neighbour in
its own set, the sample itself not counted (the (k+1)-th smallest distance
with the zero self-distance). A point is inside a ball when its distance is
strictly smaller than the radius (`prdc`'s `<`; stylegan2-ada's
precision_recall.py uses `<=` on squared float16 distances, which differs
only at ties, e.g. k+1 identical samples).

Distances are computed in row blocks (|a|^2 - 2 a.b + |b|^2, clamped at 0,
as sklearn and stylegan2-ada expand them), so that 50,000 x 50,000 features
never hold an N x N matrix: only a block [block_size, N] and per-sample
reductions.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import tensorflow as tf

from compare_gan2.core.checks import is_int
from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, register_metric

# Papers' neighbourhood sizes: Kynkaanniemi et al. k = 3, Naeem et al. k = 5.
PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5
# Rows per distance block: a [1024, N] block of float64 is 400 MB at N = 50k.
BLOCK_SIZE = 1024
# float64 agrees with prdc (sklearn's distances) to the last count; float32
# is ~5x faster on CPU (oneDNN) and differs only at near-ties.
DTYPES = ("float32", "float64")


def _check(real, fake, nearest_k: int, dtype: str, block_size: int
           ) -> tuple[np.ndarray, np.ndarray]:
  """real, fake as `dtype` arrays; one clear ValueError for bad input."""
  if dtype not in DTYPES:
    raise ValueError(f"dtype must be one of {DTYPES}. Received: {dtype!r}")
  if not is_int(nearest_k, 1):
    raise ValueError(f"nearest_k must be an integer >= 1. Received: {nearest_k!r}")
  if block_size < 1:
    raise ValueError(f"block_size must be >= 1. Received: {block_size}")
  real = _checks.as_finite(real, "real features", ndim=2, dtype=dtype)
  fake = _checks.as_finite(fake, "fake features", ndim=2, dtype=dtype)
  if real.shape[1] != fake.shape[1]:
    raise ValueError(f"Feature dimensions differ: real has {real.shape[1]}, "
                     f"fake has {fake.shape[1]}.")
  for name, x in (("real", real), ("fake", fake)):
    if len(x) < nearest_k + 1:
      raise ValueError(
          f"The k-NN radius with nearest_k={nearest_k} needs at least "
          f"{nearest_k + 1} {name} samples (the sample and its {nearest_k} "
          f"neighbours). Received: {len(x)}")
  return real, fake


def _distance_blocks(x: tf.Tensor, y: tf.Tensor, block_size: int
                     ) -> Iterator[tuple[int, int, np.ndarray]]:
  """(start, end, Euclidean distances [end - start, len(y)]) per row block
  of x."""
  y_sq = tf.reduce_sum(tf.square(y), axis=1)[None, :]
  for start in range(0, int(x.shape[0]), block_size):
    rows = x[start:start + block_size]
    x_sq = tf.reduce_sum(tf.square(rows), axis=1)[:, None]
    sq = tf.maximum(x_sq - 2.0 * tf.matmul(rows, y, transpose_b=True) + y_sq, 0.0)
    yield start, start + int(rows.shape[0]), tf.sqrt(sq).numpy()


def knn_radii(features, nearest_k: int, block_size: int = BLOCK_SIZE,
              dtype: str = "float64") -> np.ndarray:
  """Distance of each sample to its `nearest_k`-th nearest neighbour in
  `features` [N, D], the sample itself excluded: [N] (`prdc`'s
  compute_nearest_neighbour_distances)."""
  features, _ = _check(features, features, nearest_k, dtype, block_size)
  x = tf.constant(features)
  radii = np.empty(len(features), features.dtype)
  for start, end, dist in _distance_blocks(x, x, block_size):
    # The self-distance is exactly 0, as sklearn sets the diagonal.
    dist[np.arange(end - start), np.arange(start, end)] = 0.0
    radii[start:end] = np.partition(dist, nearest_k, axis=1)[:, nearest_k]
  return radii


def prdc(real, fake, nearest_k: int, block_size: int = BLOCK_SIZE,
         dtype: str = "float64", recall: bool = True) -> dict[str, float]:
  """Precision, recall, density and coverage of generated features `fake`
  [M, D] against `real` [N, D], with k = `nearest_k` (`prdc.compute_prdc`).

    precision  share of fakes inside some real sample's k-NN ball
    recall     share of reals inside some fake sample's k-NN ball
    density    mean over fakes of the number of real balls holding it, / k
    coverage   share of reals whose ball holds their nearest fake

  Args:
    real, fake: [N, D] and [M, D] features (N and M may differ).
    nearest_k: int >= 1; N and M must exceed it.
    block_size: rows per distance block (memory: block_size x max(N, M)).
    dtype: "float64" (prdc's sklearn distances, to the last count) or
      "float32" (faster; may differ at near-ties).
    recall: False skips the fake set's radii (an M x M pass) and omits
      "recall".
  """
  real, fake = _check(real, fake, nearest_k, dtype, block_size)
  real_radii = knn_radii(real, nearest_k, block_size, dtype)
  fake_radii = knn_radii(fake, nearest_k, block_size, dtype) if recall else None
  in_real_balls = np.zeros(len(fake), np.int64)  # per fake: real balls holding it
  reals_recalled = np.zeros(len(real), bool)
  reals_covered = np.zeros(len(real), bool)
  for start, end, dist in _distance_blocks(tf.constant(real), tf.constant(fake),
                                           block_size):
    radii = real_radii[start:end, None]
    in_real_balls += np.sum(dist < radii, axis=0)
    reals_covered[start:end] = dist.min(axis=1) < radii[:, 0]
    if recall:
      reals_recalled[start:end] = np.any(dist < fake_radii[None, :], axis=1)
  scores = {"precision": float(np.mean(in_real_balls > 0)),
            "density": float(np.mean(in_real_balls) / nearest_k),
            "coverage": float(np.mean(reals_covered))}
  if recall:
    scores["recall"] = float(np.mean(reals_recalled))
  return scores


def improved_precision_recall(real, fake, nearest_k: int = PRECISION_RECALL_K,
                              **kwargs) -> tuple[float, float]:
  """(precision, recall) of Kynkaanniemi et al. (2019); kwargs: `prdc`'s."""
  scores = prdc(real, fake, nearest_k, **kwargs)
  return scores["precision"], scores["recall"]


def density_coverage(real, fake, nearest_k: int = DENSITY_COVERAGE_K,
                     **kwargs) -> tuple[float, float]:
  """(density, coverage) of Naeem et al. (2020); kwargs: `prdc`'s but
  `recall`."""
  scores = prdc(real, fake, nearest_k, recall=False, **kwargs)
  return scores["density"], scores["coverage"]


@register_metric("precision_recall", directions={"precision": 1, "recall": 1})
def precision_recall_score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Improved precision and recall, k-NN manifolds with k = 3 (Kynkaanniemi et al., 2019)."""
  precision, recall = improved_precision_recall(real.features, fake.features)
  return {"precision": precision, "recall": recall}


# Density is 1 in expectation for samples of the real distribution and
# unbounded above (samples crowding dense real regions): neither direction.
@register_metric("density_coverage", directions={"density": 0, "coverage": 1})
def density_coverage_score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Density and coverage, k-NN balls of the reals with k = 5 (Naeem et al., 2020)."""
  density, coverage = density_coverage(real.features, fake.features)
  return {"density": density, "coverage": coverage}
