"""One training step's inputs from a global batch of images and labels: the
latents, sampled labels and per-example seeds of every D and G slot (the
layout `ModularGAN.train_step` reads; see gans/modular.py)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from compare_gan2.core import config


def make_step_inputs(images: np.ndarray | tf.Tensor, labels: np.ndarray | tf.Tensor,
                     *, disc_iters: int, z_dim: int, num_classes: int,
                     seed: int | tf.Tensor, step: int | tf.Tensor = 0
                     ) -> dict[str, tf.Tensor]:
  """Builds one step's inputs (see the module docstring) from a global batch.

  Args:
    images: [B * disc_iters, H, W, C] in [0, 1]; consecutive blocks of B feed
      consecutive D steps.
    labels: int [B * disc_iters] (zeros if the data has none).
    disc_iters, z_dim, num_classes: as in the GAN.
    seed, step: the run seed and the step; with the example index they make
      every draw, so the inputs do not depend on the replica count.
  """
  images = tf.convert_to_tensor(images, tf.float32)
  labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
  total = int(images.shape[0])
  if total % disc_iters:
    raise ValueError(f"The batch ({total}) must hold disc_iters={disc_iters} "
                     "equal sub-batches.")
  b = total // disc_iters
  images = tf.transpose(tf.reshape(images, [disc_iters, b, *images.shape[1:]]),
                        [1, 0, 2, 3, 4])
  labels = tf.transpose(tf.reshape(labels, [disc_iters, b]))
  base = tf.stack([tf.cast(seed, tf.int32), tf.cast(step, tf.int32)])
  # seeds[i, j] = (seed * 7919 + step, i * (n + 1) + j): unique per example.
  slots = disc_iters + 1
  index = tf.reshape(tf.range(b * slots, dtype=tf.int32), [b, slots])
  seeds = tf.stack([tf.fill([b, slots], base[0] * 7919 + base[1]), index], axis=-1)
  fold_in = tf.random.experimental.stateless_fold_in
  z = config.sample_z([b * slots, z_dim], seed=fold_in(base, 1))
  sampled = tf.random.stateless_uniform([b * slots], seed=fold_in(base, 2),
                                        maxval=max(num_classes, 1), dtype=tf.int32)
  return {"images": images, "labels": labels,
          "z": tf.reshape(z, [b, slots, z_dim]),
          "sampled_labels": tf.reshape(sampled, [b, slots]), "seeds": seeds}
