"""Mode coverage of 2-D mixtures of Gaussians (mog_ring, mog_grid; Metz et
al., 2017, arXiv:1611.02163): the modes covered and the share of
high-quality samples."""

from __future__ import annotations

import numpy as np

from compare_gan2.data.mixtures import assign_modes
from compare_gan2.metrics.base import SampleSet, needs, register_metric

# A sample is high quality within this many standard deviations of a mode.
QUALITY_STDDEVS = 3
# A mode is covered by this share of the N / K samples an exact G puts there.
COVERED_SHARE = 0.1


@register_metric("mode_coverage",
                 directions={"modes_covered": 1, "high_quality_fraction": 1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """2-D mixtures (mog_ring, mog_grid): the modes covered and the share of
  high-quality samples.

  A sample is high quality within 3 standard deviations of its nearest mode;
  a mode is covered when it holds at least a tenth of the N/K high-quality
  samples an exact generator would put there. Modes and their spread are
  read off the labelled real points [N, 1, 1, 2].
  """
  labels = needs(real.labels, "labelled real points", "mode_coverage")
  points = real.images.reshape(len(real.images), -1)
  fake_points = fake.images.reshape(len(fake.images), -1)
  if points.shape[1] != 2 or fake_points.shape[1] != 2:
    raise ValueError("Metric 'mode_coverage' is for 2-D points (mog_ring, "
                     f"mog_grid); got examples of {points.shape[1]} values.")
  modes = np.unique(labels)
  means = np.stack([points[labels == k].mean(axis=0) for k in modes])
  stddev = float(np.sqrt(np.mean(np.concatenate(
      [(points[labels == k] - m) ** 2 for k, m in zip(modes, means)]))))
  nearest = assign_modes(fake_points, means, QUALITY_STDDEVS * stddev)
  counts = np.bincount(nearest[nearest >= 0], minlength=len(modes))
  covered = counts >= COVERED_SHARE * len(fake_points) / len(modes)
  return {"modes_covered": float(np.sum(covered)),
          "high_quality_fraction": float(np.mean(nearest >= 0))}
