"""dcgan at tiny widths: parameter counts against formulas written out in small_cases.py."""

import pytest
from small_cases import (CH, NORM_CASES, Z_DIM, _build_counted, _conv, _count, _dense,
                         _head, _norm)

pytestmark = pytest.mark.usefixtures("seed")  # tests/architectures/conftest.py


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
def test_dcgan_parameter_count(g_norm, nc):
  res, colors, ch = 32, 3, CH
  g, d = _build_counted("dcgan_arch", res, g_norm, nc, d_norm="batch_norm")
  seed = (res // 16) ** 2 * 8 * ch
  widths = [8 * ch, 4 * ch, 2 * ch, ch, colors]
  expected_g = (_dense(Z_DIM, seed)
                + sum(_conv(5, a, b) for a, b in zip(widths, widths[1:]))
                + sum(_norm(c, g_norm, nc) for c in widths[:-1]))
  assert _count(g) == expected_g
  d_widths = [colors, ch, 2 * ch, 4 * ch, 8 * ch]
  expected_d = (sum(_conv(5, a, b) for a, b in zip(d_widths, d_widths[1:]))
                + sum(2 * c for c in d_widths[2:])  # batch norm but on conv 1
                + _head((res // 16) ** 2 * 8 * ch, nc))
  assert _count(d) == expected_d
