"""Inception Score (Salimans et al., 2016, arXiv:1606.03498)."""

from __future__ import annotations

import numpy as np
from scipy import special

from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, needs, register_metric


def inception_score(logits) -> float:
  """exp(mean_x KL(p(y|x) || p(y))) over all samples of logits [N, K].

  No splits, as in the original compare_gan; float64.
  """
  logits = _checks.as_finite(logits, "logits", ndim=2)
  if logits.shape[0] < 1:
    raise ValueError("logits must contain at least one sample.")
  # log_softmax avoids log(0) for confident predictions.
  log_p = special.log_softmax(logits, axis=1)
  p = np.exp(log_p)
  log_marginal = np.log(p.mean(axis=0))
  kl = np.sum(p * (log_p - log_marginal), axis=1)
  return float(np.exp(kl.mean()))


@register_metric("inception_score", directions={"inception_score": 1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Inception Score of the generated images' logits."""
  del real
  return {"inception_score": inception_score(
      needs(fake.logits, "logits", "inception_score"))}
