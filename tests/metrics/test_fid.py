"""FID against scipy's sqrtm and closed forms (REFERENCE.md sec. 8)."""

import numpy as np
import pytest
import scipy.linalg

from compare_gan2 import metrics
from metric_cases import _rng


def _fid_sqrtm(act1, act2):
  """Textbook FID with scipy's sqrtm, as in the TTUR reference code."""
  mu1, mu2 = act1.mean(0), act2.mean(0)
  s1, s2 = np.cov(act1, rowvar=False), np.cov(act2, rowvar=False)
  covmean = scipy.linalg.sqrtm(s1 @ s2).real
  return np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)


def _exact_samples(n, mean, sqrt_cov, rng):
  """Samples whose sample mean and unbiased covariance are exactly given."""
  d = len(mean)
  z = rng.randn(n, d)
  z -= z.mean(0)
  # Whitening makes np.cov(z) = I exactly, so cov(z A) = A^T A.
  chol = np.linalg.cholesky(np.cov(z, rowvar=False))
  z = np.linalg.solve(chol, z.T).T
  return z @ sqrt_cov + mean


def test_fid_matches_sqrtm_formula():
  rng = _rng()
  act1 = rng.randn(200, 16)
  act2 = rng.randn(150, 16) * 1.3 + 0.4
  assert metrics.frechet_distance(act1, act2) == pytest.approx(
      _fid_sqrtm(act1, act2), rel=1e-6)


def test_fid_identical_sets_is_zero():
  act = _rng().randn(100, 8)
  assert abs(metrics.frechet_distance(act, act)) < 1e-8


def test_fid_closed_form_gaussians():
  rng = _rng(1)
  d = 4
  mu1, mu2 = rng.randn(d), rng.randn(d)
  a1, a2 = rng.randn(d, d), rng.randn(d, d)
  c1, c2 = a1.T @ a1, a2.T @ a2
  act1 = _exact_samples(500, mu1, a1, rng)
  act2 = _exact_samples(400, mu2, a2, rng)
  # Tr sqrt(C1 C2) from the eigenvalues of C1 C2, which are real and >= 0.
  tr = np.sum(np.sqrt(np.clip(np.linalg.eigvals(c1 @ c2).real, 0, None)))
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * tr
  assert metrics.frechet_distance(act1, act2) == pytest.approx(
      expected, rel=1e-9)
  # Diagonal covariances: sum_i (s1 + s2 - 2 sqrt(s1 s2)).
  s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
  m1, m2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
  fid = metrics.frechet_distance_from_stats(m1, np.diag(s1), m2, np.diag(s2))
  assert fid == pytest.approx(5.0 + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2))


def test_fid_fewer_samples_than_dims_is_real_and_matches():
  rng = _rng(2)
  act1, act2 = rng.randn(10, 32), rng.randn(12, 32) + 0.1
  fid = metrics.frechet_distance(act1, act2)
  assert isinstance(fid, float) and np.isfinite(fid)
  assert fid == pytest.approx(_fid_sqrtm(act1, act2), rel=1e-5)
