"""Scores by name (`eval.metrics`): each turns a real and a generated
`SampleSet` into one or more named numbers.

Every metric lives in its own module of this folder with its registration
(see `metrics.base.register_metric`); importing this module imports them
all, so a new metric is one file.
"""

from __future__ import annotations

import os

import numpy as np

from compare_gan2.core.registry import METRICS, import_submodules
from compare_gan2.metrics.base import DISCRIMINATOR, SAMPLES, SampleSet

# Every module of compare_gan2/metrics/ but the two that use the registered
# metrics rather than register any (the evaluation protocol imports this one).
import_submodules(__package__, [os.path.dirname(__file__)], skip=("evaluation", "scores"))


def scores_discriminator(name: str) -> bool:
  """Whether metric `name` scores a run's discriminator (`on="discriminator"`)
  rather than generated samples."""
  return getattr(METRICS.get(name), "on", SAMPLES) == DISCRIMINATOR


def compute(names: list[str] | tuple[str, ...], real: SampleSet,
            fake: SampleSet) -> dict[str, float]:
  """Every metric of `names`; NaN results and undeclared keys are an error."""
  results: dict[str, float] = {}
  for name in names:
    fn = METRICS.get(name)
    for key, value in fn(real, fake).items():
      if key not in getattr(fn, "directions", {}):
        raise ValueError(f"Metric '{name}' returned '{key}', which its "
                       "register_metric(directions=...) does not declare.")
      if not np.isfinite(value):
        raise FloatingPointError(f"Metric '{name}' gave {key} = {value}.")
      results[key] = float(value)
  return results
