"""Frechet Inception Distance (Heusel et al., 2017, arXiv:1706.08500)."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, register_metric


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  """Square root of a symmetric PSD matrix via its eigendecomposition."""
  eigvals, eigvecs = np.linalg.eigh(matrix)
  # Round-off makes tiny eigenvalues of a singular covariance negative.
  eigvals = np.sqrt(np.clip(eigvals, 0.0, None))
  return (eigvecs * eigvals) @ eigvecs.T


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2) -> float:
  """FID from means [D] and covariances [D, D] of two Gaussians."""
  mu1 = _checks.as_finite(mu1, "mu1", ndim=1)
  mu2 = _checks.as_finite(mu2, "mu2", ndim=1)
  sigma1 = _checks.as_finite(sigma1, "sigma1", ndim=2)
  sigma2 = _checks.as_finite(sigma2, "sigma2", ndim=2)
  d = mu1.shape[0]
  if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
    raise ValueError(
        f"Inconsistent shapes: mu1 {mu1.shape}, sigma1 {sigma1.shape}, "
        f"mu2 {mu2.shape}, sigma2 {sigma2.shape}.")
  sigma1 = 0.5 * (sigma1 + sigma1.T)
  sigma2 = 0.5 * (sigma2 + sigma2.T)
  # Tr(sqrt(C1 C2)) = Tr(sqrt(sqrt(C1) C2 sqrt(C1))): the latter matrix is
  # symmetric PSD, so eigvalsh gives real eigenvalues, unlike scipy's sqrtm
  # of the non-symmetric product, which can return complex noise.
  # With C1 = L L^T (Cholesky), L^T C2 L has the same eigenvalues and costs
  # no eigenvectors; a singular C1 (fewer samples than dims) falls back to
  # the symmetric square root.
  try:
    lower = np.linalg.cholesky(sigma1)
    inner = lower.T @ sigma2 @ lower
  except np.linalg.LinAlgError:
    sqrt1 = _sqrt_psd(sigma1)
    inner = sqrt1 @ sigma2 @ sqrt1
  inner = 0.5 * (inner + inner.T)
  eigvals = np.clip(np.linalg.eigvalsh(inner), 0.0, None)
  tr_covmean = np.sum(np.sqrt(eigvals))
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
               - 2.0 * tr_covmean)


def frechet_distance(act1, act2) -> float:
  """FID between two feature sets [N1, D] and [N2, D] (float64).

  Uses the unbiased covariance estimate; N < D is allowed (the covariances
  are then singular, which the eigenvalue route handles).
  """
  act1, act2 = _checks.check_features(act1, act2)
  return frechet_distance_from_stats(
      act1.mean(axis=0), np.cov(act1, rowvar=False),
      act2.mean(axis=0), np.cov(act2, rowvar=False))


@register_metric("fid", directions={"fid": -1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Frechet Inception Distance between the real and generated features."""
  return {"fid": frechet_distance(real.features, fake.features)}
