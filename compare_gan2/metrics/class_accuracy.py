"""Class accuracy of a conditional generator: how often a classifier of the
real data sees the class G was asked for."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics.base import SampleSet, needs, register_metric


@register_metric("class_accuracy", directions={"class_accuracy": 1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """How often a classifier of the real data sees the class G was asked for
  (conditional GANs).

  Needs the logits [N, K] of a classifier (eval.feature_extractor =
  "classifier") and the labels [N] G was given.
  """
  del real
  logits = needs(fake.logits, "logits of a classifier", "class_accuracy")
  labels = needs(fake.labels, "a conditional generator", "class_accuracy")
  return {"class_accuracy": float(np.mean(np.argmax(logits, axis=1) == labels))}
