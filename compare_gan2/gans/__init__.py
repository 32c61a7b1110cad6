"""GAN classes: the training-step logic."""

from compare_gan2.gans.modular import ModularGAN, make_step_inputs
from compare_gan2.registry import GANS


def list_gans() -> list[str]:
  return GANS.names()
