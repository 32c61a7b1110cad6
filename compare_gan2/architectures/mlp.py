"""Small MLPs for 2-D toy data such as mixtures of Gaussians (the ring and
grid of Metz et al., 2017, arXiv:1611.02163).

Points travel as 1x1 "images" so that the image contract's shapes hold: build
with `resolution=1` and `colors=2` (the point dimension); G outputs
[B, 1, 1, colors] and D takes [B, 1, 1, colors] (or [B, colors]).
Unlike the image architectures, G's output is linear and NOT squashed into
[0, 1]: toy data lives in the plane and is not rescaled by the data pipeline.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.core.checks import is_int
from compare_gan2.ops import Linear
from compare_gan2.ops.feature_norm import normalize_features

NAME = "mlp_arch"
RESOLUTIONS = (1,)


def _check_layers(num_hidden_layers: int) -> None:
  if num_hidden_layers < 1:
    raise ValueError(f"num_hidden_layers must be >= 1. "
                     f"Received: num_hidden_layers={num_hidden_layers}")


class Generator(base.Generator):
  """MLP generator: [B, z_dim] -> points [B, 1, 1, colors], unbounded.

  Each hidden layer is linear, G's normalization (none by default;
  conditional batch norm brings in y), ReLU; then a linear output layer.

  Args:
    hidden: int. Width of the hidden layers. Defaults to `128`.
    num_hidden_layers: int. Number of hidden layers. Defaults to `3`.
  """

  def __init__(self, *, hidden: int = 128, num_hidden_layers: int = 3,
               **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    _check_layers(num_hidden_layers)
    self.hidden = hidden
    self.num_hidden_layers = num_hidden_layers
    sn = self.spectral_norm
    self.fcs = [Linear(hidden, use_sn=sn, name=f"g_fc{i + 1}")
                for i in range(num_hidden_layers)]
    self.norms = [self.norm(f"g_bn{i + 1}") for i in range(num_hidden_layers)]
    self.fc_out = Linear(self.colors, use_sn=sn, name="g_out")

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    net = z
    for fc, norm in zip(self.fcs, self.norms):
      net = fc(net, training=training)
      net = tf.nn.relu(normalize_features(norm, net, y=y, z=z, training=training))
    net = self.fc_out(net, training=training)
    return tf.reshape(net, [-1, 1, 1, self.colors])

  def get_config(self):
    return {**super().get_config(), "hidden": self.hidden,
            "num_hidden_layers": self.num_hidden_layers}


def maxout(net: tf.Tensor, pieces: int) -> tf.Tensor:
  """[B, units * pieces] -> [B, units]: the max over each unit's `pieces`
  consecutive features (unit u takes features u * pieces ... u * pieces +
  pieces - 1, as Blocks' `Maxout` brick under PacGAN's `LinearMaxout`)."""
  units = net.shape[-1] // pieces
  return tf.reduce_max(tf.reshape(net, [-1, units, pieces]), axis=-1)


class Discriminator(base.Discriminator):
  """MLP discriminator: points [B, 1, 1, colors] -> ([B, 1], [B, 1],
  h [B, hidden]).

  Each hidden layer is linear, D's normalization (none by default), then ReLU,
  or maxout over `maxout_pieces` linear pieces (PacGAN's and ALI's toy D); h
  is the last hidden layer. D.layer_norm is not used.

  Args:
    hidden: int. Width of the hidden layers. Defaults to `128`.
    num_hidden_layers: int. Number of hidden layers. Defaults to `3`.
    project_y: bool. Projection of y when conditional. Defaults to `True`.
    maxout_pieces: int. 1: ReLU units; k > 1: maxout units of k pieces (each
      hidden layer is then linear to hidden * k features, max over each k).
      Defaults to `1`.
  """

  def __init__(self, *, hidden: int = 128, num_hidden_layers: int = 3,
               project_y: bool = True, maxout_pieces: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    _check_layers(num_hidden_layers)
    if not is_int(maxout_pieces, 1):
      raise ValueError("maxout_pieces must be an integer >= 1 (1: ReLU). "
                       f"Received: maxout_pieces={maxout_pieces!r}")
    self.hidden = hidden
    self.num_hidden_layers = num_hidden_layers
    self.project_y = project_y
    self.maxout_pieces = maxout_pieces
    sn = self.spectral_norm
    self.fcs = [Linear(hidden * maxout_pieces, use_sn=sn, name=f"d_fc{i + 1}")
                for i in range(num_hidden_layers)]
    self.norms = [self.norm(f"d_bn{i + 1}") for i in range(num_hidden_layers)]
    self.make_head(hidden, project_y)

  def call(self, x, y=None, training=None):
    net = tf.reshape(x, [-1, self.input_colors])
    for fc, norm in zip(self.fcs, self.norms):
      net = normalize_features(norm, fc(net, training=training), y=y, training=training)
      net = (tf.nn.relu(net) if self.maxout_pieces == 1
             else maxout(net, self.maxout_pieces))
    return self.head(net, y, training)

  def get_config(self):
    return {**super().get_config(), "hidden": self.hidden,
            "num_hidden_layers": self.num_hidden_layers,
            "project_y": self.project_y, "maxout_pieces": self.maxout_pieces}


base.register(NAME, Generator, Discriminator, resolutions=RESOLUTIONS,
              gin_module="mlp",
              # 2-D points: G's output is not squashed into [0, 1].
              test={"resolution": 1, "colors": 2, "widths": {"hidden": 8},
                    "output": "unbounded"})
