"""Feature extractors by name (`eval.feature_extractor`): images [N, H, W, C]
in [0, 1] -> {"features": [N, D], "logits": [N, K] or None}.

  inception   the FID Inception (pool_3, logits where the weights have them)
  classifier  the shipped classifier of an embedded dataset (digits, shapes)
  pixels      the raw values, for 2-D toy data (mog_ring, mog_grid)
  auto        classifier where one ships, pixels for 2-D data, else inception
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from compare_gan2.core.registry import EXTRACTORS

Extractor = Callable[[np.ndarray], dict[str, Any]]


# `test`: the harness reads 4 images of `dataset` (default digits); "slow"
# runs under -m slow only (Inception's weights load for seconds).
@EXTRACTORS.register("inception", gin_configurable=False, test={"slow": True})
def inception(dataset: Any, *, resize: str = "tfgan", weights: str | None = None,
              cache_dir: str = "~/.cache/compare_gan2",
              batch_size: int = 64, strategy: Any = None) -> Extractor:
  """Inception features; with a (one-host) `strategy`, batches are split over
  its replicas."""
  del dataset
  from compare_gan2.metrics import inception as inception_lib  # TF model: lazy
  model = inception_lib.get_inception(weights=weights, cache_dir=cache_dir,
                                      strategy=strategy)

  outputs = ("pool_3", "logits") if model.logits_loaded else ("pool_3",)

  def extract(images: np.ndarray) -> dict[str, Any]:
    out = inception_lib.extract(model, images, batch_size=batch_size,
                                resize=resize, outputs=outputs, strategy=strategy)
    return {"features": out["pool_3"], "logits": out.get("logits")}

  return extract


@EXTRACTORS.register("classifier", gin_configurable=False)
def classifier(dataset: Any, **unused: Any) -> Extractor:
  """The shipped classifier of an embedded dataset (digits, shapes): its
  penultimate features and its logits."""
  del unused
  from compare_gan2.metrics import classifiers
  model = classifiers.load_classifier(dataset.name)

  def extract(images: np.ndarray) -> dict[str, Any]:
    out = model(images)
    return {"features": out["features"], "logits": out["logits"]}

  return extract


@EXTRACTORS.register("pixels", gin_configurable=False, test={"dataset": "mog_ring"})
def pixels(dataset: Any, **unused: Any) -> Extractor:
  """The raw values as features, for 2-D toy data (mog_ring, mog_grid)."""
  del dataset, unused
  return lambda images: {"features": np.reshape(images, [len(images), -1]),
                         "logits": None}


def auto_name(dataset: Any) -> str:
  from compare_gan2.metrics import classifiers
  if dataset.resolution == 1:
    return "pixels"
  if dataset.name in classifiers.CLASSIFIER_DATASETS:
    return "classifier"
  return "inception"


def make_extractor(name: str, dataset: Any, **options: Any) -> tuple[str, Extractor]:
  """(resolved name, extractor) for `name` ("auto" picks one for `dataset`)."""
  if name == "auto":
    name = auto_name(dataset)
  return name, EXTRACTORS.get(name)(dataset, **options)
