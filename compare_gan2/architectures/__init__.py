"""Architectures, registered under the names of the original compare_gan."""

from compare_gan2.architectures import resnet_biggan  # noqa: F401  (registers)
from compare_gan2.architectures import resnet_biggan_deep  # noqa: F401
from compare_gan2.architectures import biggan_cifar  # noqa: F401
from compare_gan2.architectures import dcgan  # noqa: F401
from compare_gan2.architectures import infogan  # noqa: F401
from compare_gan2.architectures import mlp  # noqa: F401
from compare_gan2.architectures import progan  # noqa: F401
from compare_gan2.architectures import resnet30  # noqa: F401
from compare_gan2.architectures import resnet5  # noqa: F401
from compare_gan2.architectures import resnet_cifar  # noqa: F401
from compare_gan2.architectures import resnet_stl  # noqa: F401
from compare_gan2.architectures import sndcgan  # noqa: F401
from compare_gan2.architectures.base import (
    Architecture, Discriminator, Generator, build, discriminator_options,
    generator_options)
from compare_gan2.registry import ARCHITECTURES


def list_architectures() -> list[str]:
  return ARCHITECTURES.names()
