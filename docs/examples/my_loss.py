"""Example loss: the hinge loss with an adjustable margin."""

from __future__ import annotations

import tensorflow as tf

from compare_gan2.core.registry import LOSSES


@LOSSES.register("margin_hinge")
def margin_hinge(d_real_logits: tf.Tensor, d_fake_logits: tf.Tensor,
                 margin: float = 0.5):
  """Hinge loss with margin `margin` (gin `margin_hinge.margin`).

  Returns (d_loss, d_loss_real, d_loss_fake, g_loss), scalars.
  """
  d_loss_real = tf.reduce_mean(tf.nn.relu(margin - d_real_logits))
  d_loss_fake = tf.reduce_mean(tf.nn.relu(margin + d_fake_logits))
  return (d_loss_real + d_loss_fake, d_loss_real, d_loss_fake,
          -tf.reduce_mean(d_fake_logits))
