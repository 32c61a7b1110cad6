"""Improved precision/recall and density/coverage against the `prdc` package
(Naeem et al.'s reference code, PyPI) on the same features, a hand-made 2-D
case, block-size invariance, bad inputs, and the registered metrics in the
scores.csv of a tiny run."""

import numpy as np
import prdc as prdc_reference
import pytest
from prdc import prdc as prdc_module

from compare_gan2 import metrics
from compare_gan2.metrics import knn_manifolds, scores
from compare_gan2.metrics import base as metric_base
from compare_gan2.runner.schedules import run_schedule
from run_cases import make_runner, read_scores

KEYS = ("precision", "recall", "density", "coverage")


def _features(n_real, n_fake, dim, seed, duplicates=False):
  rng = np.random.RandomState(seed)
  real = rng.randn(n_real, dim)
  fake = 1.2 * rng.randn(n_fake, dim) + 0.3
  if duplicates:
    # Pairs of equal reals and of equal fakes, and fakes equal to reals. With
    # k >= 2 no radius is 0 (k + 1 equal samples make it 0 up to rounding,
    # where prdc's sklearn distances and ours may round differently).
    real[10:20] = real[:10]
    fake[:15] = real[:15]
    fake[20:23] = fake[16:19]
  return real, fake


CASES = [(200, 300, 16, 3, False), (300, 200, 64, 5, True), (64, 64, 8, 1, False), (64, 80, 8, 2, True),
         (500, 450, 2048, 3, False), (120, 700, 32, 5, True)]


@pytest.mark.parametrize("n_real,n_fake,dim,k,duplicates", CASES)
def test_agrees_with_prdc(n_real, n_fake, dim, k, duplicates):
  real, fake = _features(n_real, n_fake, dim, seed=n_real + dim, duplicates=duplicates)
  expected = prdc_reference.compute_prdc(real, fake, nearest_k=k)
  ours = metrics.prdc(real, fake, k, block_size=97)
  for key in KEYS:
    assert ours[key] == pytest.approx(float(expected[key]), rel=1e-6, abs=1e-12), key
  np.testing.assert_allclose(
      metrics.knn_radii(real, k, block_size=50),
      prdc_module.compute_nearest_neighbour_distances(real, k), rtol=1e-10)


def test_float32_agrees_with_prdc_on_float32_features():
  real, fake = _features(400, 350, 256, seed=5, duplicates=True)
  real, fake = real.astype(np.float32), fake.astype(np.float32)
  expected = prdc_reference.compute_prdc(real, fake, nearest_k=3)
  ours = metrics.prdc(real, fake, 3, dtype="float32")
  for key in KEYS:
    assert ours[key] == pytest.approx(float(expected[key]), rel=1e-6), key


def test_named_functions_use_the_papers_k():
  real, fake = _features(150, 160, 12, seed=2)
  pr = prdc_reference.compute_prdc(real, fake, nearest_k=3)
  dc = prdc_reference.compute_prdc(real, fake, nearest_k=5)
  assert metrics.improved_precision_recall(real, fake) == pytest.approx(
      (pr["precision"], pr["recall"]), rel=1e-12)
  assert metrics.density_coverage(real, fake) == pytest.approx(
      (dc["density"], dc["coverage"]), rel=1e-12)


def test_block_size_does_not_change_results():
  real, fake = _features(230, 170, 20, seed=3, duplicates=True)
  results = [metrics.prdc(real, fake, 4, block_size=b) for b in (1, 7, 64, 1000)]
  for key in KEYS:
    assert len({r[key] for r in results}) == 1, key
  # The matmul kernels sum in another order per block shape: radii move by
  # an ulp, the counts not at all.
  radii = [metrics.knn_radii(real, 4, block_size=b) for b in (1, 64, 1000)]
  np.testing.assert_allclose(radii[0], radii[1], rtol=1e-14)
  np.testing.assert_allclose(radii[0], radii[2], rtol=1e-14)


