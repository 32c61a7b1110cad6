"""Example metric: the gap between the mean pixel of real and generated images."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics.base import SampleSet, register_metric


@register_metric("mean_gap", directions={"mean_gap": -1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """|mean(real pixels) - mean(generated pixels)|; lower is better."""
  return {"mean_gap": float(abs(np.mean(real.images) - np.mean(fake.images)))}
