"""Tests of core.checks: which configured values count as integers and
numbers."""

import numpy as np
import pytest

from compare_gan2.core.checks import is_int, is_number


@pytest.mark.parametrize("value, minimum, expected", [
    (3, None, True), (np.int64(3), 1, True), (0, 1, False), (0, 0, True), (-2, None, True),
    (True, None, False), (np.bool_(True), None, False), (False, 0, False),
    (3.0, None, False), (np.float32(3), 1, False), ("3", None, False), (None, None, False),
])
def test_is_int(value, minimum, expected):
  assert is_int(value, minimum) is expected


@pytest.mark.parametrize("value, expected", [
    (1, True), (0.5, True), (np.float32(0.5), True), (np.int32(2), True), (-1e30, True),
    (float("inf"), True), (float("nan"), False), (np.float64("nan"), False),
    (True, False), (np.bool_(False), False), ("1", False), (None, False), ([1], False),
])
def test_is_number(value, expected):
  assert is_number(value) is expected
