"""The discriminator's accuracy on real and fake logits."""

import numpy as np
import pytest

from compare_gan2 import metrics


def test_discriminator_accuracy():
  acc = metrics.discriminator_accuracy(np.array([1.0, -1.0, 2.0]),
                                       np.array([-3.0, 0.5, -0.1]))
  assert acc == pytest.approx(4 / 6)
