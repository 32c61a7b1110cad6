"""sndcgan at tiny widths: parameter counts against formulas, the paper's channels."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.architectures import sndcgan
from small_cases import (CH, NORM_CASES, Z_DIM, _build_counted, _conv, _count, _dense,
                         _head, _norm)

pytestmark = pytest.mark.usefixtures("seed")  # tests/architectures/conftest.py


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
def test_sndcgan_parameter_count(g_norm, nc):
  res, colors, ch = 16, 3, CH
  g, d = _build_counted("sndcgan_arch", res, g_norm, nc)
  seed = (res // 8) ** 2 * 8 * ch
  widths = [8 * ch, 4 * ch, 2 * ch, ch]
  expected_g = (_dense(Z_DIM, seed) + _norm(seed, g_norm, nc)  # flat norm
                + sum(_conv(4, a, b) + _norm(b, g_norm, nc)
                      for a, b in zip(widths, widths[1:]))
                + _conv(3, ch, colors))
  assert _count(g) == expected_g
  d_widths = [colors] + [m * ch for m in (1, 2, 2, 4, 4, 8, 8)]
  kernels = [3, 4, 3, 4, 3, 4, 3]
  expected_d = (sum(_conv(k, a, b) for k, a, b in
                    zip(kernels, d_widths, d_widths[1:]))
                + _head((res // 8) ** 2 * 8 * ch, nc))
  assert _count(d) == expected_d
  # The discriminator has no normalization, whatever D.batch_norm_fn says.
  gin.clear_config()
  _, d_bn = _build_counted("sndcgan_arch", res, g_norm, nc, d_norm="batch_norm")
  assert _count(d_bn) == expected_d


def test_sndcgan_paper_channels_and_input_range():
  gin.parse_config("sndcgan.Discriminator.channel_multipliers = "
                   "(1, 1, 2, 2, 4, 4, 8)")
  _, d = _build_counted("sndcgan_arch", 16, None, 0)
  widths = [d.colors] + [m * CH for m in sndcgan.D_CHANNELS_PAPER]
  assert [int(c.kernel.shape[-1]) for c in d.convs] == widths[1:]
  assert [int(c.strides) for c in d.convs] == [1, 2, 1, 2, 1, 2, 1]
  # Images in [0, 1] are mapped to [-1, 1]: a mid-grey image becomes zeros,
  # so the first kernel cannot change D's output on it.
  x = tf.fill([2, 16, 16, 3], 0.5)
  logits = d(x, training=False)[1].numpy()
  d.convs[0].kernel.assign(tf.ones_like(d.convs[0].kernel))
  np.testing.assert_array_equal(d(x, training=False)[1].numpy(), logits)
  assert np.abs(d(x + 0.1, training=False)[1].numpy() - logits).max() > 0
  with pytest.raises(ValueError, match="channel_multipliers"):
    sndcgan.Discriminator(resolution=16, colors=3, channel_multipliers=(1, 2))
