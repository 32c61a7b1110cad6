"""Rotation pretraining: the rotated batch and its labels, the network's config,
resuming from the saved step, two replicas."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.tools.labels import pretrain as pretrain_lib
from test_infer import TINY


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
