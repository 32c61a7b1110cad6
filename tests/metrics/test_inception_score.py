"""Inception Score against the KL written out (REFERENCE.md sec. 8)."""

import numpy as np
import pytest

from compare_gan2 import metrics
from metric_cases import _rng


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
