"""ADA's augmentation pipeline (compare_gan2/augment/ada.py) against
NVlabs/stylegan2-ada-pytorch's AugmentPipe transcribed in ada_reference.py,
on the same images and the same random draws; split and XLA invariance."""

import numpy as np
import pytest
import tensorflow as tf
import torch

from compare_gan2.augment import ada
from compare_gan2.core.registry import REGISTRIES
import ada_reference as reference

OPS = ada.PIPELINES["bgc"]


def _images(batch=6, height=16, width=20, channels=3, seed=0):
  return np.random.RandomState(seed).uniform(-1, 1, [batch, height, width, channels]
                                             ).astype(np.float32)


def _random_draws(batch, seed=1):
  """Draws of every op (uniforms, normals, gates) from numpy: injected."""
  rng = np.random.RandomState(seed)
  draws = {}
  for op, kinds in ada._DRAWS.items():  # pylint: disable=protected-access
    draws[f"{op}_gate"] = rng.rand(batch).astype(np.float32)
    for kind, size in kinds.items():
      shape = [batch, 2] if size == 2 else [batch]
      value = rng.rand(*shape) if kind == "u" else rng.randn(*shape)
      draws[f"{op}_{kind}"] = value.astype(np.float32)
  return draws


def _original(x, p, draws, ops):
  out = reference.augment_pipe(torch.as_tensor(x).permute(0, 3, 1, 2), p, draws,
                               **{op: 1 for op in ops})
  return out.permute(0, 2, 3, 1).numpy()


def _one_by_one(x, p, draws, ops):
  """The original on each example alone: its padding is that example's."""
  return np.concatenate([_original(x[i:i + 1], p, {k: v[i:i + 1] for k, v in draws.items()},
                                   ops) for i in range(len(x))])


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("p", [0.3, 1.0])
@pytest.mark.parametrize("ops", [(op,) for op in OPS] + [OPS], ids=[*OPS, "bgc"])
def test_every_op_matches_the_original(ops, p, channels):
  x = _images(channels=channels)
  draws = _random_draws(len(x))
  ours = ada.augment_with_draws(x, p, draws, ops, per_example_margin=False).numpy()
  np.testing.assert_allclose(ours, _original(x, p, draws, ops), atol=2e-5, rtol=0)
  if ops == OPS:
    ours = ada.augment_with_draws(x, p, draws, ops).numpy()
    np.testing.assert_allclose(ours, _one_by_one(x, p, draws, ops), atol=2e-5, rtol=0)
    assert np.abs(ours - x).max() > 0.5  # it did transform


def test_strengths_and_non_square_images_match_the_original():
  x = _images(batch=4, height=12, width=24)
  draws = _random_draws(4, seed=5)
  strengths = {"xint_max": 0.25, "scale_std": 0.5, "rotate_max": 0.5, "aniso_std": 0.4,
               "xfrac_std": 0.2, "brightness_std": 0.3, "contrast_std": 0.7,
               "hue_max": 0.5, "saturation_std": 0.6}
  ours = ada.augment_with_draws(x, 0.8, draws, OPS, strengths, per_example_margin=False)
  theirs = reference.augment_pipe(torch.as_tensor(x).permute(0, 3, 1, 2), 0.8, draws,
                                  **{op: 1 for op in OPS}, **strengths)
  np.testing.assert_allclose(ours.numpy(), theirs.permute(0, 2, 3, 1).numpy(), atol=2e-5)


def test_p_zero_is_the_identity_and_rotation_uses_the_split_probability():
  x = _images()
  draws = _random_draws(len(x))
  np.testing.assert_allclose(ada.augment_with_draws(x, 0.0, draws).numpy(), x, atol=1e-5)
  # p_rot = 1 - sqrt(1 - p): a gate between p_rot and p rotates in neither place.
  p = 0.5
  p_rot = 1 - np.sqrt(1 - p)
  draws["rotate_pre_gate"][:] = draws["rotate_post_gate"][:] = (p_rot + p) / 2
  np.testing.assert_allclose(ada.augment_with_draws(x, p, draws, ("rotate",)).numpy(), x,
                             atol=1e-5)


def test_seeded_draws_do_not_depend_on_the_batch_split_and_compile():
  x = _images(batch=8, height=16, width=16)
  seeds = tf.constant([[3, i] for i in range(8)], tf.int32)
  whole = ada.ada_augment(x, 0.7, seeds, 1, data_range=(-1.0, 1.0)).numpy()
  halves = np.concatenate([ada.ada_augment(x[i:i + 4], 0.7, seeds[i:i + 4], 1,
                                           data_range=(-1.0, 1.0)).numpy()
                           for i in (0, 4)])
  # (Batch-size dependent rounding of the CPU convolutions only.)
  np.testing.assert_allclose(halves, whole, atol=1e-5)
  compiled = tf.function(lambda a, s: ada.ada_augment(a, 0.7, s, 1, data_range=(-1.0, 1.0)),
                         jit_compile=True)
  np.testing.assert_allclose(compiled(x, seeds).numpy(), whole, atol=1e-5)
  # Another salt, other draws.
  assert np.abs(ada.ada_augment(x, 0.7, seeds, 2, data_range=(-1.0, 1.0)) - whole).max() > 0.1


def test_normal_draws_are_standard_normal():
  seeds = tf.constant([[0, i] for i in range(4000)], tf.int32)
  n = ada.draw(seeds, 0)["scale_n"].numpy()
  assert np.all(np.isfinite(n))
  assert abs(n.mean()) < 0.06 and abs(n.std() - 1.0) < 0.05


def test_gradient_reaches_every_input_pixel():
  x = tf.constant(_images(batch=2, height=8, width=8))
  seeds = tf.constant([[0, 1], [0, 2]], tf.int32)
  with tf.GradientTape() as tape:
    tape.watch(x)
    out = ada.ada_augment(x, 0.5, seeds, 0, data_range=(-1.0, 1.0))
    loss = tf.reduce_sum(out * out)
  grad = tape.gradient(loss, x).numpy()
  assert np.all(np.isfinite(grad)) and np.all(grad != 0.0)


def test_pipelines_are_registered_augmentations():
  for name in ("ada_bgc", "ada_bg", "ada_blit", "ada_geom", "ada_color"):
    assert "ADA" in REGISTRIES["augmentation"].summary(name)
  with pytest.raises(ValueError, match="Unknown ADA ops"):
    ada.augment_with_draws(_images(), 1.0, _random_draws(6), ("xflip", "noise"))
