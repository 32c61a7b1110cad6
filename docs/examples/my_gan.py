"""Example GAN class: ModularGAN plus feature matching in G's loss (Salimans
et al., 2016, arXiv:1606.03498)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.gans.modular import Metrics, ModularGAN
from compare_gan2.core.registry import GANS


@GANS.register("FeatureMatchingGAN")
class FeatureMatchingGAN(ModularGAN):
  """ModularGAN whose G loss adds ||mean h(real) - mean h(fake)||^2, h D's
  features [B, F].

  Args:
    feature_matching_weight: float. Weight of the term (gin
      `FeatureMatchingGAN.feature_matching_weight`).
    **kwargs: ModularGAN's.
  """

  def __init__(self, *, feature_matching_weight: float = 1.0, **kwargs: Any):
    super().__init__(**kwargs)
    self.feature_matching_weight = feature_matching_weight

  def generator_loss(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                     y_fake: Any, seeds: tf.Tensor) -> Metrics:
    del seeds
    d_real, d_fake = self.run_discriminator(real, y_real, fake, y_fake)
    metrics = self.adversarial_g_loss(d_fake)
    gap = tf.reduce_mean(d_real[2], axis=0) - tf.reduce_mean(d_fake[2], axis=0)
    metrics["feature_matching"] = tf.reduce_sum(tf.square(gap))
    metrics["g_loss"] += self.feature_matching_weight * metrics["feature_matching"]
    return metrics
