"""Tests of the shipped dataset classifiers (compare_gan2.metrics.classifiers)."""

import json
import os

import numpy as np
import pytest

from compare_gan2.data import get_dataset
from compare_gan2.metrics import classifiers

# Floors below the accuracies measured at training time (see
# weights/accuracies.json), with a margin for float differences across
# machines; the recorded value itself is checked with a 0.01 margin.
MIN_ACCURACY = {"digits": 0.95, "shapes": 0.97, "shapes_64": 0.97}


def _test_split(name):
  images, labels = get_dataset(name).arrays("test")
  images = np.asarray(images)
  if images.dtype == np.uint8:
    images = images.astype(np.float32) / 255.0
  return images.astype(np.float32), np.asarray(labels)


@pytest.fixture(scope="module", params=classifiers.CLASSIFIER_DATASETS)
def loaded(request):
  """(name, classifier, test images, test labels, outputs on the test split)."""
  name = request.param
  clf = classifiers.load_classifier(name)
  images, labels = _test_split(name)
  return name, clf, images, labels, clf(images)


def test_weights_are_small():
  for name in classifiers.CLASSIFIER_DATASETS:
    assert os.path.getsize(classifiers.weights_path(name)) < 1024 * 1024


def test_reaches_recorded_accuracy(loaded):
  name, clf, images, labels, _ = loaded
  with open(os.path.join(classifiers.WEIGHTS_DIR, "accuracies.json")) as f:
    recorded = json.load(f)[name]["test_accuracy"]
  accuracy = classifiers.class_accuracy(clf, images, labels)
  assert accuracy >= MIN_ACCURACY[name]
  assert accuracy >= recorded - 0.01


def test_output_shapes(loaded):
  name, clf, images, _, out = loaded
  spec = classifiers.SPECS[name]
  n = len(images)
  assert set(out) == {"features", "logits"}
  assert out["features"].shape == (n, classifiers.FEATURE_DIM)
  assert out["logits"].shape == (n, spec.num_classes)
  assert out["features"].dtype == np.float32
  # Batching must not change the result (inference-mode batch norm).
  small = clf(images[:5], batch_size=2)
  np.testing.assert_allclose(small["logits"], out["logits"][:5], atol=1e-4)


def test_features_cluster_by_class(loaded):
  """Same-class features are closer than different-class ones, per class."""
  _, clf, _, labels, out = loaded
  feats = out["features"][:600].astype(np.float64)
  labels = labels[:600]
  d = np.sqrt(np.maximum(
      np.sum(feats**2, 1)[:, None] + np.sum(feats**2, 1)[None]
      - 2 * feats @ feats.T, 0))
  same = labels[:, None] == labels[None]
  off_diag = ~np.eye(len(labels), dtype=bool)
  for k in range(clf.num_classes):
    rows = labels == k
    within = d[rows][(same & off_diag)[rows]].mean()
    across = d[rows][~same[rows]].mean()
    assert within < across, (k, within, across)


def test_class_accuracy_matches_argmax(loaded):
  _, clf, images, labels, out = loaded
  images, labels = images[:256], labels[:256]
  # Partly shuffled labels give a non-trivial accuracy to compare.
  rng = np.random.default_rng(0)
  labels = np.where(rng.random(len(labels)) < 0.3,
                    rng.integers(0, clf.num_classes, len(labels)), labels)
  expected = np.mean(np.argmax(out["logits"][:256], 1) == labels)
  assert 0.3 < expected < 0.95
  assert classifiers.class_accuracy(clf, images, labels) == pytest.approx(
      expected)


def test_wrong_shapes_raise():
  clf = classifiers.load_classifier("digits")
  with pytest.raises(ValueError, match=r"\[N, 32, 32, 1\]"):
    clf(np.zeros((2, 32, 32, 3), np.float32))
  with pytest.raises(ValueError, match="shape"):
    clf(np.zeros((32, 32, 1), np.float32))
  with pytest.raises(ValueError, match="uint8"):
    clf(np.zeros((2, 32, 32, 1), np.uint8))
  with pytest.raises(ValueError, match="labels"):
    classifiers.class_accuracy(clf, np.zeros((2, 32, 32, 1)), [0, 1, 2])


def test_unknown_dataset_raises():
  with pytest.raises(ValueError, match="digits, shapes, shapes_64"):
    classifiers.load_classifier("cifar10")


def test_missing_weights_raise(monkeypatch, tmp_path):
  monkeypatch.setattr(classifiers, "WEIGHTS_DIR", str(tmp_path))
  with pytest.raises(FileNotFoundError, match="scripts/train_classifiers.py"):
    classifiers.load_classifier("shapes")
