"""GAN losses (compare_gan `loss_lib`), chosen in gin by `loss.fn = @hinge`.

Each loss maps discriminator outputs on a real and a fake batch to
(d_loss, d_loss_real, d_loss_fake, g_loss), all means over the batch:
  d_real, d_fake: sigmoid probabilities [B, 1];
  d_real_logits, d_fake_logits: logits [B, 1].
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import gin
import tensorflow as tf

from compare_gan2.core.registry import LOSSES, import_submodules

Losses = tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]


def _ce(labels_value: float, logits: tf.Tensor) -> tf.Tensor:
  labels = tf.fill(tf.shape(logits), labels_value)
  return tf.reduce_mean(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


@LOSSES.register("non_saturating")
def non_saturating(d_real_logits: tf.Tensor, d_fake_logits: tf.Tensor) -> Losses:
  """Non-saturating GAN loss (Goodfellow et al., 2014, arXiv:1406.2661).

  D: CE(1, l_real) + CE(0, l_fake); G: CE(1, l_fake).
  """
  d_loss_real = _ce(1.0, d_real_logits)
  d_loss_fake = _ce(0.0, d_fake_logits)
  return d_loss_real + d_loss_fake, d_loss_real, d_loss_fake, _ce(1.0, d_fake_logits)


@LOSSES.register("wasserstein")
def wasserstein(d_real_logits: tf.Tensor, d_fake_logits: tf.Tensor) -> Losses:
  """Wasserstein GAN loss (Arjovsky et al., 2017, arXiv:1701.07875).

  D: -mean(l_real) + mean(l_fake); G: -mean(l_fake).
  """
  d_loss_real = -tf.reduce_mean(d_real_logits)
  d_loss_fake = tf.reduce_mean(d_fake_logits)
  return d_loss_real + d_loss_fake, d_loss_real, d_loss_fake, -d_loss_fake


@LOSSES.register("least_squares")
def least_squares(d_real: tf.Tensor, d_fake: tf.Tensor) -> Losses:
  """Least-squares GAN loss on sigmoid outputs (Mao et al., 2017,
  arXiv:1611.04076). D: 0.5 [mean((p_r - 1)^2) + mean(p_f^2)];
  G: 0.5 mean((p_f - 1)^2).

  As compare_gan's loss_lib, the reported parts `d_loss_real` and
  `d_loss_fake` carry no 0.5 (so d_loss = 0.5 (real + fake), not their sum);
  the logged curves then match the original's."""
  d_loss_real = tf.reduce_mean(tf.square(d_real - 1.0))
  d_loss_fake = tf.reduce_mean(tf.square(d_fake))
  g_loss = 0.5 * tf.reduce_mean(tf.square(d_fake - 1.0))
  return 0.5 * (d_loss_real + d_loss_fake), d_loss_real, d_loss_fake, g_loss


@LOSSES.register("hinge")
def hinge(d_real_logits: tf.Tensor, d_fake_logits: tf.Tensor) -> Losses:
  """Hinge loss (Lim & Ye, 2017, arXiv:1705.02894; Miyato et al., 2018).

  D: mean(relu(1 - l_real)) + mean(relu(1 + l_fake)); G: -mean(l_fake).
  """
  d_loss_real = tf.reduce_mean(tf.nn.relu(1.0 - d_real_logits))
  d_loss_fake = tf.reduce_mean(tf.nn.relu(1.0 + d_fake_logits))
  return (d_loss_real + d_loss_fake, d_loss_real, d_loss_fake,
          -tf.reduce_mean(d_fake_logits))


def call_with_accepted_args(fn: Callable[..., Any], **kwargs: Any) -> Any:
  """Calls `fn` with the subset of `kwargs` it declares."""
  params = inspect.signature(fn).parameters
  if any(p.kind == p.VAR_KEYWORD for p in params.values()):
    return fn(**kwargs)
  return fn(**{k: v for k, v in kwargs.items() if k in params})


@gin.configurable("loss", allowlist=["fn"])
def get_losses(fn: Any = "non_saturating", **kwargs: Any) -> Losses:
  """Evaluates the loss chosen by gin `loss.fn` (a name or `@name`)."""
  return call_with_accepted_args(LOSSES.get(fn), **kwargs)


# A new loss of the package is one file in this folder: imported here,
# after the definitions above that it may use.
import_submodules(__name__, __path__)
