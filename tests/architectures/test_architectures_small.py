"""What every small architecture shares (dcgan, sndcgan, infogan and mlp, at tiny
widths): shapes and ranges, labels, get_config, resolutions; each one's parameter
counts are in its own test file."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.architectures import dcgan
from compare_gan2.architectures import infogan
from compare_gan2.architectures import mlp
from compare_gan2.architectures import sndcgan
from small_cases import ARCHS, BATCH, NUM_CLASSES, Z_DIM, _bind_widths, _labels

pytestmark = pytest.mark.usefixtures("seed")  # tests/architectures/conftest.py


CASES = [(name, res, cond) for name, spec in ARCHS.items() for res in spec[2]
         for cond in (False, True)]


def _build(name, resolution, conditional, extra=""):
  cond = ("G.batch_norm_fn = @conditional_batch_norm\n"
          "G.spectral_norm = True\nD.spectral_norm = True\n"
          if conditional else "")
  _bind_widths(name, cond + extra)
  colors = ARCHS[name][3]
  return base.build(name, resolution=resolution, colors=colors, z_dim=Z_DIM,
                    num_classes=NUM_CLASSES if conditional else 0)


@pytest.mark.parametrize("name,resolution,conditional", CASES)
def test_build_shapes_and_ranges(name, resolution, conditional):
  g, d = _build(name, resolution, conditional)
  colors = ARCHS[name][3]
  z = tf.random.uniform([BATCH, Z_DIM], -1.0, 1.0)
  y = _labels(BATCH) if conditional else None
  for training in (False, True):
    x = g(z, y, training=training)
    assert tuple(x.shape) == (BATCH, resolution, resolution, colors)
    x = x.numpy()
    assert np.all(np.isfinite(x))
    if name != "mlp_arch":  # the toy MLP's points are unbounded
      assert x.min() >= 0.0 and x.max() <= 1.0
    probs, logits, h = d(x, y, training=training)
    assert tuple(probs.shape) == (BATCH, 1) == tuple(logits.shape)
    assert h.shape.rank == 2 and h.shape[0] == BATCH
    np.testing.assert_allclose(probs.numpy(), tf.sigmoid(logits).numpy(),
                               rtol=1e-6, atol=1e-7)
  assert g.conditional == d.conditional == conditional
  assert (d.embedding_fc is not None) == conditional


@pytest.mark.parametrize("name", list(ARCHS))
def test_labels_reach_both_networks(name):
  res = ARCHS[name][2][0]
  g, d = _build(name, res, conditional=True)
  z = tf.random.uniform([BATCH, Z_DIM], -1.0, 1.0)
  x0 = g(z, _labels(BATCH, 0), training=False).numpy()
  x1 = g(z, _labels(BATCH, 1), training=False).numpy()
  assert np.abs(x0 - x1).max() > 0
  x = tf.random.uniform(x0.shape)  # G's near-grey output gives D tiny features
  l0 = d(x, _labels(BATCH, 0), training=False)[1].numpy()
  l1 = d(x, _labels(BATCH, 1), training=False)[1].numpy()
  assert np.abs(l0 - l1).max() > 0


@pytest.mark.parametrize("name", list(ARCHS))
def test_get_config_carries_options_and_round_trips(name):
  module, widths, resolutions, colors, _ = ARCHS[name]
  res = resolutions[0]
  g, d = _build(name, res, conditional=True)
  for net in (g, d):
    config = net.get_config()
    for key, value in widths.items():
      assert config[key] == value
    assert config["resolution"] == res and config["colors"] == colors
    assert config["num_classes"] == NUM_CLASSES
  assert g.get_config()["z_dim"] == Z_DIM
  assert g.get_config()["batch_norm_fn"] == "conditional_batch_norm"
  assert g.get_config()["spectral_norm"] is d.get_config()["spectral_norm"] is True
  assert d.get_config()["project_y"] is True
  # What the EMA generator does: rebuild from the config, same variables.
  z, y = tf.zeros([1, Z_DIM]), _labels(1)
  g2 = type(g).from_config(g.get_config())
  g2(z, y, training=False)
  assert [v.shape for v in g2.weights] == [v.shape for v in g.weights]
  d2 = type(d).from_config(d.get_config())
  d2(g2(z, y, training=False), y, training=False)
  assert [v.shape for v in d2.weights] == [v.shape for v in d.weights]


@pytest.mark.parametrize("name", list(ARCHS))
def test_unsupported_resolution_raises(name):
  module, widths, _, colors, bad = ARCHS[name]
  for res in bad:
    _bind_widths(name)
    with pytest.raises(ValueError, match="resolution"):
      base.build(name, resolution=res, colors=colors, z_dim=Z_DIM)
    gin.clear_config()
  # Also when a class is constructed directly, bypassing the registry check.
  arch = {"dcgan_arch": dcgan, "sndcgan_arch": sndcgan,
          "infogan_arch": infogan, "mlp_arch": mlp}[name]
  with pytest.raises(ValueError, match="resolution"):
    arch.Generator(resolution=bad[0], colors=colors, z_dim=Z_DIM)
  with pytest.raises(ValueError, match="resolution"):
    arch.Discriminator(resolution=bad[0], colors=colors)
