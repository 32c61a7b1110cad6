"""Example label source: the parity of the dataset's label (2 classes)."""

from __future__ import annotations

from typing import Any

from compare_gan2.data.labels import LabelSource
from compare_gan2.core.registry import LABEL_SOURCES


@LABEL_SOURCES.register("parity", gin_configurable=False)
class ParityLabels(LabelSource):
  """Label % 2: the GAN sees two classes (even, odd)."""

  name = "parity"

  def num_classes(self, dataset: Any) -> int:
    del dataset
    return 2

  def relabel_fn(self, dataset: Any):
    del dataset
    return lambda index, label: label % 2
