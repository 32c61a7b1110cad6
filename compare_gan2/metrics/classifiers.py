"""Small shipped classifiers for the embedded labelled datasets.

They serve two purposes:
  * domain feature extractors for FID / KID on `digits` and `shapes`
    (Inception features are a poor fit for 32x32 polygons and digits);
  * "class accuracy of generated images" for conditional GANs: the share of
    generated images that the classifier assigns to the conditioning label.

Weights are trained by `scripts/train_classifiers.py` and shipped in
`compare_gan2/metrics/weights/<name>_classifier.weights.h5`; the test
accuracies measured at training time are in `weights/accuracies.json`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

CLASSIFIER_DATASETS = ("digits", "shapes", "shapes_64")
FEATURE_DIM = 128


@dataclasses.dataclass(frozen=True)
class ClassifierSpec:
  """Input shape and number of classes of one dataset's classifier."""
  resolution: int
  channels: int
  num_classes: int


SPECS = {
    "digits": ClassifierSpec(resolution=32, channels=1, num_classes=10),
    "shapes": ClassifierSpec(resolution=32, channels=3, num_classes=6),
    "shapes_64": ClassifierSpec(resolution=64, channels=3, num_classes=6),
}

# Looked up at call time (not bound at import) so tests can monkeypatch it.
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "weights")


def weights_path(dataset_name: str) -> str:
  """Path of the shipped weight file of `dataset_name`'s classifier."""
  return os.path.join(WEIGHTS_DIR, f"{dataset_name}_classifier.weights.h5")


def _check_name(dataset_name: str) -> ClassifierSpec:
  if dataset_name not in SPECS:
    raise ValueError(
        f"No classifier for dataset {dataset_name!r}; available: "
        f"{', '.join(CLASSIFIER_DATASETS)}.")
  return SPECS[dataset_name]


def build_model(dataset_name: str):
  """Untrained Keras model: images -> (features [N, D], logits [N, K]).

  Global *average* pooling on purpose: the `shapes` label is the number of
  corners, and the mean of local corner detectors counts them regardless of
  the polygon's size or position (max pooling would only say "a corner").
  """
  import keras  # Lazy: importing the metrics package must stay cheap.
  spec = _check_name(dataset_name)
  layers = keras.layers
  inputs = keras.Input((spec.resolution, spec.resolution, spec.channels))
  x = inputs
  # 64x64 inputs get one extra stride-2 stage so they cost the same as 32x32.
  stages = [(32, 1), (32, 2), (64, 1), (64, 2), (128, 1)]
  if spec.resolution == 64:
    stages = [(32, 2)] + stages
  for i, (filters, stride) in enumerate(stages):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same",
                      use_bias=False, name=f"conv{i}")(x)
    # Batch norm for fast, stable training from scratch; at inference it is
    # a fixed affine map, so outputs do not depend on the batch.
    x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
    x = layers.ReLU()(x)
  x = layers.GlobalAveragePooling2D()(x)
  features = layers.Dense(FEATURE_DIM, activation="relu", name="features")(x)
  logits = layers.Dense(spec.num_classes, name="logits")(features)
  return keras.Model(inputs, [features, logits],
                     name=f"{dataset_name}_classifier")


class Classifier:
  """A trained classifier for one dataset; call it on images in [0, 1]."""

  def __init__(self, dataset_name: str, model):
    self.dataset_name = dataset_name
    self.spec = _check_name(dataset_name)
    self.model = model
    self._forward = None

  @property
  def input_shape(self) -> tuple[int, int, int]:
    s = self.spec
    return (s.resolution, s.resolution, s.channels)

  @property
  def num_classes(self) -> int:
    return self.spec.num_classes

  @property
  def feature_dim(self) -> int:
    return FEATURE_DIM

  def _check_images(self, images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
      raise ValueError(
          f"The {self.dataset_name} classifier expects images of shape "
          f"[N, {', '.join(map(str, self.input_shape))}], got "
          f"{list(images.shape)}.")
    if images.dtype == np.uint8:
      # uint8 would silently be read as values in [0, 255].
      raise ValueError("Images must be floats in [0, 1], got uint8; divide "
                       "by 255 first.")
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)):
      raise ValueError("Images contain NaN or Inf values.")
    return images

  def __call__(self, images, batch_size: int = 256) -> dict[str, np.ndarray]:
    """{"features": [N, D] float32, "logits": [N, K] float32}."""
    images = self._check_images(images)
    if self._forward is None:
      import tensorflow as tf
      # One traced function with a free batch dimension: no retracing for
      # the last, smaller batch, and no per-call overhead of model.predict.
      self._forward = tf.function(
          lambda x: self.model(x, training=False), reduce_retracing=True)
    features, logits = [], []
    for start in range(0, len(images), batch_size):
      f, l = self._forward(images[start:start + batch_size])
      features.append(np.asarray(f))
      logits.append(np.asarray(l))
    if not features:
      return {"features": np.zeros((0, FEATURE_DIM), np.float32),
              "logits": np.zeros((0, self.num_classes), np.float32)}
    return {"features": np.concatenate(features),
            "logits": np.concatenate(logits)}


def load_classifier(dataset_name: str) -> Classifier:
  """The shipped classifier of `dataset_name` (one of CLASSIFIER_DATASETS)."""
  _check_name(dataset_name)
  path = weights_path(dataset_name)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"No weights for the {dataset_name} classifier at {path}; run "
        "`python scripts/train_classifiers.py` to train them.")
  model = build_model(dataset_name)
  model.load_weights(path)
  return Classifier(dataset_name, model)


def class_accuracy(classifier: Classifier, images, labels,
                   batch_size: int = 256) -> float:
  """Share of `images` whose arg-max class is `labels` (int [N])."""
  labels = np.asarray(labels)
  if labels.ndim != 1 or len(labels) != len(images):
    raise ValueError(
        f"labels must have shape [{len(images)}], got {list(labels.shape)}.")
  if len(labels) == 0:
    raise ValueError("class_accuracy needs at least one image.")
  logits = classifier(images, batch_size=batch_size)["logits"]
  return float(np.mean(np.argmax(logits, axis=1) == labels))
