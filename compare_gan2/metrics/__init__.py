"""Evaluation metrics over numpy features and images (REFERENCE.md sec. 8):
the plain metric functions, each from its own module, named here so that
`from compare_gan2 import metrics; metrics.frechet_distance(...)` works. The
registered scores (`eval.metrics`) are `metrics.scores`."""

from compare_gan2.metrics.discriminator_accuracy import discriminator_accuracy
from compare_gan2.metrics.fid import frechet_distance
from compare_gan2.metrics.fractal_dimension import fractal_dimension
from compare_gan2.metrics.fid import frechet_distance_from_stats
from compare_gan2.metrics.inception_score import inception_score
from compare_gan2.metrics.kid import kernel_distance
from compare_gan2.metrics.knn_manifolds import density_coverage
from compare_gan2.metrics.knn_manifolds import improved_precision_recall
from compare_gan2.metrics.knn_manifolds import knn_radii
from compare_gan2.metrics.knn_manifolds import prdc
from compare_gan2.metrics.ms_ssim import ms_ssim
from compare_gan2.metrics.ms_ssim import ms_ssim_diversity
from compare_gan2.metrics.prd import prd
from compare_gan2.metrics.prd import prd_f_beta
from compare_gan2.metrics.swd import sliced_wasserstein_distance

__all__ = [
    "density_coverage",
    "discriminator_accuracy",
    "fractal_dimension",
    "frechet_distance",
    "frechet_distance_from_stats",
    "improved_precision_recall",
    "inception_score",
    "kernel_distance",
    "knn_radii",
    "ms_ssim",
    "ms_ssim_diversity",
    "prd",
    "prdc",
    "prd_f_beta",
    "sliced_wasserstein_distance",
]
