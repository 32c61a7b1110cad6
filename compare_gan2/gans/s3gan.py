"""S3GAN: a conditional GAN trained with few labels (Lucic, Tschannen et al.,
2019, "High-Fidelity Image Generation With Fewer Labels", arXiv:1903.02271).

Unlabelled reals carry the all-zero label row (label -1 in the pipeline,
`labels.source = "partial"`). A linear class predictor on D's features h is
trained on the labelled reals (softmax cross-entropy, `weight_class_loss`);
with `use_predictor`, D's projection term uses its prediction for the
unlabelled reals (S2GAN-CO; + rotation = S3GAN-CO). Fakes use their sampled
labels. Rotation self-supervision is SSGAN's.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.gans.modular import DOutputs, Metrics
from compare_gan2.gans.ssgan import SSGAN
from compare_gan2.ops.layers import Linear
from compare_gan2.registry import GANS


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


@GANS.register("S3GAN")
class S3GAN(SSGAN):
  """SSGAN's rotation task plus a class predictor for partly labelled data.

  Args:
    self_supervision: "rotation" or "none".
    rotated_batch_fraction: float in (0, 1]. Fraction of each batch used for
      the rotation task (n = int(fraction * batch) / 4 per direction).
    project_y: bool. D's projection term on labels (true labels, or the
      predictor's for unlabelled reals with `use_predictor`); without it D
      ignores labels.
    use_predictor: bool. Train the class predictor and use it for the
      projection of unlabelled reals.
    use_soft_pred: bool. Project with the predictor's softmax, not its argmax.
    weight_class_loss: float. Weight of the class loss in D.
    use_soft_labels: bool. Not supported yet (soft labels from label files).
    conditional: S3GAN is conditional; `True`.
    **kwargs: SSGAN's weights and ModularGAN's arguments.
  """

  def __init__(self, *, self_supervision: str = "rotation",
               rotated_batch_fraction: float = 0.25, project_y: bool = True,
               use_predictor: bool = False, use_soft_pred: bool = False,
               weight_class_loss: float = 1.0, use_soft_labels: bool = False,
               conditional: bool = True, **kwargs: Any):
    if self_supervision not in ("rotation", "none"):
      raise ValueError("S3GAN self_supervision must be 'rotation' or 'none'. "
                       f"Received: {self_supervision!r}")
    if not 0.0 < rotated_batch_fraction <= 1.0:
      raise ValueError("rotated_batch_fraction must be in (0, 1]. "
                       f"Received: {rotated_batch_fraction}")
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
    super().__init__(
        self_supervision="rotation_gan" if self_supervision == "rotation" else "none",
        conditional=conditional, **kwargs)
    if project_y and getattr(self.discriminator, "embedding_fc", None) is None:
      raise ValueError(
          f"S3GAN.project_y needs a projection discriminator; "
          f"{type(self.discriminator).__module__} has none (set project_y=False "
          "or pick a ResNet architecture).")

  def make_heads(self) -> dict[str, keras.layers.Layer]:
    heads = super().make_heads()
    if self.use_predictor:
      head = Linear(self.num_classes, use_bias=True, name="class_predictor")
      head(tf.zeros([1, self.feature_dim()]))
      heads["predictor"] = head
    return heads

  def rotated_per_direction(self, batch_size: int) -> int:
    return max(1, int(batch_size * self.rotated_batch_fraction) // 4)

  def call_discriminator(self, x: tf.Tensor, y: Any, is_real: tf.Tensor) -> DOutputs:
    """D's unconditional logits, plus the projection with resolved labels."""
    _, logits, h = self.discriminator(x, tf.zeros_like(y), training=True)
    if self.project_y:
      if self.use_predictor:
        predicted = self.heads["predictor"](h, training=True)
        y = projection_labels(y, is_real, predicted, self.use_soft_pred)
      embedded = self.discriminator.embedding_fc(y, training=True)
      logits += tf.reduce_sum(embedded * h, axis=1, keepdims=True)
    return tf.nn.sigmoid(logits), logits, h

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
