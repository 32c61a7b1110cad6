"""infogan at tiny widths: parameter counts against formulas, the sigmoid output."""

import gin
import numpy as np
import pytest
import tensorflow as tf
from small_cases import (CH, FC, NORM_CASES, Z_DIM, _build_counted, _conv, _count, _dense,
                         _head, _norm)

pytestmark = pytest.mark.usefixtures("seed")  # tests/architectures/conftest.py


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
@pytest.mark.parametrize("res,colors", [(28, 1), (32, 3)])
def test_infogan_parameter_count(g_norm, nc, res, colors):
  g, d = _build_counted("infogan_arch", res, g_norm, nc, d_norm="batch_norm",
                        colors=colors)
  g_norm = g_norm or "batch_norm"  # the original always batch-normalized G
  seed = (res // 4) ** 2 * 2 * CH
  expected_g = (_dense(Z_DIM, FC) + _norm(FC, g_norm, nc)
                + _dense(FC, seed) + _norm(seed, g_norm, nc)
                + _conv(4, 2 * CH, CH) + _norm(CH, g_norm, nc)
                + _conv(4, CH, colors))
  assert _count(g) == expected_g
  expected_d = (_conv(4, colors, CH) + _conv(4, CH, 2 * CH) + 2 * 2 * CH
                + _dense(seed, FC) + 2 * FC + _head(FC, nc))
  assert _count(d) == expected_d


def test_infogan_no_batch_norm_and_sigmoid_output():
  gin.parse_config("G.batch_norm_fn = @no_batch_norm")
  g, _ = _build_counted("infogan_arch", 28, None, 0)
  seed = 7 * 7 * 2 * CH
  assert _count(g) == (_dense(Z_DIM, FC) + _dense(FC, seed)
                       + _conv(4, 2 * CH, CH) + _conv(4, CH, 1))
  # A large bias on the last layer saturates the sigmoid at 1.
  g.deconv4.bias.assign([50.0])
  x = g(tf.zeros([2, Z_DIM]), training=False).numpy()
  np.testing.assert_allclose(x, 1.0)
