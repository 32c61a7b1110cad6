"""Discriminator accuracy on a real and a fake batch."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics import _checks


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
