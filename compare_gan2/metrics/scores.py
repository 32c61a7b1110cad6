"""Scores by name (`eval.metrics`): each turns a real and a generated
`SampleSet` into one or more named numbers.

Every metric lives in its own module with its registration (see
`metrics.base.register_metric`); importing the modules below registers them.
A new metric module adds its import line here.
"""

from __future__ import annotations

# pylint: disable=unused-import
import compare_gan2.metrics.class_accuracy  # noqa: F401  (registers)
import compare_gan2.metrics.discriminator_accuracy  # noqa: F401
import compare_gan2.metrics.fid  # noqa: F401
import compare_gan2.metrics.fractal_dimension  # noqa: F401
import compare_gan2.metrics.inception_score  # noqa: F401
import compare_gan2.metrics.kid  # noqa: F401
import compare_gan2.metrics.knn_manifolds  # noqa: F401
import compare_gan2.metrics.mode_coverage  # noqa: F401
import compare_gan2.metrics.ms_ssim  # noqa: F401
import compare_gan2.metrics.prd  # noqa: F401
import compare_gan2.metrics.swd  # noqa: F401
from compare_gan2.metrics.base import (  # noqa: F401
    DIRECTIONS, MetricFn, SampleSet, compute, register_metric,
    scores_discriminator)
from compare_gan2.metrics.base import needs as _needs  # noqa: F401
from compare_gan2.registry import METRICS

# The score functions under their former names here (each moved into its
# metric module as `score`); kept for one release.
(class_accuracy, fid, fractal_dimension, inception_score, kid, mode_coverage,
 ms_ssim, prd, swd) = (METRICS.get(name) for name in (
     "class_accuracy", "fid", "fractal_dimension", "inception_score", "kid",
     "mode_coverage", "ms_ssim", "prd", "swd"))
