"""Example feature extractor: per-channel means and standard deviations."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from compare_gan2.core.registry import EXTRACTORS


@EXTRACTORS.register("channel_stats", gin_configurable=False)
def channel_stats(dataset: Any, **unused: Any) -> Callable[[np.ndarray], dict[str, Any]]:
  """Each image's per-channel mean and standard deviation as its features."""
  del dataset, unused  # needs neither the data set nor a strategy

  def extract(images: np.ndarray) -> dict[str, Any]:
    images = np.asarray(images, np.float64)
    features = np.concatenate([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=1)
    return {"features": features, "logits": None}

  return extract
