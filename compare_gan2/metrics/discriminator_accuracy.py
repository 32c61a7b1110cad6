"""Discriminator accuracy: on a real and a fake batch, and on the reals D
trains on against held-out reals (`d_overfit`, D's overfitting as DiffAugment
shows it: Zhao et al., 2020, arXiv:2006.10738, Figs. 2 and 3)."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics import _checks
from compare_gan2.metrics import sample_inputs
from compare_gan2.metrics.base import (DISCRIMINATOR, SampleSet, needs,
                                       register_metric)


def discriminator_accuracy(real_logits, fake_logits) -> float:
  """Fraction of samples D classifies correctly (real: logit > 0).

  Both batches are pooled, so unequal sizes weight each sample equally. A
  logit of exactly 0 (probability 0.5) counts as wrong for either class.
  """
  real = _checks.as_finite(real_logits, "real_logits").reshape(-1)
  fake = _checks.as_finite(fake_logits, "fake_logits").reshape(-1)
  if real.size + fake.size == 0:
    raise ValueError("discriminator_accuracy needs at least one logit.")
  correct = np.sum(real > 0) + np.sum(fake < 0)
  return float(correct / (real.size + fake.size))


@register_metric("d_overfit", on=DISCRIMINATOR, directions={
    "d_accuracy_train": 0, "d_accuracy_heldout": 0, "d_accuracy_gap": -1,
    "d_output_train": 0, "d_output_heldout": 0}, test_inputs=sample_inputs.d_logits)
def d_overfit(train: SampleSet, heldout: SampleSet) -> dict[str, float]:
  """D's accuracy on the reals it trains on and on held-out reals, their
  gap and D's mean logit on each (DiffAugment's measure of D overfitting).

  train: the first N training reals (the training subset, no flips, no
  DiffAugment), heldout: the first N of the evaluation split; each a
  SampleSet whose `logits` are D's logits [N, 1] (N = min(eval.num_samples,
  split size)). Accuracy is the share of reals with logit > 0, the decision
  threshold of the non-saturating and hinge losses; for the Wasserstein and
  least-squares losses the sign is only a convention, but the gap (train
  minus held-out) and the outputs still show D telling its training images
  from new ones. An overfitting D drives d_accuracy_train to 1 while
  d_accuracy_heldout falls (the paper's Fig. 2).
  """
  out = {}
  for key, samples in (("train", train), ("heldout", heldout)):
    logits = needs(samples.logits, "D's logits on reals", "d_overfit")
    logits = _checks.as_finite(logits, f"{key} logits").reshape(-1)
    out[f"d_accuracy_{key}"] = discriminator_accuracy(logits, [])
    out[f"d_output_{key}"] = float(np.mean(logits))
  out["d_accuracy_gap"] = out["d_accuracy_train"] - out["d_accuracy_heldout"]
  return out
