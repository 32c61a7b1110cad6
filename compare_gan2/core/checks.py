"""Type checks of configured values, without TensorFlow: gin and the
command line hand over Python or numpy numbers, and True is an int to
Python but never a size or a count here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def is_int(value: Any, minimum: int | None = None) -> bool:
  """Whether `value` is an integer (Python or numpy, not a bool) that is at
  least `minimum` (None: any)."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
    return False
  return minimum is None or bool(value >= minimum)


def is_number(value: Any) -> bool:
  """Whether `value` is an int or float (Python or numpy, not a bool) and
  not NaN."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(
      value, (int, float, np.integer, np.floating)):
    return False
  return not math.isnan(value)
