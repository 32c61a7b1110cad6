"""Metric functions against independent computations (REFERENCE.md sec. 8)."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from compare_gan2 import metrics


def _rng(seed=0):
  return np.random.RandomState(seed)


# ---------------------------------------------------------------- FID


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


# ---------------------------------------------------------------- KID


def _mmd2_loops(x, y):
  d = x.shape[1]
  k = lambda a, b: (np.dot(a, b) / d + 1) ** 3
  m, n = len(x), len(y)
  kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
  kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
  kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
  return kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2 * kxy / (m * n)


def test_kid_single_block_matches_loops():
  rng = _rng(3)
  x, y = rng.randn(12, 5), rng.randn(9, 5) + 0.5
  mean, std = metrics.kernel_distance(x, y)
  assert mean == pytest.approx(_mmd2_loops(x, y), rel=1e-10)
  assert np.isnan(std)  # One block: no spread to estimate, as in TF-GAN.


def test_kid_blocks_split_as_tfgan():
  rng = _rng(4)
  x, y = rng.randn(23, 3), rng.randn(17, 3) * 2
  # ceil(23 / 8) = 3 blocks; sizes 7,8,8 for x and 5,6,6 for y.
  ests = [_mmd2_loops(x[0:7], y[0:5]), _mmd2_loops(x[7:15], y[5:11]),
          _mmd2_loops(x[15:23], y[11:17])]
  mean, std = metrics.kernel_distance(x, y, max_block_size=8)
  assert mean == pytest.approx(np.mean(ests), rel=1e-10)
  assert std == pytest.approx(np.std(ests, ddof=1) / np.sqrt(3), rel=1e-9)


def test_kid_identical_distribution_near_zero():
  rng = _rng(5)
  same, _ = metrics.kernel_distance(rng.randn(300, 8), rng.randn(300, 8))
  shifted, _ = metrics.kernel_distance(rng.randn(300, 8),
                                       rng.randn(300, 8) + 1)
  assert abs(same) < 0.05 < shifted


# ---------------------------------------------------------------- IS


def test_inception_score_matches_direct_kl():
  logits = _rng(6).randn(50, 10) * 3
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  py = p.mean(0)
  kl = [np.sum(p[i] * np.log(p[i] / py)) for i in range(len(p))]
  assert metrics.inception_score(logits) == pytest.approx(
      np.exp(np.mean(kl)), rel=1e-10)


def test_inception_score_bounds():
  assert metrics.inception_score(np.zeros((20, 7))) == pytest.approx(1.0)
  k = 5
  one_hot = np.tile(np.eye(k) * 100.0, (3, 1))  # Confident, all classes.
  assert metrics.inception_score(one_hot) == pytest.approx(k, rel=1e-6)


# ---------------------------------------------------------------- MS-SSIM


def _smooth_images(n, size, rng):
  """Textured images in [0, 1], so that all scales carry structure."""
  x = rng.rand(n, size, size, 3)
  x = tf.nn.avg_pool2d(x, 3, 1, "SAME").numpy()
  return np.clip(x, 0, 1)


@pytest.mark.parametrize("size", [176, 181])
def test_ms_ssim_matches_tf(size):
  rng = _rng(7)
  a = _smooth_images(3, size, rng)
  b = np.clip(a + 0.1 * rng.randn(*a.shape), 0, 1)
  expected = tf.image.ssim_multiscale(
      tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=1.0,
      filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
  got = metrics.ms_ssim(a, b, max_val=1.0)
  assert got.shape == (3,)
  np.testing.assert_allclose(got, expected, atol=1e-5)


def test_ms_ssim_identical_is_one_and_diversity():
  rng = _rng(8)
  images = _smooth_images(4, 176, rng)
  np.testing.assert_allclose(metrics.ms_ssim(images, images), 1.0, atol=1e-9)
  diverse = metrics.ms_ssim_diversity(images, num_pairs=6, seed=0)
  collapsed = metrics.ms_ssim_diversity(np.repeat(images[:1], 4, axis=0),
                                        num_pairs=6, seed=0)
  assert diverse < 0.9 and collapsed == pytest.approx(1.0)


def test_ms_ssim_rejects_small_images():
  x = np.zeros((1, 64, 64, 3))
  with pytest.raises(ValueError, match="at least 161x161"):
    metrics.ms_ssim(x, x)


# ---------------------------------------------------------------- PRD


def test_prd_identical_and_disjoint():
  rng = _rng(9)
  real = rng.randn(400, 4)
  fake = rng.randn(400, 4)
  p, r = metrics.prd(real, fake, num_clusters=5, num_runs=2)
  assert p.shape == r.shape == (1001,)
  f8, f18 = metrics.prd_f_beta(p, r)
  assert f8 > 0.9 and f18 > 0.9
  p, r = metrics.prd(real, fake + 100.0, num_clusters=5, num_runs=2)
  f8, f18 = metrics.prd_f_beta(p, r)
  assert f8 < 0.05 and f18 < 0.05


def test_prd_f_beta_known_curve():
  # Perfect curve: precision 1 for every recall up to 1.
  f8, f18 = metrics.prd_f_beta(np.array([1.0, 1.0]), np.array([0.5, 1.0]))
  assert f8 == pytest.approx(1.0) and f18 == pytest.approx(1.0)


# ---------------------------------------------------------------- SWD


def test_swd_identical_near_zero_and_grows_with_shift():
  rng = _rng(10)
  a, b = _smooth_images(32, 32, rng), _smooth_images(32, 32, rng)
  # Shift the patch distribution towards vertical stripes.
  stripes = (np.sin(np.arange(32) * 0.8)[None, None, :, None] + 1) / 2
  stripes = np.broadcast_to(stripes, a.shape)
  levels, same = metrics.sliced_wasserstein_distance(a, a, seed=0)
  assert len(levels) == 2 and same == pytest.approx(np.mean(levels))
  dists = [metrics.sliced_wasserstein_distance(
      a, (1 - t) * b + t * stripes, seed=0)[1] for t in (0.0, 0.5, 1.0)]
  # Identical sets differ only by the random patch draws.
  assert same < 0.2 * dists[1]
  assert dists[0] < dists[1] < dists[2]


# ---------------------------------------------------------------- D acc


def test_discriminator_accuracy():
  acc = metrics.discriminator_accuracy(np.array([1.0, -1.0, 2.0]),
                                       np.array([-3.0, 0.5, -0.1]))
  assert acc == pytest.approx(4 / 6)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("fn", [metrics.frechet_distance,
                                metrics.kernel_distance, metrics.prd])
def test_feature_metrics_validate_inputs(fn):
  rng = _rng(11)
  with pytest.raises(ValueError, match="Feature dimensions differ"):
    fn(rng.randn(30, 4), rng.randn(30, 5))
  with pytest.raises(ValueError, match="at least 2 samples"):
    fn(rng.randn(1, 4), rng.randn(30, 4))
  bad = rng.randn(30, 4)
  bad[3, 1] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    fn(bad, rng.randn(30, 4))


def test_other_metrics_validate_inputs():
  with pytest.raises(ValueError, match="NaN"):
    metrics.inception_score(np.array([[0.0, np.nan]]))
  with pytest.raises(ValueError, match="at least 2 images"):
    metrics.ms_ssim_diversity(np.zeros((1, 176, 176, 3)), 4, 0)
  with pytest.raises(ValueError, match="NaN"):
    metrics.sliced_wasserstein_distance(np.full((2, 32, 32, 3), np.nan),
                                        np.zeros((2, 32, 32, 3)))
  with pytest.raises(ValueError, match="same"):
    metrics.sliced_wasserstein_distance(np.zeros((2, 32, 32, 3)),
                                        np.zeros((3, 32, 32, 3)))


def test_fractal_dimension_of_known_sets():
  """Flat tori T^1, T^2, T^3 (no boundary, so no edge bias), rotated into
  10-D, have correlation dimensions 1, 2 and 3."""
  from compare_gan2.metrics import fractal_dimension
  rng = np.random.RandomState(0)
  rotation, _ = np.linalg.qr(rng.randn(10, 10))
  for dim in (1, 2, 3):
    angles = 2 * np.pi * rng.rand(2000, dim)
    torus = np.zeros([2000, 10])
    torus[:, :2 * dim] = np.concatenate([np.cos(angles), np.sin(angles)], axis=1)
    assert fractal_dimension(torus @ rotation) == pytest.approx(dim, abs=0.15)
  with pytest.raises(ValueError, match="at least 10 points"):
    fractal_dimension(np.zeros([5, 3]))
  with pytest.raises(ValueError, match="identical points"):
    fractal_dimension(np.zeros([50, 3]))
