"""Tests of the label-inference pipeline: rotation pretraining
(compare_gan2.tools.labels.pretrain) and k-means / semi-supervised labels
(compare_gan2.tools.labels.infer) on the embedded `digits` dataset."""

import json
import math
import os
import subprocess
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

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


# === Rotations and the network ===

def test_rotation_batch_labels_match_rotations():
  images = tf.random.uniform([3, 5, 5, 2], seed=1)
  rotated, labels = pretrain_lib.rotate_batch(images)
  assert rotated.shape == (12, 5, 5, 2)
  np.testing.assert_array_equal(labels, np.repeat(np.arange(4), 3))
  for row in range(12):
    k, i = divmod(row, 3)
    expected = np.rot90(images[i].numpy(), k, axes=(0, 1))
    np.testing.assert_array_equal(rotated[row], expected)


def test_rotation_net_config_round_trip_and_large_variant():
  model = pretrain_lib.RotationNet(resolution=32, colors=1, width=8)
  clone = pretrain_lib.RotationNet.from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  assert model.get_config()["arch"] == "small"
  assert model.features(tf.zeros([2, 32, 32, 1])).shape == (2, model.feature_dim)
  assert model(tf.zeros([2, 32, 32, 1])).shape == (2, 4)
  # The paper's ResNet-50-like extractor for 128 px (built, not trained).
  large = pretrain_lib.RotationNet(resolution=128, colors=3, width=8)
  assert large.arch == "resnet50" and len(large.stages) == 4
  assert [len(s) for s in large.stages] == [3, 4, 6, 3]
  assert large.features(tf.zeros([1, 128, 128, 3])).shape == (1, 8 * 8 * 4)


# === Pretraining ===

def test_pretrain_resumes_from_the_saved_step(tmp_path):
  out = str(tmp_path / "rot")
  info = pretrain_lib.pretrain(out, "digits", **{**TINY, "steps": 2})
  assert info["step"] == 2 and math.isfinite(info["loss"])
  weights = [w.numpy() for w in pretrain_lib.load_extractor(out).weights]
  # Same target: nothing to train, the saved extractor is reused.
  info = pretrain_lib.pretrain(out, "digits", **{**TINY, "steps": 2})
  assert info["step"] == 2
  for a, b in zip(weights, pretrain_lib.load_extractor(out).weights):
    np.testing.assert_array_equal(a, b.numpy())
  info = pretrain_lib.pretrain(out, "digits", **{**TINY, "steps": 3})
  assert info["step"] == 3
  with open(os.path.join(out, pretrain_lib.CONFIG_FILE)) as f:
    assert json.load(f)["step"] == 3
  with pytest.raises(ValueError, match="another --out"):
    pretrain_lib.pretrain(out, "digits", **{**TINY, "steps": 4, "width": 16})


def test_pretrain_under_mirrored_strategy_gives_finite_loss(
    tmp_path, mirrored_strategy):
  info = pretrain_lib.pretrain(str(tmp_path / "rot"), "digits",
                               **{**TINY, "steps": 2},
                               strategy=mirrored_strategy)
  assert info["step"] == 2 and math.isfinite(info["loss"])


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


def test_cli_pretrain_and_infer_labels(tmp_path):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  run = lambda *a: subprocess.run(  # noqa: E731
      [sys.executable, "-m", "compare_gan2", *a], env=env, capture_output=True,
      text=True, timeout=300)
  rot = str(tmp_path / "rot")
  result = run("pretrain", "--out", rot, "--dataset", "digits", "--steps", "2",
               "--batch_size", "8", "--width", "8", "--log_every", "1")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "steps/s" in result.stdout
  for method, extra in (("kmeans", ["--num_clusters", "5"]),
                        ("semi_supervised", ["--labeled_fraction", "0.1"])):
    out = str(tmp_path / f"{method}.npz")
    result = run("infer-labels", "--pretrained", rot, "--method", method,
                 "--out", out, *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    assert labels_lib.read_label_file(out)["dataset"] == "digits"
    assert os.path.exists(infer.report_path(out))
  result = run("infer-labels", "--pretrained", str(tmp_path / "none"),
               "--method", "kmeans", "--out", str(tmp_path / "x.npz"))
  assert result.returncode == 1 and "compare_gan2 pretrain" in result.stdout


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
