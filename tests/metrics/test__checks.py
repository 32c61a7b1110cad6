"""The metrics' shared input checks, through each metric that uses them."""

import numpy as np
import pytest

from compare_gan2 import metrics
from metric_cases import _rng


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
