"""mlp at tiny widths: parameter counts against formulas, unbounded points."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.architectures import mlp
from small_cases import (BATCH, HIDDEN, NORM_CASES, Z_DIM, _build_counted, _count, _dense,
                         _head, _labels, _norm)

pytestmark = pytest.mark.usefixtures("seed")  # tests/architectures/conftest.py


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
def test_mlp_parameter_count_and_unbounded_points(g_norm, nc):
  layers = 3
  g, d = _build_counted("mlp_arch", 1, g_norm, nc)
  expected_g = (_dense(Z_DIM, HIDDEN) + (layers - 1) * _dense(HIDDEN, HIDDEN)
                + layers * _norm(HIDDEN, g_norm, nc) + _dense(HIDDEN, 2))
  assert _count(g) == expected_g
  expected_d = (_dense(2, HIDDEN) + (layers - 1) * _dense(HIDDEN, HIDDEN)
                + _head(HIDDEN, nc))
  assert _count(d) == expected_d
  # The output layer is linear: its bias moves the points anywhere.
  g.fc_out.bias.assign([5.0, -5.0])
  y = _labels(BATCH) if nc else None
  x = g(tf.zeros([BATCH, Z_DIM]), y, training=False).numpy()
  assert x.shape == (BATCH, 1, 1, 2)
  np.testing.assert_allclose(x[:, 0, 0], np.tile([[5.0, -5.0]], (BATCH, 1)),
                             atol=0.5)
  # D also takes plain [B, 2] points.
  assert tuple(d(x[:, 0, 0], y, training=False)[1].shape) == (BATCH, 1)


def test_mlp_num_hidden_layers():
  gin.parse_config("mlp.Generator.num_hidden_layers = 1\n"
                   "mlp.Discriminator.num_hidden_layers = 2")
  g, d = _build_counted("mlp_arch", 1, None, 0)
  assert _count(g) == _dense(Z_DIM, HIDDEN) + _dense(HIDDEN, 2)
  assert _count(d) == _dense(2, HIDDEN) + _dense(HIDDEN, HIDDEN) + _head(HIDDEN, 0)
  with pytest.raises(ValueError, match="num_hidden_layers"):
    mlp.Generator(resolution=1, colors=2, z_dim=2, num_hidden_layers=0)
