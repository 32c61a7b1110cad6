"""S3GAN: a conditional GAN trained with few labels (Lucic, Tschannen et al.,
2019, "High-Fidelity Image Generation With Fewer Labels", arXiv:1903.02271).

Unlabelled reals carry the all-zero label row (label -1 in the pipeline,
`labels.source = "partial"`). D is called with the labels as given (its own
projection, if the architecture has one, sees the all-zero rows). With
`project_y`, S3GAN adds its own projection term sum(embed(y) * h), where y is
the given label, or with `use_predictor` the class predictor's guess for the
unlabelled reals (S2GAN-CO; + rotation = S3GAN-CO); a linear class predictor
on D's features h is trained on the labelled reals (softmax cross-entropy,
`weight_class_loss`). Fakes use their sampled labels. Rotation
self-supervision is SSGAN's. As in the original, the shipped S3GAN configs
turn the architecture's own projection off (`<arch>.Discriminator.project_y =
False`) so that only S3GAN's projection remains.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from compare_gan2.core.checks import is_int
from compare_gan2.gans.modular import DOutputs, Metrics
from compare_gan2.gans.ssgan import SSGAN
from compare_gan2.ops.layers import Linear
from compare_gan2.core.registry import GANS


def label_available(y: tf.Tensor) -> tf.Tensor:
  """bool [B]: the row is a label (all-zero rows are unlabelled)."""
  return tf.reduce_sum(y, axis=1) > 0.5


def projection_labels(y: tf.Tensor, is_real: tf.Tensor, predictor_logits: tf.Tensor,
                      soft: bool) -> tf.Tensor:
  """The labels D's projection uses: the given ones, or for unlabelled reals
  the predictor's guess (one-hot of the argmax, or the softmax when `soft`),
  through which no gradient flows."""
  num_classes = int(y.shape[-1])
  guess = (tf.nn.softmax(predictor_logits) if soft
           else tf.one_hot(tf.argmax(predictor_logits, axis=1), num_classes))
  use_guess = tf.logical_and(is_real, tf.logical_not(label_available(y)))
  return tf.where(use_guess[:, None], tf.stop_gradient(guess), y)


def _global_sum(x: tf.Tensor) -> tf.Tensor:
  ctx = tf.distribute.get_replica_context()
  return x if ctx is None else ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def check_rotated_batch_fraction(fraction: Any) -> None:
  """Raises unless `fraction` is an int >= 1 or a float in (0, 1]."""
  is_float = isinstance(fraction, (float, np.floating))
  if not (is_int(fraction, 1) or (is_float and 0.0 < fraction <= 1.0)):
    raise ValueError(
        "S3GAN.rotated_batch_fraction must be an integer k >= 1 (the original's "
        "divisor: batch // k images are rotated) or a float in (0, 1] (the "
        f"fraction of the batch). Received: {fraction!r}")


def rotated_per_direction(batch_size: int, fraction: int | float) -> int:
  """n: images of a replica's batch rotated per direction (see S3GAN)."""
  check_rotated_batch_fraction(fraction)
  if isinstance(fraction, float) or isinstance(fraction, np.floating):
    return max(1, int(batch_size * fraction) // 4)
  if batch_size % fraction:
    raise ValueError(f"S3GAN.rotated_batch_fraction={fraction} must divide the "
                     f"per-replica batch size {batch_size}.")
  n = (batch_size // fraction) // 4
  if n < 1:
    raise ValueError(f"S3GAN.rotated_batch_fraction={fraction} leaves "
                     f"{batch_size // fraction} images of the per-replica batch "
                     f"{batch_size}: fewer than the 4 a rotation needs.")
  return n


# Its tiny setting in the tests of every registered part (default: dcgan_arch,
# unconditional, no bindings or arguments).
@GANS.register("S3GAN", test={
    "architecture": "dcgan_arch", "conditional": True,
    "bindings": ["dcgan.Discriminator.project_y = False"],
    "kwargs": {"project_y": True, "use_predictor": True,
               "self_supervision": "rotation"}})
class S3GAN(SSGAN):
  """SSGAN's rotation task plus a class predictor for partly labelled data.

  Args:
    self_supervision: "rotation" or "none".
    rotated_batch_fraction: which part of each replica's batch B is rotated:
      an int k >= 1 dividing B (the original's meaning: B // k images, a
      quarter of them per direction, n = (B // k) // 4), or a float f in
      (0, 1] (n = max(1, int(f * B) // 4)). Defaults to `0.25` (= k of 4).
    weight_rotation_loss_d, weight_rotation_loss_g: float. As SSGAN's, with
      the same defaults; S3GAN's own, so `SSGAN.*` bindings do not reach it.
    project_y: bool. S3GAN's projection term (its own embedding, glorot-normal
      initialised, spectrally normalised when D is) on the given labels, or
      the predictor's for unlabelled reals with `use_predictor`. Without it D
      keeps only the architecture's own projection, if any. Defaults to
      `False`, as the original.
    use_predictor: bool. Train the class predictor (spectrally normalised when
      D is) and use it for the projection of unlabelled reals; needs
      `project_y`.
    use_soft_pred: bool. Project with the predictor's softmax, not its argmax.
    weight_class_loss: float. Weight of the class loss in D.
    use_soft_labels: bool. Not supported yet (soft labels from label files).
    use_penalty: bool. Add `options.lamba * penalty.fn` to D's loss. The
      original never evaluates the penalty in S3GAN. Defaults to `False`.
    conditional: S3GAN is conditional; `True`.
    **kwargs: ModularGAN's arguments.
  """

  def __init__(self, *, self_supervision: str = "rotation",
               rotated_batch_fraction: int | float = 0.25,
               weight_rotation_loss_d: float = 1.0,
               weight_rotation_loss_g: float = 0.2, project_y: bool = False,
               use_predictor: bool = False, use_soft_pred: bool = False,
               weight_class_loss: float = 1.0, use_soft_labels: bool = False,
               use_penalty: bool = False, conditional: bool = True, **kwargs: Any):
    if self_supervision not in ("rotation", "none"):
      raise ValueError("S3GAN self_supervision must be 'rotation' or 'none'. "
                       f"Received: {self_supervision!r}")
    check_rotated_batch_fraction(rotated_batch_fraction)
    if use_predictor and not project_y:
      raise ValueError("S3GAN.use_predictor needs S3GAN.project_y = True (the "
                       "prediction only feeds the projection). Received: "
                       "use_predictor=True, project_y=False")
    if use_soft_labels:
      raise NotImplementedError("S3GAN.use_soft_labels: soft label files are "
                                "not fed to the GAN yet; use hard labels.")
    if not conditional:
      raise ValueError("S3GAN is a conditional GAN; leave conditional=True.")
    self.rotated_batch_fraction = rotated_batch_fraction
    self.project_y = project_y
    self.use_predictor = use_predictor
    self.use_soft_pred = use_soft_pred
    self.weight_class_loss = weight_class_loss
    self.use_penalty = use_penalty
    # Every SSGAN argument is passed, so that no `SSGAN.*` binding applies.
    super().__init__(
        self_supervision="rotation_gan" if self_supervision == "rotation" else "none",
        rotated_batch_size=None, weight_rotation_loss_d=weight_rotation_loss_d,
        weight_rotation_loss_g=weight_rotation_loss_g, conditional=conditional,
        **kwargs)

  def make_heads(self) -> dict[str, keras.layers.Layer]:
    heads = super().make_heads()
    use_sn = self.discriminator.spectral_norm
    if self.project_y:
      features = self.feature_dim()
      head = Linear(features, use_sn=use_sn, use_bias=False,
                    kernel_initializer="glorot_normal", name="class_projection")
      head(tf.zeros([1, self.num_classes]))
      heads["projection"] = head
    if self.use_predictor:
      head = Linear(self.num_classes, use_sn=use_sn, use_bias=True,
                    name="class_predictor")
      head(tf.zeros([1, self.feature_dim()]))
      heads["predictor"] = head
    return heads

  def rotated_per_direction(self, batch_size: int) -> int:
    return rotated_per_direction(batch_size, self.rotated_batch_fraction)

  def call_discriminator(self, x: tf.Tensor, y: Any, is_real: tf.Tensor,
                         training: bool = True) -> DOutputs:
    """D on the given labels, plus S3GAN's projection on the resolved ones."""
    probs, logits, h = self.discriminator(x, y, training=training)
    if not self.project_y:
      return probs, logits, h
    if self.use_predictor:
      predicted = self.heads["predictor"](h, training=training)
      y = projection_labels(y, is_real, predicted, self.use_soft_pred)
    embedded = self.heads["projection"](y, training=training)
    logits += tf.reduce_sum(embedded * h, axis=1, keepdims=True)
    return tf.nn.sigmoid(logits), logits, h

  def discriminator_fn(self, x: tf.Tensor, y: Any) -> tf.Tensor:
    """For `use_penalty`: the whole S3GAN discriminator, x taken as reals."""
    return self.call_discriminator(x, y, tf.ones(tf.shape(x)[:1], tf.bool))[1]

  def penalty_loss(self, x: tf.Tensor, x_fake: tf.Tensor, y_real: Any,
                   seeds: tf.Tensor) -> tf.Tensor:
    if not self.use_penalty:
      return tf.constant(0.0)
    return super().penalty_loss(x, x_fake, y_real, seeds)

  def adversarial_d_loss(self, d_real: DOutputs, d_fake: DOutputs, real: tf.Tensor,
                         y_real: Any, fake: tf.Tensor, seeds: tf.Tensor,
                         penalty_images: tuple[tf.Tensor, tf.Tensor] | None
                         ) -> Metrics:
    """The GAN loss plus the class loss on the labelled reals."""
    metrics = super().adversarial_d_loss(d_real, d_fake, real, y_real, fake, seeds,
                                         penalty_images)
    available = tf.cast(label_available(y_real), tf.float32)
    metrics["label_fraction"] = tf.reduce_mean(available)
    metrics["d_accuracy_real"] = tf.reduce_mean(tf.cast(d_real[1] > 0, tf.float32))
    metrics["d_accuracy_fake"] = tf.reduce_mean(tf.cast(d_fake[1] < 0, tf.float32))
    if not self.use_predictor:
      return metrics
    logits = self.heads["predictor"](d_real[2], training=True)
    ce = tf.nn.softmax_cross_entropy_with_logits(labels=y_real, logits=logits)
    # Mean over the labelled reals of the global batch, whatever the replicas.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    count = _global_sum(tf.reduce_sum(available))
    class_loss = tf.reduce_sum(ce * available) * replicas / tf.maximum(count, 1.0)
    metrics["d_loss"] += self.weight_class_loss * class_loss
    correct = tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y_real, 1)), tf.float32)
    metrics["class_loss"] = class_loss
    metrics["class_accuracy_real"] = (
        _global_sum(tf.reduce_sum(correct * available)) / tf.maximum(count, 1.0))
    return metrics
