"""compare_gan2: train and compare GANs in TensorFlow 2 / Keras 3, configured by gin."""

from compare_gan2 import config  # noqa: F401
from compare_gan2 import losses, penalties  # noqa: F401
from compare_gan2 import ops  # noqa: F401
from compare_gan2 import architectures  # noqa: F401
from compare_gan2 import gans  # noqa: F401
from compare_gan2 import data  # noqa: F401
from compare_gan2.registry import (ARCHITECTURES, GANS, LOSSES, NORMALIZATIONS,
                                   PENALTIES, Registry, UnknownNameError)

__version__ = "0.1.0"
