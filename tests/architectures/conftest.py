"""The small architectures' tests (small_cases.py) start from the same Keras seed;
they ask for it by `pytestmark`, the other architecture tests do not."""

import keras
import pytest


@pytest.fixture
def seed():
  keras.utils.set_random_seed(0)
