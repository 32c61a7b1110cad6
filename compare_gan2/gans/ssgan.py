"""SSGAN: a GAN whose discriminator also predicts image rotations
(Chen et al., 2019, "Self-Supervised GANs via Auxiliary Rotation Loss",
arXiv:1811.11212).

The last n = rotated_batch_size / 4 real and fake images are also shown to D
rotated by 90, 180 and 270 degrees: D sees [real, real_rot, fake, fake_rot].
A linear head on D's features h classifies the rotation of the last n images
and their three rotations (labels 0, 1, 2, 3). Only the D and G losses
change; the training step is ModularGAN's.

`self_supervision`:
  "rotation_gan": GAN losses (D's with the penalty) plus w_d * the rotation
    loss on reals for D and w_g * the rotation loss on fakes for G.
  "rotation_only": the original's pure rotation model: the GAN losses and the
    penalty are dropped, D minimises w_d * the rotation loss on reals and G
    w_g * the rotation loss on fakes.
  "rotation_d_only" (not in the original): the GAN losses plus D's rotation
    loss; G gets no rotation loss.
  "none": ModularGAN.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.gans.modular import DOutputs, Metrics, ModularGAN
from compare_gan2.ops.layers import Linear
from compare_gan2.core.registry import GANS

SELF_SUPERVISION = ("rotation_gan", "rotation_only", "rotation_d_only", "none")
# Added to the softmax before the log in the rotation loss, as the original.
LOG_EPSILON = 1e-10


def rotations(images: tf.Tensor) -> tf.Tensor:
  """[n, H, W, C] -> [3n, H, W, C]: all images by 90, then 180, then 270 degrees
  (counter-clockwise)."""
  return tf.concat([tf.image.rot90(images, k) for k in (1, 2, 3)], axis=0)


def rotation_labels(n: int) -> tf.Tensor:
  """The rotation class of [originals, rot90, rot180, rot270], n of each."""
  return tf.repeat(tf.range(4, dtype=tf.int32), n)


def rotation_loss(logits: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(mean cross-entropy, accuracy) of the rotation head: logits [N, 4], int
  labels [N]. The loss is -mean(log(softmax(logits)[label] + 1e-10)), the
  original's formula (bounded where the softmax underflows)."""
  probs = tf.gather(tf.nn.softmax(logits), labels, axis=1, batch_dims=1)
  loss = -tf.reduce_mean(tf.math.log(probs + LOG_EPSILON))
  correct = tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), labels)
  return loss, tf.reduce_mean(tf.cast(correct, tf.float32))


def _tile(y: Any, n: int) -> Any:
  """Labels of the last n examples, once per rotation."""
  return None if y is None else tf.tile(y[-n:], [3, 1])


