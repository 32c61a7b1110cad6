"""Architectures, registered under the names of the original compare_gan."""

from compare_gan2.architectures.base import (
    Architecture, Discriminator, Generator, build, discriminator_options,
    generator_options)
from compare_gan2.core.registry import ARCHITECTURES, import_submodules

# Every module of this folder registers its architecture: a new one is one file.
import_submodules(__name__, __path__)


def list_architectures() -> list[str]:
  return ARCHITECTURES.names()
