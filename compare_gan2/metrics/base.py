"""What every metric shares: the `SampleSet` it scores, `register_metric` and
the directions of the registered scores.

A metric is a function (real: SampleSet, fake: SampleSet) -> {key: float},
registered once with the direction of each key it returns:

  @register_metric("fid", directions={"fid": -1})
  def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
    return {"fid": frechet_distance(real.features, fake.features)}

Its docstring's first sentence is the line `compare_gan2 list metric` prints.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from compare_gan2.core.registry import METRICS

# How a score compares: higher is better, lower is better, or neither
# (diversity and dimension scores are read against the real data's value).
HIGHER, LOWER, NEITHER = 1, -1, 0


@dataclasses.dataclass
class SampleSet:
  """Images [N, H, W, C] in [0, 1], their features [N, D] and logits [N, K]
  (None where the extractor has none), and their labels [N] (the classes a
  conditional G was asked for; None when unconditional)."""
  images: np.ndarray
  features: np.ndarray
  logits: np.ndarray | None = None
  labels: np.ndarray | None = None


MetricFn = Callable[[SampleSet, SampleSet], dict[str, float]]


def needs(value: Any, what: str, metric: str) -> Any:
  """`value`, or a ValueError saying that `metric` needs `what`."""
  if value is None:
    raise ValueError(f"Metric '{metric}' needs {what}; the chosen feature "
                     "extractor (eval.feature_extractor) does not provide it.")
  return value


# What a metric scores (`register_metric(on=...)`): generated samples against
# reals, or a run's discriminator on its training and held-out reals.
SAMPLES, DISCRIMINATOR = "samples", "discriminator"


def register_metric(name: str, *, directions: Mapping[str, int],
                    on: str = SAMPLES,
                    test_inputs: Callable[[np.random.RandomState], SampleSet] | None = None
                    ) -> Callable[[MetricFn], MetricFn]:
  """Decorator: registers a metric function as `name` (`eval.metrics`).

  Args:
    name: str. The name configs and `compare_gan2 score --metrics` use.
    directions: {key: direction} for every key the function returns:
      +1 higher is better, -1 lower is better, 0 neither. Sweeps rank trials
      by these.
    on: "samples": fn(real, fake) scores generated samples against reals.
      "discriminator": fn(train, heldout) scores a run's D: two SampleSets of
      real images (the first N it trains on, the first N of the evaluation
      split) whose `logits` (and `features`) are D's logits [N, 1]; the
      evaluation of a run computes them once per checkpoint
      (`Evaluator.score_discriminator`), and `compare_gan2 score` (folders
      of images, no D) refuses them.
    test_inputs: rng -> a SampleSet it can score, for the tests of every
      registered part (default `sample_inputs.features`: random images,
      features, logits and labels).

  Raises:
    ValueError: no keys, a direction not in (-1, 0, 1), or a key that another
      metric already returns with another direction.
  """
  directions = dict(directions)
  if on not in (SAMPLES, DISCRIMINATOR):
    raise ValueError(f"Metric '{name}': `on` must be {SAMPLES!r} or "
                     f"{DISCRIMINATOR!r}. Received: on={on!r}")
  if not directions:
    raise ValueError(f"Metric '{name}' needs the direction of each key it "
                     f"returns. Received: directions={directions}")
  for key, direction in directions.items():
    if direction not in (HIGHER, LOWER, NEITHER):
      raise ValueError(f"Metric '{name}': the direction of '{key}' must be 1, "
                       f"-1 or 0. Received: {direction!r}")
    known = DIRECTIONS.get(key)
    if known is not None and known != direction:
      raise ValueError(f"Metric '{name}': key '{key}' already has direction "
                       f"{known}. Received: {direction}")

  def decorator(fn: MetricFn) -> MetricFn:
    METRICS.register(name, gin_configurable=False,
                     test={"inputs": test_inputs} if test_inputs else None)(fn)
    fn.directions = directions
    fn.on = on
    return fn

  return decorator


class _Directions(Mapping[str, int]):
  """{score key: direction} of every registered metric, read live from the
  registry (so metrics registered later are included)."""

  def _table(self) -> dict[str, int]:
    table: dict[str, int] = {}
    for name in METRICS.names():
      table.update(getattr(METRICS.get(name), "directions", {}))
    return table

  def __getitem__(self, key: str) -> int:
    return self._table()[key]

  def __iter__(self) -> Iterator[str]:
    return iter(self._table())

  def __len__(self) -> int:
    return len(self._table())

  def __repr__(self) -> str:
    return repr(self._table())


# How each score compares: +1 higher is better, -1 lower is better, 0 neither.
DIRECTIONS: Mapping[str, int] = _Directions()