@GANS.register("SSGAN")
class SSGAN(ModularGAN):
  """ModularGAN plus D's rotation task.

  Args:
    self_supervision: "rotation_gan" (D learns to classify the rotations of
      reals, G is rewarded when D classifies its rotated fakes right),
      "rotation_only" (the original's: rotation losses only, no GAN loss and
      no penalty), "rotation_d_only" (GAN losses plus D's rotation loss; G
      gets no rotation loss) or "none" (`None` too); see the module docstring.
    rotated_batch_size: int. Images of the global batch used for the rotation
      task, a multiple of 4 x replicas (n = rotated_batch_size / 4 per
      direction); `None` means the whole batch.
    weight_rotation_loss_d: float. Weight of the rotation loss on reals in D.
    weight_rotation_loss_g: float. Weight of the rotation loss on fakes in G.
    **kwargs: ModularGAN's arguments.
  """

  def __init__(self, *, self_supervision: str = "rotation_gan",
               rotated_batch_size: int | None = None,
               weight_rotation_loss_d: float = 1.0,
               weight_rotation_loss_g: float = 0.2, **kwargs: Any):
    if self_supervision is None:  # The original's docstring names None.
      self_supervision = "none"
    if self_supervision not in SELF_SUPERVISION:
      raise ValueError(f"self_supervision must be one of {SELF_SUPERVISION}. "
                       f"Received: {self_supervision!r}")
    if rotated_batch_size is not None and (rotated_batch_size < 4
                                           or rotated_batch_size % 4):
      raise ValueError("rotated_batch_size must be a positive multiple of 4. "
                       f"Received: {rotated_batch_size}")
    self.self_supervision = self_supervision
    self.rotated_batch_size = rotated_batch_size
    self.weight_rotation_loss_d = weight_rotation_loss_d
    self.weight_rotation_loss_g = weight_rotation_loss_g
    super().__init__(**kwargs)

  @property
  def rotates(self) -> bool:
    return self.self_supervision != "none"

  def make_heads(self) -> dict[str, keras.layers.Layer]:
    heads = super().make_heads()
    if self.rotates:
      # Spectrally normalised when D is, as in the paper.
      head = Linear(4, use_sn=self.discriminator.spectral_norm, name="rotation_head")
      head(tf.zeros([1, self.feature_dim()]))
      heads["rotation"] = head
    return heads

  def rotated_per_direction(self, batch_size: int) -> int:
    """n: images per rotation direction in this replica's batch."""
    if self.rotated_batch_size is None:
      return max(1, batch_size // 4)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if self.rotated_batch_size % (4 * replicas):
      raise ValueError(f"rotated_batch_size={self.rotated_batch_size} must be a "
                       f"multiple of 4 x {replicas} replicas.")
    n = self.rotated_batch_size // (4 * replicas)
    if n > batch_size:
      raise ValueError(f"rotated_batch_size={self.rotated_batch_size} needs {n} "
                       f"images per replica and direction; the batch has {batch_size}.")
    return n

  def run_discriminator_rotated(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                                y_fake: Any, with_reals: bool = True
                                ) -> tuple[DOutputs | None, DOutputs, tf.Tensor | None,
                                           tf.Tensor]:
    """One D call on [real, real_rot, fake, fake_rot] (or [fake, fake_rot]).

    Returns D's outputs on the unrotated reals and fakes, and the rotation
    logits [4n, 4] of the last n reals and fakes with their rotations, in the
    order of `rotation_labels(n)`.
    """
    n = self.rotated_per_direction(int(fake.shape[0]))
    parts = ([real, rotations(real[-n:])] if with_reals else []) + [
        fake, rotations(fake[-n:])]
    labels = ([y_real, _tile(y_real, n)] if with_reals else []) + [y_fake, _tile(y_fake, n)]
    sizes = [int(p.shape[0]) for p in parts]
    y = None if y_fake is None else tf.concat(labels, axis=0)
    real_parts = 2 if with_reals else 0
    is_real = tf.concat([tf.fill([k], i < real_parts) for i, k in enumerate(sizes)], 0)
    probs, logits, h = self.call_discriminator(tf.concat(parts, axis=0), y, is_real)
    rot = self.heads["rotation"](h, training=True)

    def split(t):
      return tf.split(t, sizes, axis=0)

    outs = list(zip(*(split(t) for t in (probs, logits, h))))
    rots = split(rot)

    def rotation_logits(plain, rotated):
      return tf.concat([plain[-n:], rotated], axis=0)

    fake_out, fake_rot = outs[-2], rotation_logits(rots[-2], rots[-1])
    if not with_reals:
      return None, fake_out, None, fake_rot
    return outs[0], fake_out, rotation_logits(rots[0], rots[1]), fake_rot

  def discriminator_loss(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                         y_fake: Any, seeds: tf.Tensor,
                         penalty_images: tuple[tf.Tensor, tf.Tensor] | None = None
                         ) -> Metrics:
    if not self.rotates:
      return super().discriminator_loss(real, y_real, fake, y_fake, seeds,
                                        penalty_images)
    d_real, d_fake, rot_real, rot_fake = self.run_discriminator_rotated(
        real, y_real, fake, y_fake)
    metrics = self.adversarial_d_loss(d_real, d_fake, real, y_real, fake, seeds,
                                      penalty_images)
    labels = rotation_labels(int(rot_real.shape[0]) // 4)
    loss_real, accuracy_real = rotation_loss(rot_real, labels)
    _, accuracy_fake = rotation_loss(rot_fake, labels)
    if self.self_supervision == "rotation_only":
      # The original zeroes the GAN loss and the penalty (d_loss *= 0).
      metrics["d_loss_adversarial"] = metrics["d_loss"]
      metrics["d_loss"] = tf.zeros_like(metrics["d_loss"])
    metrics["d_loss"] += self.weight_rotation_loss_d * loss_real
    metrics.update(rotation_loss_real=loss_real, rotation_accuracy_real=accuracy_real,
                   rotation_accuracy_fake=accuracy_fake)
    return metrics

  def generator_loss(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                     y_fake: Any, seeds: tf.Tensor) -> Metrics:
    if self.self_supervision not in ("rotation_gan", "rotation_only"):
      return super().generator_loss(real, y_real, fake, y_fake, seeds)
    # With batch norm in D, reals go through D too (same statistics as the D step).
    with_reals = self.discriminator.batch_norm_fn is not None
    _, d_fake, _, rot_fake = self.run_discriminator_rotated(
        real, y_real, fake, y_fake, with_reals=with_reals)
    metrics = self.adversarial_g_loss(d_fake)
    loss_fake, _ = rotation_loss(rot_fake, rotation_labels(int(rot_fake.shape[0]) // 4))
    if self.self_supervision == "rotation_only":
      # The original zeroes the GAN loss (g_loss *= 0).
      metrics["g_loss_adversarial"] = metrics["g_loss"]
      metrics["g_loss"] = tf.zeros_like(metrics["g_loss"])
    metrics["g_loss"] += self.weight_rotation_loss_g * loss_fake
    metrics["rotation_loss_fake"] = loss_fake
    return metrics

