"""GAN classes: the training-step logic."""

from compare_gan2.gans.consistency import CR, BalancedCR, LatentCR
from compare_gan2.gans.lecam import LeCamBigGAN, LeCamStyleGAN2
from compare_gan2.gans.modular import ModularGAN
from compare_gan2.gans.progan import ProgressiveGAN
from compare_gan2.gans.s3gan import S3GAN
from compare_gan2.gans.ssgan import SSGAN
from compare_gan2.gans.step_inputs import make_step_inputs
from compare_gan2.core.registry import GANS


def list_gans() -> list[str]:
  return GANS.names()
