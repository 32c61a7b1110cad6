"""Scores by name (`eval.metrics`): each turns a real and a generated
`SampleSet` into one or more named numbers, using the functions of this
package. A metric needing what the feature extractor does not give (logits
for the Inception Score) says so."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from compare_gan2.metrics import functions
from compare_gan2.registry import METRICS



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


def _needs(value, what: str, metric: str):
  if value is None:
    raise ValueError(f"Metric '{metric}' needs {what}; the chosen feature "
                     "extractor (eval.feature_extractor) does not provide it.")
  return value


@METRICS.register("fid", gin_configurable=False)
def fid(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  return {"fid": functions.frechet_distance(real.features, fake.features)}


@METRICS.register("kid", gin_configurable=False)
def kid(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  mean, _ = functions.kernel_distance(real.features, fake.features)
  return {"kid": mean}


@METRICS.register("inception_score", gin_configurable=False)
def inception_score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  del real
  return {"inception_score": functions.inception_score(
      _needs(fake.logits, "logits", "inception_score"))}


@METRICS.register("class_accuracy", gin_configurable=False)
def class_accuracy(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """How often a classifier of the real data sees the class G was asked
  for (conditional GANs)."""
  del real
  logits = _needs(fake.logits, "logits of a classifier", "class_accuracy")
  labels = _needs(fake.labels, "a conditional generator", "class_accuracy")
  return {"class_accuracy": float(np.mean(np.argmax(logits, axis=1) == labels))}


@METRICS.register("prd", gin_configurable=False)
def prd(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  n = min(len(real.features), len(fake.features))
  precision, recall = functions.prd(real.features[:n], fake.features[:n])
  f_8, f_1_8 = functions.prd_f_beta(precision, recall, beta=8)
  return {"prd_f8": f_8, "prd_f1_8": f_1_8}


@METRICS.register("ms_ssim", gin_configurable=False)
def ms_ssim(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Diversity: mean MS-SSIM between random pairs of *generated* images
  (the original scored the real ones by mistake)."""
  del real
  return {"ms_ssim": float(functions.ms_ssim_diversity(fake.images))}


@METRICS.register("swd", gin_configurable=False)
def swd(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  n = min(len(real.images), len(fake.images))
  _, average = functions.sliced_wasserstein_distance(real.images[:n], fake.images[:n])
  return {"swd": float(average)}


@METRICS.register("fractal_dimension", gin_configurable=False)
def fractal_dimension(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Correlation dimension of the generated images (pixels), as compare_gan."""
  del real
  return {"fractal_dimension": functions.fractal_dimension(fake.images)}


def _mode_counts(real: SampleSet, fake: SampleSet, metric: str
                 ) -> tuple[np.ndarray, np.ndarray]:
  """(high-quality samples per mode [K], nearest mode per fake point or -1
  [N]) for the 2-D mixtures. Modes and their spread are read off the
  labelled real points; a sample is high quality within 3 standard
  deviations of its nearest mode."""
  labels = _needs(real.labels, "labelled real points", metric)
  points = real.images.reshape(len(real.images), -1)
  fake_points = fake.images.reshape(len(fake.images), -1)
  if points.shape[1] != 2 or fake_points.shape[1] != 2:
    raise ValueError(f"Metric '{metric}' is for 2-D points (mog_ring, "
                     f"mog_grid); got examples of {points.shape[1]} values.")
  modes = np.unique(labels)
  means = np.stack([points[labels == k].mean(axis=0) for k in modes])
  stddev = float(np.sqrt(np.mean(np.concatenate(
      [(points[labels == k] - m) ** 2 for k, m in zip(modes, means)]))))
  from compare_gan2.data.mixtures import assign_modes  # pylint: disable=g-import-not-at-top
  nearest = assign_modes(fake_points, means, 3 * stddev)
  return np.bincount(nearest[nearest >= 0], minlength=len(modes)), nearest


@METRICS.register("mode_coverage", gin_configurable=False)
def mode_coverage(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """2-D mixtures (mog_ring, mog_grid): the modes covered and the share of
  high-quality samples. A sample is high quality within 3 standard deviations
  of its nearest mode; a mode is covered when it holds at least a tenth of
  the N/K high-quality samples an exact generator would put there. Modes and
  their spread are read off the labelled real points."""
  counts, nearest = _mode_counts(real, fake, "mode_coverage")
  return {"modes_covered": float(np.sum(counts >= 0.1 * len(nearest) / len(counts))),
          "high_quality_fraction": float(np.mean(nearest >= 0))}


@METRICS.register("modes_hit", gin_configurable=False)
def modes_hit(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """2-D mixtures: the modes that hold at least one high-quality sample, the
  count of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018;
  their code's MetricLogger counts the modes with a nonzero count). Looser
  than `mode_coverage`'s modes_covered, which asks for a tenth of a mode's
  share: name both metrics to get both counts."""
  counts, _ = _mode_counts(real, fake, "modes_hit")
  return {"modes_hit": float(np.sum(counts >= 1))}


# How each score compares: +1 higher is better, -1 lower is better, 0 neither
# (diversity and dimension scores are read against the real data's value).
DIRECTIONS = {"fid": -1, "kid": -1, "swd": -1, "inception_score": 1,
              "class_accuracy": 1, "prd_f8": 1, "prd_f1_8": 1,
              "modes_covered": 1, "modes_hit": 1, "high_quality_fraction": 1,
              "ms_ssim": 0, "fractal_dimension": 0}


def compute(names: list[str] | tuple[str, ...], real: SampleSet,
            fake: SampleSet) -> dict[str, float]:
  """Every metric of `names`; NaN results are an error."""
  results: dict[str, float] = {}
  for name in names:
    for key, value in METRICS.get(name)(real, fake).items():
      if not np.isfinite(value):
        raise FloatingPointError(f"Metric '{name}' gave {key} = {value}.")
      results[key] = float(value)
  return results
