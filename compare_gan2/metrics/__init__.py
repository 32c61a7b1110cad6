"""Evaluation metrics over numpy features and images (REFERENCE.md sec. 8)."""

from compare_gan2.metrics.functions import *  # noqa: F401,F403
from compare_gan2.metrics.functions import __all__  # noqa: F401
