"""Scores by name (`eval.metrics`): each turns a real and a generated
`SampleSet` into one or more named numbers.

Every metric lives in its own module of this folder with its registration
(see `metrics.base.register_metric`); importing this module imports them
all, so a new metric is one file.
"""

from __future__ import annotations

import os

from compare_gan2.metrics.base import (  # noqa: F401
    DIRECTIONS, MetricFn, SampleSet, compute, register_metric,
    scores_discriminator)
from compare_gan2.metrics.base import needs as _needs  # noqa: F401
from compare_gan2.registry import METRICS, import_submodules

# Every module of compare_gan2/metrics/ but the two that use the registered
# metrics rather than register any (the evaluation protocol imports this one).
import_submodules(__package__, [os.path.dirname(__file__)], skip=("evaluation", "scores"))

# The score functions under their former names here (each moved into its
# metric module as `score`); kept for one release.
(class_accuracy, fid, fractal_dimension, inception_score, kid, mode_coverage,
 ms_ssim, prd, swd) = (METRICS.get(name) for name in (
     "class_accuracy", "fid", "fractal_dimension", "inception_score", "kid",
     "mode_coverage", "ms_ssim", "prd", "swd"))
