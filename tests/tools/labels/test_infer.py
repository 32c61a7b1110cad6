"""Tests of the label-inference pipeline: features of a rotation-pretrained
extractor and k-means / semi-supervised labels (compare_gan2.tools.labels.infer)
on the embedded `digits` dataset; pretraining itself: test_pretrain.py."""

import json

import gin
import numpy as np
import pytest

from compare_gan2 import data
from compare_gan2.data import labels as labels_lib
from compare_gan2.tools.labels import infer
from compare_gan2.tools.labels import pretrain as pretrain_lib


# Tiny extractor for the fast tests: a few steps, 8 channels.
TINY = {"steps": 4, "batch_size": 16, "width": 8, "log_every": 2}


@pytest.fixture(scope="module")
def tiny_pretrained(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("rot") / "pretrained")
  pretrain_lib.pretrain(out, "digits", **TINY)
  return out


def test_extract_features_in_fixed_order(tiny_pretrained):
  ds = data.get_dataset("digits")
  features = pretrain_lib.extract_features(tiny_pretrained, ds)
  assert features.shape[0] == ds.num_examples("train")
  model = pretrain_lib.load_extractor(tiny_pretrained)
  images = ds.arrays("train")[0]
  np.testing.assert_allclose(features[[0, 777, 1499]],
                             model.features(images[[0, 777, 1499]]).numpy(),
                             rtol=1e-4, atol=1e-5)


# === Inference ===

def test_metrics():
  assert infer.cluster_purity([0, 0, 1, 1], [3, 3, 3, 4]) == 0.75
  balance = infer.class_balance([0, 0, 2, -1], 3)
  assert balance["sizes"] == [2, 0, 1]


def test_semi_supervised_subset_is_partial_indices(tiny_pretrained, tmp_path):
  out = str(tmp_path / "ss.npz")
  report = infer.infer_labels(tiny_pretrained, out, method="semi_supervised",
                              labeled_fraction=0.1, labels_seed=3)
  ds = data.get_dataset("digits")
  true = labels_lib.train_labels(ds)
  kept = labels_lib.partial_indices(true, 0.1, seed=3)
  contents = labels_lib.read_label_file(out)
  np.testing.assert_array_equal(contents["labels"][kept], true[kept])
  np.testing.assert_array_equal(contents["confidence"][kept], 1.0)
  assert contents["labels"].min() >= 0 and contents["num_classes"] == 10
  # The subset is the one `labels.source = "partial"` keeps.
  source = labels_lib.get_label_source("partial", fraction=0.1, seed=3)
  np.testing.assert_array_equal(source.kept_indices(ds), kept)
  with open(infer.report_path(out)) as f:
    on_disk = json.load(f)
  assert on_disk == json.loads(json.dumps(report))
  for key in ("accuracy_unlabelled", "class_balance", "num_labelled",
              "mean_confidence_unlabelled", "labels_seed"):
    assert key in report
  assert report["num_labelled"] == 150
  assert 0.0 <= report["accuracy_unlabelled"] <= 1.0


def test_kmeans_report_and_file_round_trip(tiny_pretrained, tmp_path):
  out = str(tmp_path / "km.npz")
  report = infer.infer_labels(tiny_pretrained, out, method="kmeans",
                              num_clusters=10)
  for key in ("purity", "nmi", "class_balance", "num_clusters"):
    assert key in report
  assert sum(report["class_balance"]["sizes"]) == 1500
  assert 0.1 <= report["purity"] <= 1.0
  written = labels_lib.read_label_file(out)["labels"]
  # Rerun: same labels, file replaced (idempotent).
  infer.infer_labels(tiny_pretrained, out, method="kmeans", num_clusters=10)
  np.testing.assert_array_equal(labels_lib.read_label_file(out)["labels"],
                                written)
  # Read back through `labels.source = "file"`: each image its cluster id.
  gin.parse_config(["labels.source = 'file'", f"labels.path = {out!r}"])
  ds = data.get_dataset("digits")
  assert ds.label_source == "file" and ds.num_classes == 10
  images = ds.arrays("train")[0]
  expected = sorted((x.tobytes(), int(y)) for x, y in zip(images, written))
  got = []
  for x, y in ds.input_fn("train", 100, repeat=False):
    got += [(a.tobytes(), int(b)) for a, b in zip(x.numpy(), y.numpy())]
  assert sorted(got) == expected


@pytest.mark.slow
def test_acceptance_on_digits(tmp_path):
  """Default pretraining (200 steps): semi-supervised >= 90% with 10% labels;
  k-means purity of the rotation features vs raw pixels (reported)."""
  out = str(tmp_path / "rot")
  pretrain_lib.pretrain(out, "digits", steps=200, log_every=100)  # ~30 s
  ss = infer.infer_labels(out, str(tmp_path / "ss.npz"),
                          method="semi_supervised", labeled_fraction=0.1)
  assert ss["accuracy_unlabelled"] >= 0.9
  km = infer.infer_labels(out, str(tmp_path / "km.npz"), method="kmeans",
                          num_clusters=10, pixel_baseline=True)
  print(json.dumps({k: km[k] for k in km if "purity" in k or "nmi" in k}))
  assert {"pixels_purity", "pixels_nmi", "pixels_standardised_purity"} <= set(km)
  assert km["purity"] > 0.7
