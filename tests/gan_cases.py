"""Tiny GANs and one checked training step, shared by the tests of GAN classes,
the registered-parts harness and the extending examples."""

import gin
import keras
import numpy as np
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.gans import ModularGAN, make_step_inputs
from tiny_configs import NO_BATCH_NORM, TINY

Z_DIM = 16
NUM_CLASSES = 3


def make_gan(arch: str, *, conditional: bool = False, bindings=(), batch_norm_g=True,
             **gan_kwargs):
  resolution, colors, tiny = TINY[arch]
  lines = list(tiny) + list(bindings)
  if batch_norm_g and arch not in NO_BATCH_NORM:
    lines.append("G.batch_norm_fn = @conditional_batch_norm" if conditional
                 else "G.batch_norm_fn = @batch_norm")
  gin.parse_config(lines)
  keras.utils.set_random_seed(0)
  num_classes = NUM_CLASSES if conditional else 0
  g, d = architectures.build(arch, resolution=resolution, colors=colors,
                             z_dim=Z_DIM, num_classes=num_classes)
  return ModularGAN(generator=g, discriminator=d, num_classes=num_classes,
                    conditional=conditional, **gan_kwargs)


def step_inputs(gan, batch=4, seed=0):
  g = gan.generator
  rng = np.random.RandomState(seed)
  images = rng.rand(batch * gan.disc_iters, g.resolution, g.resolution,
                    g.colors).astype(np.float32)
  labels = rng.randint(0, max(gan.num_classes, 1), batch * gan.disc_iters)
  return make_step_inputs(images, labels, disc_iters=gan.disc_iters, z_dim=gan.z_dim,
                          num_classes=gan.num_classes, seed=seed)


def class_step(gan, seed=0):
  """One distributed step on 8 random images (labels -1, unlabelled, among
  them for conditional GANs: S3GAN's case) in the current strategy."""
  g = gan.generator
  rng = np.random.RandomState(seed)
  images = rng.rand(8, g.resolution, g.resolution, g.colors).astype(np.float32)
  labels = rng.randint(-1 if gan.num_classes else 0, max(gan.num_classes, 1), 8)
  features = make_step_inputs(images, labels, disc_iters=1, z_dim=Z_DIM,
                              num_classes=gan.num_classes, seed=seed)
  return gan.distributed_train_step(tf.distribute.get_strategy(), features)


def values(variables):
  return [v.numpy().copy() for v in variables]


def changed(before, variables):
  return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def check_step(gan):
  """One train_step: finite losses, D and G trainables move (the ones with a
  gradient), the step counter advances."""
  g_before = values(gan.generator.trainable_variables)
  d_before = values(gan.discriminator.trainable_variables)
  metrics = gan.train_step(step_inputs(gan))
  for name, value in metrics.items():
    assert np.isfinite(value.numpy()).all(), f"{name} = {value}"
  assert int(gan.global_step.numpy()) == 1
  assert int(gan.d_optimizer.iterations.numpy()) == gan.disc_iters
  assert int(gan.g_optimizer.iterations.numpy()) == 1
  # Most weights move; a few (biases right before a normalization) have a
  # gradient of exactly zero, so ask for most, not all.
  assert np.mean(changed(g_before, gan.generator.trainable_variables)) > 0.5
  assert np.mean(changed(d_before, gan.discriminator.trainable_variables)) > 0.5
  return metrics


def two_distributed_steps(strategy, gan, disc_iters=2):
  """Two training steps of `gan` (built under `strategy`'s scope, conditional,
  16x16 RGB) on the same 16 examples split over `strategy`'s replicas; the
  last step's metrics as floats."""
  rng = np.random.RandomState(0)
  features = make_step_inputs(rng.rand(16, 16, 16, 3).astype(np.float32),
                              rng.randint(0, NUM_CLASSES, 16), disc_iters=disc_iters,
                              z_dim=Z_DIM, num_classes=NUM_CLASSES, seed=0)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(16)
  step = tf.function(lambda f: gan.distributed_train_step(strategy, f))
  for _ in range(2):
    for batch in strategy.experimental_distribute_dataset(dataset):
      metrics = step(batch)
  return {k: float(v) for k, v in metrics.items()}
