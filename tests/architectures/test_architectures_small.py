"""Tests of the small architectures: dcgan, sndcgan, infogan and mlp, at tiny
widths. Parameter counts are checked against formulas written out here."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.architectures import dcgan
from compare_gan2.architectures import infogan
from compare_gan2.architectures import mlp
from compare_gan2.architectures import sndcgan

NUM_CLASSES = 3
Z_DIM = 6
BATCH = 4
CH = 4
FC = 16  # infogan fc_dim
HIDDEN = 8  # mlp hidden

# name -> (gin module, width bindings, resolutions, colors, bad resolutions)
ARCHS = {
    "dcgan_arch": ("dcgan", {"ch": CH}, (16, 32, 64), 3, (8, 24, 2048)),
    "sndcgan_arch": ("sndcgan", {"ch": CH}, (16, 32, 64), 3, (4, 24)),
    "infogan_arch": ("infogan", {"ch": CH, "fc_dim": FC}, (28, 32), 1, (16, 64)),
    "mlp_arch": ("mlp", {"hidden": HIDDEN}, (1,), 2, (2, 8)),
}
CASES = [(name, res, cond) for name, spec in ARCHS.items() for res in spec[2]
         for cond in (False, True)]


@pytest.fixture(autouse=True)
def seed():
  keras.utils.set_random_seed(0)


def _bind_widths(name, extra=""):
  module, widths, *_ = ARCHS[name]
  lines = [f"{module}.{net}.{k} = {v}" for net in ("Generator", "Discriminator")
           for k, v in widths.items()]
  gin.parse_config("\n".join(lines) + "\n" + extra)


def _build(name, resolution, conditional, extra=""):
  cond = ("G.batch_norm_fn = @conditional_batch_norm\n"
          "G.spectral_norm = True\nD.spectral_norm = True\n"
          if conditional else "")
  _bind_widths(name, cond + extra)
  colors = ARCHS[name][3]
  return base.build(name, resolution=resolution, colors=colors, z_dim=Z_DIM,
                    num_classes=NUM_CLASSES if conditional else 0)


def _labels(num, cls=None):
  ids = np.arange(num) % NUM_CLASSES if cls is None else np.full(num, cls)
  return tf.one_hot(ids, NUM_CLASSES)


def _count(model):
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


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


# --- Parameter counts from formulas ------------------------------------------


def _conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def _dense(n_in, n_out, bias=True):
  return n_in * n_out + (n_out if bias else 0)


def _norm(c, kind, num_classes=0):
  """Trainable parameters of a normalization of c channels."""
  return {None: 0, "batch_norm": 2 * c,
          "conditional_batch_norm": 2 * num_classes * c}[kind]


def _head(features, num_classes):
  return _dense(features, 1) + num_classes * features


NORM_CASES = [(None, 0), ("batch_norm", 0), ("conditional_batch_norm", NUM_CLASSES)]


def _build_counted(name, res, g_norm, num_classes, d_norm=None, colors=None):
  extra = ""
  if g_norm:
    extra += f"G.batch_norm_fn = @{g_norm}\n"
  if d_norm:
    extra += f"D.batch_norm_fn = @{d_norm}\n"
  _bind_widths(name, extra)
  return base.build(name, resolution=res, colors=colors or ARCHS[name][3],
                    z_dim=Z_DIM, num_classes=num_classes)


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
def test_dcgan_parameter_count(g_norm, nc):
  res, colors, ch = 32, 3, CH
  g, d = _build_counted("dcgan_arch", res, g_norm, nc, d_norm="batch_norm")
  seed = (res // 16) ** 2 * 8 * ch
  widths = [8 * ch, 4 * ch, 2 * ch, ch, colors]
  expected_g = (_dense(Z_DIM, seed)
                + sum(_conv(5, a, b) for a, b in zip(widths, widths[1:]))
                + sum(_norm(c, g_norm, nc) for c in widths[:-1]))
  assert _count(g) == expected_g
  d_widths = [colors, ch, 2 * ch, 4 * ch, 8 * ch]
  expected_d = (sum(_conv(5, a, b) for a, b in zip(d_widths, d_widths[1:]))
                + sum(2 * c for c in d_widths[2:])  # batch norm but on conv 1
                + _head((res // 16) ** 2 * 8 * ch, nc))
  assert _count(d) == expected_d


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
def test_sndcgan_parameter_count(g_norm, nc):
  res, colors, ch = 16, 3, CH
  g, d = _build_counted("sndcgan_arch", res, g_norm, nc)
  seed = (res // 8) ** 2 * 8 * ch
  widths = [8 * ch, 4 * ch, 2 * ch, ch]
  expected_g = (_dense(Z_DIM, seed) + _norm(seed, g_norm, nc)  # flat norm
                + sum(_conv(4, a, b) + _norm(b, g_norm, nc)
                      for a, b in zip(widths, widths[1:]))
                + _conv(3, ch, colors))
  assert _count(g) == expected_g
  d_widths = [colors] + [m * ch for m in (1, 2, 2, 4, 4, 8, 8)]
  kernels = [3, 4, 3, 4, 3, 4, 3]
  expected_d = (sum(_conv(k, a, b) for k, a, b in
                    zip(kernels, d_widths, d_widths[1:]))
                + _head((res // 8) ** 2 * 8 * ch, nc))
  assert _count(d) == expected_d
  # The discriminator has no normalization, whatever D.batch_norm_fn says.
  gin.clear_config()
  _, d_bn = _build_counted("sndcgan_arch", res, g_norm, nc, d_norm="batch_norm")
  assert _count(d_bn) == expected_d


def test_sndcgan_paper_channels_and_input_range():
  gin.parse_config("sndcgan.Discriminator.channel_multipliers = "
                   "(1, 1, 2, 2, 4, 4, 8)")
  _, d = _build_counted("sndcgan_arch", 16, None, 0)
  widths = [d.colors] + [m * CH for m in sndcgan.D_CHANNELS_PAPER]
  assert [int(c.kernel.shape[-1]) for c in d.convs] == widths[1:]
  assert [int(c.strides) for c in d.convs] == [1, 2, 1, 2, 1, 2, 1]
  # Images in [0, 1] are mapped to [-1, 1]: a mid-grey image becomes zeros,
  # so the first kernel cannot change D's output on it.
  x = tf.fill([2, 16, 16, 3], 0.5)
  logits = d(x, training=False)[1].numpy()
  d.convs[0].kernel.assign(tf.ones_like(d.convs[0].kernel))
  np.testing.assert_array_equal(d(x, training=False)[1].numpy(), logits)
  assert np.abs(d(x + 0.1, training=False)[1].numpy() - logits).max() > 0
  with pytest.raises(ValueError, match="channel_multipliers"):
    sndcgan.Discriminator(resolution=16, colors=3, channel_multipliers=(1, 2))


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
@pytest.mark.parametrize("res,colors", [(28, 1), (32, 3)])
def test_infogan_parameter_count(g_norm, nc, res, colors):
  g, d = _build_counted("infogan_arch", res, g_norm, nc, d_norm="batch_norm",
                        colors=colors)
  g_norm = g_norm or "batch_norm"  # the original always batch-normalized G
  seed = (res // 4) ** 2 * 2 * CH
  expected_g = (_dense(Z_DIM, FC) + _norm(FC, g_norm, nc)
                + _dense(FC, seed) + _norm(seed, g_norm, nc)
                + _conv(4, 2 * CH, CH) + _norm(CH, g_norm, nc)
                + _conv(4, CH, colors))
  assert _count(g) == expected_g
  expected_d = (_conv(4, colors, CH) + _conv(4, CH, 2 * CH) + 2 * 2 * CH
                + _dense(seed, FC) + 2 * FC + _head(FC, nc))
  assert _count(d) == expected_d


def test_infogan_no_batch_norm_and_sigmoid_output():
  gin.parse_config("G.batch_norm_fn = @no_batch_norm")
  g, _ = _build_counted("infogan_arch", 28, None, 0)
  seed = 7 * 7 * 2 * CH
  assert _count(g) == (_dense(Z_DIM, FC) + _dense(FC, seed)
                       + _conv(4, 2 * CH, CH) + _conv(4, CH, 1))
  # A large bias on the last layer saturates the sigmoid at 1.
  g.deconv4.bias.assign([50.0])
  x = g(tf.zeros([2, Z_DIM]), training=False).numpy()
  np.testing.assert_allclose(x, 1.0)


@pytest.mark.parametrize("g_norm,nc", NORM_CASES)
def test_mlp_parameter_count_and_unbounded_points(g_norm, nc):
  layers = 3
  g, d = _build_counted("mlp_arch", 1, g_norm, nc)
  expected_g = (_dense(Z_DIM, HIDDEN) + (layers - 1) * _dense(HIDDEN, HIDDEN)
                + layers * _norm(HIDDEN, g_norm, nc) + _dense(HIDDEN, 2))
  assert _count(g) == expected_g
  expected_d = (_dense(2, HIDDEN) + (layers - 1) * _dense(HIDDEN, HIDDEN)
                + _head(HIDDEN, nc))
  assert _count(d) == expected_d
  # The output layer is linear: its bias moves the points anywhere.
  g.fc_out.bias.assign([5.0, -5.0])
  y = _labels(BATCH) if nc else None
  x = g(tf.zeros([BATCH, Z_DIM]), y, training=False).numpy()
  assert x.shape == (BATCH, 1, 1, 2)
  np.testing.assert_allclose(x[:, 0, 0], np.tile([[5.0, -5.0]], (BATCH, 1)),
                             atol=0.5)
  # D also takes plain [B, 2] points.
  assert tuple(d(x[:, 0, 0], y, training=False)[1].shape) == (BATCH, 1)


def test_mlp_num_hidden_layers():
  gin.parse_config("mlp.Generator.num_hidden_layers = 1\n"
                   "mlp.Discriminator.num_hidden_layers = 2")
  g, d = _build_counted("mlp_arch", 1, None, 0)
  assert _count(g) == _dense(Z_DIM, HIDDEN) + _dense(HIDDEN, 2)
  assert _count(d) == _dense(2, HIDDEN) + _dense(HIDDEN, HIDDEN) + _head(HIDDEN, 0)
  with pytest.raises(ValueError, match="num_hidden_layers"):
    mlp.Generator(resolution=1, colors=2, z_dim=2, num_hidden_layers=0)