def test_hand_made_2d_case():
  # k = 1. Real radii: 1, 1, 1, 1 and 7 (from (10, 0) to (3, 0)).
  real = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [10, 0]], float)
  # (0.5, 0) is in the balls of (0, 0) and (1, 0); (0, -1) lies on the
  # boundary of (0, 0)'s ball (distance 1 = radius: outside, prdc's `<`);
  # (5, 0) is in (10, 0)'s ball only; (-20, 0) in none.
  fake = np.array([[0.5, 0], [0, -1], [5, 0], [-20, 0]], float)
  # Fake radii: sqrt(1.25), sqrt(1.25), 4.5, sqrt(401). Reals 0-3 fall in the
  # balls of (0.5, 0) or (5, 0); (10, 0) in none (5 > 4.5, 30 > sqrt(401)).
  # Nearest fakes of the reals: 0.5, 0.5, 1.5, 2, 5 against radii 1, 1, 1, 1, 7.
  expected = {"precision": 2 / 4, "density": (2 + 0 + 1 + 0) / 4,
              "recall": 4 / 5, "coverage": 3 / 5}
  assert metrics.prdc(real, fake, 1, block_size=2) == pytest.approx(expected)
  reference = prdc_reference.compute_prdc(real, fake, nearest_k=1)
  assert {k: float(v) for k, v in reference.items()} == pytest.approx(expected)
  np.testing.assert_array_equal(metrics.knn_radii(real, 1), [1, 1, 1, 1, 7])


@pytest.mark.parametrize("real_shape,fake_shape,kwargs,match", [
    ((3, 4), (10, 4), {}, "at least 4 real samples"),
    ((10, 4), (3, 4), {}, "at least 4 fake samples"),
    ((10, 4), (10, 5), {}, "Feature dimensions differ"),
    ((10,), (10, 4), {}, "rank 2"),
    ((10, 4), (10, 4), {"nearest_k": 0}, "nearest_k must be an integer >= 1"),
    ((10, 4), (10, 4), {"nearest_k": 2.5}, "nearest_k must be an integer >= 1"),
    ((10, 4), (10, 4), {"dtype": "float16"}, "dtype must be one of"),
    ((10, 4), (10, 4), {"block_size": 0}, "block_size must be >= 1"),
])
def test_bad_inputs_give_one_clear_error(real_shape, fake_shape, kwargs, match):
  rng = np.random.RandomState(0)
  kwargs = {"nearest_k": 3, **kwargs}
  with pytest.raises(ValueError, match=match):
    metrics.prdc(rng.randn(*real_shape), rng.randn(*fake_shape), **kwargs)


def test_nan_features_are_refused():
  real = np.random.RandomState(0).randn(10, 4)
  fake = real.copy()
  fake[3, 1] = np.nan
  with pytest.raises(ValueError, match="NaN or Inf"):
    metrics.prdc(real, fake, 3)


def test_registered_metrics_and_directions():
  real, fake = _features(80, 90, 6, seed=4)
  sets = [metric_base.SampleSet(np.zeros((len(x), 2, 2, 1)), x) for x in (real, fake)]
  out = scores.compute(["precision_recall", "density_coverage"], *sets)
  pr = prdc_reference.compute_prdc(real, fake, nearest_k=knn_manifolds.PRECISION_RECALL_K)
  dc = prdc_reference.compute_prdc(real, fake, nearest_k=knn_manifolds.DENSITY_COVERAGE_K)
  assert out == pytest.approx({"precision": pr["precision"], "recall": pr["recall"],
                               "density": dc["density"], "coverage": dc["coverage"]})
  assert [metric_base.DIRECTIONS[k] for k in KEYS] == [1, 1, 0, 1]


def test_scores_csv_of_a_tiny_run(tmp_path):
  """A run scored with both metrics on pixel features: its scores.csv holds
  the four values prdc computes on the same real and generated pixels."""
  runner = make_runner(tmp_path / "run", 4, [
      'eval.metrics = ["fid", "precision_recall", "density_coverage"]'])
  run_schedule(runner, "train_and_eval", eval_every_steps=4, num_eval_averaging_runs=1)
  (row,) = read_scores(str(tmp_path / "run"))
  assert row["feature_extractor"] == "pixels"
  # What evaluate_checkpoint scored: the first 32 test images against the
  # generator's samples of seed offset 1.
  runner.restore_from(str(tmp_path / "run" / row["checkpoint"]))
  fake = runner.generate(32, None, seed_offset=1).reshape(32, -1)
  real = runner.dataset.arrays("test")[0][:32]
  real = (real.astype(np.float32) / 255.0 if real.dtype == np.uint8 else real)
  real = real.reshape(32, -1)
  pr = prdc_reference.compute_prdc(real, fake, nearest_k=3)
  dc = prdc_reference.compute_prdc(real, fake, nearest_k=5)
  for key, value in (("precision", pr), ("recall", pr), ("density", dc),
                     ("coverage", dc)):
    assert float(row[key]) == pytest.approx(float(value[key]), rel=1e-6, abs=1e-9), key
