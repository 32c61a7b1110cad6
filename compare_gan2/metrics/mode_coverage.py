"""Mode coverage of 2-D mixtures of Gaussians (mog_ring, mog_grid; Metz et
al., 2017, arXiv:1611.02163): the modes covered and the share of
high-quality samples."""

from __future__ import annotations

import numpy as np

from compare_gan2.data.mixtures import assign_modes
from compare_gan2.metrics import sample_inputs
from compare_gan2.metrics.base import SampleSet, needs, register_metric

# A sample is high quality within this many standard deviations of a mode.
QUALITY_STDDEVS = 3
# A mode is covered by this share of the N / K samples an exact G puts there.
COVERED_SHARE = 0.1


def _mode_counts(real: SampleSet, fake: SampleSet, metric: str
                 ) -> tuple[np.ndarray, np.ndarray]:
  """(high-quality samples per mode [K], nearest mode per fake point or -1
  [N]). Modes and their spread are read off the labelled real points
  [N, 1, 1, 2]; a sample is high quality within 3 standard deviations of
  its nearest mode."""
  labels = needs(real.labels, "labelled real points", metric)
  points = real.images.reshape(len(real.images), -1)
  fake_points = fake.images.reshape(len(fake.images), -1)
  if points.shape[1] != 2 or fake_points.shape[1] != 2:
    raise ValueError(f"Metric '{metric}' is for 2-D points (mog_ring, "
                     f"mog_grid); got examples of {points.shape[1]} values.")
  modes = np.unique(labels)
  means = np.stack([points[labels == k].mean(axis=0) for k in modes])
  stddev = float(np.sqrt(np.mean(np.concatenate(
      [(points[labels == k] - m) ** 2 for k, m in zip(modes, means)]))))
  nearest = assign_modes(fake_points, means, QUALITY_STDDEVS * stddev)
  return np.bincount(nearest[nearest >= 0], minlength=len(modes)), nearest


@register_metric("mode_coverage", test_inputs=sample_inputs.points,
                 directions={"modes_covered": 1, "high_quality_fraction": 1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """2-D mixtures (mog_ring, mog_grid): the modes covered and the share of
  high-quality samples.

  A sample is high quality within 3 standard deviations of its nearest mode;
  a mode is covered when it holds at least a tenth of the N/K high-quality
  samples an exact generator would put there.
  """
  counts, nearest = _mode_counts(real, fake, "mode_coverage")
  covered = counts >= COVERED_SHARE * len(nearest) / len(counts)
  return {"modes_covered": float(np.sum(covered)),
          "high_quality_fraction": float(np.mean(nearest >= 0))}


@register_metric("modes_hit", directions={"modes_hit": 1},
                 test_inputs=sample_inputs.points)
def modes_hit(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """2-D mixtures: the modes that hold at least one high-quality sample.

  The count of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al.,
  2018; their code counts the modes with a nonzero count). Looser than
  `mode_coverage`'s modes_covered, which asks for a tenth of a mode's share:
  name both metrics to get both counts.
  """
  counts, _ = _mode_counts(real, fake, "modes_hit")
  return {"modes_hit": float(np.sum(counts >= 1))}


@register_metric("mode_kl", directions={"mode_reverse_kl": -1},
                 test_inputs=sample_inputs.points)
def mode_kl(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """2-D mixtures: reverse KL, KL(p || uniform), of the high-quality samples'
  share per mode p against the equal shares of the data.

  PacGAN's (Lin et al., 2018) third column of its Table 1: log K minus the
  entropy of its code's per-mode counts ("entropy of coverage"). 0 for
  samples spread evenly over the K modes, log(K / k) for an even spread over
  k of them; NaN when no sample is high quality.
  """
  counts, _ = _mode_counts(real, fake, "mode_kl")
  if counts.sum() == 0:
    return {"mode_reverse_kl": float("nan")}
  p = counts[counts > 0] / counts.sum()
  return {"mode_reverse_kl": float(np.sum(p * np.log(p * len(counts))))}
