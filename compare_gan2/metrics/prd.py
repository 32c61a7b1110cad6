"""Precision and recall for distributions (Sajjadi et al., 2018,
arXiv:1806.00035), from embeddings as in their reference code."""

from __future__ import annotations

import numpy as np
from sklearn import cluster

from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, register_metric


def prd_from_histograms(eval_dist: np.ndarray, ref_dist: np.ndarray,
                        num_angles: int = 1001, epsilon: float = 1e-10
                        ) -> tuple[np.ndarray, np.ndarray]:
  """PRD curve of two histograms over `num_angles` slopes in (0, pi/2)."""
  if not 3 <= num_angles <= 1e6:
    raise ValueError(f"num_angles must be in [3, 1e6], got {num_angles}.")
  slopes = np.tan(np.linspace(epsilon, np.pi / 2 - epsilon, num=num_angles))
  precision = np.minimum(ref_dist[None, :] * slopes[:, None],
                         eval_dist[None, :]).sum(axis=1)
  recall = precision / slopes
  # Clipping only removes round-off; anything bigger is a bug upstream.
  return np.clip(precision, 0, 1), np.clip(recall, 0, 1)


def _cluster_into_bins(eval_data, ref_data, num_clusters, seed):
  data = np.vstack([eval_data, ref_data])
  kmeans = cluster.MiniBatchKMeans(n_clusters=num_clusters, n_init=10,
                                   random_state=seed)
  labels = kmeans.fit(data).labels_
  eval_labels = labels[:len(eval_data)]
  ref_labels = labels[len(eval_data):]
  eval_bins = np.histogram(eval_labels, bins=num_clusters,
                           range=[0, num_clusters], density=True)[0]
  ref_bins = np.histogram(ref_labels, bins=num_clusters,
                          range=[0, num_clusters], density=True)[0]
  return eval_bins, ref_bins


def prd(features1, features2, num_clusters: int = 20,
        num_angles: int = 1001, num_runs: int = 10, seed: int = 0
        ) -> tuple[np.ndarray, np.ndarray]:
  """PRD curve of generated features2 against reference features1.

  Returns (precision, recall), each [num_angles], averaged over `num_runs`
  clusterings of the union of both sets. As in the reference code the sets
  must have the same size, so that neither dominates the clustering.
  """
  ref, ev = _checks.check_features(features1, features2)
  if len(ref) != len(ev):
    raise ValueError(
        f"PRD needs equally many samples, got {len(ref)} and {len(ev)}.")
  if len(ref) + len(ev) < num_clusters:
    raise ValueError(
        f"PRD needs at least num_clusters={num_clusters} samples in total.")
  precisions, recalls = [], []
  for run in range(num_runs):
    eval_dist, ref_dist = _cluster_into_bins(ev, ref, num_clusters,
                                             seed + run)
    p, r = prd_from_histograms(eval_dist, ref_dist, num_angles)
    precisions.append(p)
    recalls.append(r)
  return np.mean(precisions, axis=0), np.mean(recalls, axis=0)


def _f_beta(precision, recall, beta, epsilon=1e-10):
  return ((1 + beta ** 2) * precision * recall
          / (beta ** 2 * precision + recall + epsilon))


def prd_f_beta(precision, recall, beta: float = 8) -> tuple[float, float]:
  """(max F_beta, max F_1/beta) of a PRD curve: recall- and precision-like."""
  precision = _checks.as_finite(precision, "precision", ndim=1)
  recall = _checks.as_finite(recall, "recall", ndim=1)
  if precision.shape != recall.shape:
    raise ValueError("precision and recall must have the same shape.")
  if np.any((precision < 0) | (precision > 1) | (recall < 0) | (recall > 1)):
    raise ValueError("precision and recall must lie in [0, 1].")
  if beta <= 0:
    raise ValueError(f"beta must be positive, got {beta}.")
  return (float(np.max(_f_beta(precision, recall, beta))),
          float(np.max(_f_beta(precision, recall, 1.0 / beta))))


@register_metric("prd", directions={"prd_f8": 1, "prd_f1_8": 1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Precision and recall for distributions as (F_8, F_1/8) (Sajjadi et al., 2018)."""
  n = min(len(real.features), len(fake.features))
  precision, recall = prd(real.features[:n], fake.features[:n])
  f_8, f_1_8 = prd_f_beta(precision, recall, beta=8)
  return {"prd_f8": f_8, "prd_f1_8": f_1_8}
