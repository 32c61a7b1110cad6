"""What the compare_gan ResNets share: resnet_cifar, resnet_stl, resnet5 and
resnet30 (tiny widths; parameter counts checked against formulas); each one's
structure is checked in its own test file (test_resnet5.py, ...)."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.core import registry
from compare_gan2.architectures import base
from compare_gan2.architectures import resnet5, resnet30, resnet_cifar
from compare_gan2.ops import Conv2D, Linear, ResNetBlock
from resnet_cases import NUM_CLASSES, Z_DIM


BATCH = 2
COLORS = 3

# (registry name, gin module, resolution, tiny ch).
CASES = [
    ("resnet_cifar_arch", "resnet_cifar", 32, 8),
    ("resnet_stl_arch", "resnet_stl", 48, 4),
    ("resnet5_arch", "resnet5", 32, 4),
    ("resnet5_arch", "resnet5", 64, 4),
    ("resnet5_arch", "resnet5", 128, 4),
    ("resnet30_arch", "resnet30", 128, 4),
]


# --- Parameter counts, written out independently of the implementation. ---

def _linear(n_in, n_out, bias=True):
  return n_in * n_out + (n_out if bias else 0)


def _conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def _norm(c, norm, cond_dim):
  """Trainable parameters of one normalization of c channels."""
  if norm is None:
    return 0
  if norm == "batch_norm":
    return 2 * c
  return 2 * cond_dim * c  # conditional_batch_norm: gamma(y), beta(y), no bias


def _block(c_in, c_out, norm=None, cond_dim=0, conv_shortcut=True, k=1):
  """ResNet block: two norms, two 3x3 convs and a k x k conv shortcut (3x3
  in the original's resnet_ops.ResNetBlock, 1x1 by default here)."""
  return (_norm(c_in, norm, cond_dim) + _conv(3, c_in, c_out)
          + _norm(c_out, norm, cond_dim) + _conv(3, c_out, c_out)
          + (_conv(k, c_in, c_out) if conv_shortcut else 0))


def _chain(widths, identity_shortcuts=False, k=1, **norm):
  """Blocks widths[i] -> widths[i + 1]; with `identity_shortcuts`, blocks
  that keep the width have none (only resnet30's keep the resolution too)."""
  return sum(_block(a, b, conv_shortcut=not identity_shortcuts or a != b,
                    k=k, **norm)
             for a, b in zip(widths[:-1], widths[1:]))


def _head(features, num_classes):
  return _linear(features, 1) + num_classes * features  # projection: no bias


def _resnet30_widths(ch, down):
  widths = [ch // 4 * 2**s for s in range(6)] if down else [
      8 * ch // 2**s for s in range(6)]
  out = [widths[0]]
  for w in widths:
    out += [w] * 5
    if w != widths[-1]:
      out.append(w * 2 if down else w // 2)
  return out


def expected_params(name, ch, z_dim, colors, num_classes, norm,
                    resnet30_shortcut="auto", k=1):
  """(G, D) trainable parameter counts (the same at every resolution); k is
  the shortcut kernel size."""
  n = dict(norm=norm, cond_dim=num_classes, k=k)
  final = lambda c: _norm(c, norm, num_classes) + _conv(3, c, colors)
  if name == "resnet_cifar_arch":
    g = _linear(z_dim, 16 * ch) + _chain([ch] * 4, **n) + final(ch)
    d = _chain([colors] + [ch] * 4, k=k) + _head(ch, num_classes)
  elif name == "resnet_stl_arch":
    g = (_linear(z_dim, 36 * 8 * ch) + _chain([8 * ch, 4 * ch, 2 * ch, ch], **n)
         + final(ch))
    d = (_chain([colors] + [m * ch for m in (1, 2, 4, 8, 16)], k=k)
         + _head(16 * ch, num_classes))
  elif name == "resnet5_arch":
    g = (_linear(z_dim, 16 * 8 * ch)
         + _chain([m * ch for m in (8, 8, 4, 4, 2, 1)], **n) + final(ch))
    d = (_chain([colors] + [m * ch for m in (1, 2, 4, 4, 8, 8)], k=k)
         + _head(8 * ch, num_classes))
  elif name == "resnet30_arch":
    identity = resnet30_shortcut == "auto"
    g = (_linear(z_dim, 16 * 8 * ch)
         + _chain(_resnet30_widths(ch, False), identity, **n)
         + _conv(3, ch // 4, colors))
    d = (_conv(3, colors, ch // 4)
         + _chain(_resnet30_widths(ch, True), identity, k=k)
         + _head(16 * 8 * ch, num_classes))
  else:
    raise ValueError(name)
  return g, d


def _count(model):
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def _labels(classes):
  return tf.one_hot(classes, NUM_CLASSES)


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("name,module,resolution,ch", CASES)
def test_build_shapes_range_and_parameter_count(name, module, resolution, ch,
                                                conditional):
  # The conditional runs take the original's 3x3 shortcuts, the others 1x1.
  k = 3 if conditional else 1
  gin.parse_config(f"""
      {module}.Generator.ch = {ch}
      {module}.Discriminator.ch = {ch}
      {module}.Generator.shortcut_kernel = {k}
      {module}.Discriminator.shortcut_kernel = {k}
  """)
  if conditional:
    gin.parse_config("G.batch_norm_fn = @conditional_batch_norm")
  else:
    gin.parse_config("G.batch_norm_fn = @batch_norm")
  num_classes = NUM_CLASSES if conditional else 0
  g, d = base.build(name, resolution=resolution, colors=COLORS, z_dim=Z_DIM,
                    num_classes=num_classes)
  assert (g.ch, d.ch) == (ch, ch)

  z = tf.random.uniform([BATCH, Z_DIM], -1.0, 1.0, seed=1)
  y = None
  if conditional:
    # One latent with two labels: the rows differ only if G and D use y.
    z = tf.tile(z[:1], [BATCH, 1])
    y = _labels([0, 2])
  for training in (False, True):
    images = g(z, y, training=training)
    assert images.shape == (BATCH, resolution, resolution, COLORS)
    assert float(tf.reduce_min(images)) >= 0.0
    assert float(tf.reduce_max(images)) <= 1.0
    if conditional:
      assert not np.array_equal(images[0], images[1])  # conditional norms
      images = tf.tile(images[:1], [BATCH, 1, 1, 1])
    probs, logits, h = d(images, y, training=training)
    assert probs.shape == (BATCH, 1) and logits.shape == (BATCH, 1)
    assert len(h.shape) == 2 and h.shape[0] == BATCH
    assert h.shape[1] == d.final_fc.kernel.shape[0]
    np.testing.assert_allclose(probs.numpy(), tf.sigmoid(logits).numpy(),
                               rtol=1e-6, atol=1e-7)
    if conditional:
      assert logits[0, 0] != logits[1, 0]  # projection

  norm = "conditional_batch_norm" if conditional else "batch_norm"
  assert (_count(g), _count(d)) == expected_params(
      name, ch, Z_DIM, COLORS, num_classes, norm, k=k)


# Non-default options per architecture: (name, resolution, ch, G, D).
ROUND_TRIP = {
    "resnet_cifar": ("resnet_cifar_arch", 32, 8,
                     {"hierarchical_z": True, "embed_z": True, "embed_y": True},
                     {"project_y": False}),
    "resnet_stl": ("resnet_stl_arch", 48, 4, {}, {"project_y": False}),
    "resnet5": ("resnet5_arch", 32, 4, {"channels": (4, 4, 2, 2, 1, 1)},
                {"channels": (1, 2, 2, 4, 4, 8), "project_y": False}),
    "resnet30": ("resnet30_arch", 128, 4, {"shortcut": "conv"},
                 {"shortcut": "conv", "project_y": False}),
}


def _bindings(scope, options):
  return "".join(f"{scope}.{k} = {v!r}\n" for k, v in options.items())


@pytest.mark.parametrize("module", sorted(ROUND_TRIP))
def test_gin_options_and_get_config_round_trip(module):
  name, resolution, ch, g_options, d_options = ROUND_TRIP[module]
  g_options, d_options = {"ch": ch, **g_options}, {"ch": ch, **d_options}
  gin.parse_config(_bindings(f"{module}.Generator", g_options)
                   + _bindings(f"{module}.Discriminator", d_options)
                   + "G.batch_norm_fn = @conditional_batch_norm\n"
                   + "G.spectral_norm = True\nD.spectral_norm = True\n"
                   + "D.layer_norm = True")
  # What base.build constructs, without the variables (slow to make).
  arch = registry.ARCHITECTURES.get(name)
  g = arch.generator(resolution=resolution, colors=1, z_dim=Z_DIM,
                     num_classes=NUM_CLASSES, **base.generator_options(),
                     **arch.generator_options())
  d = arch.discriminator(resolution=resolution, colors=1,
                         num_classes=NUM_CLASSES, **base.discriminator_options(),
                         **arch.discriminator_options())
  g_config, d_config = g.get_config(), d.get_config()
  for options, config in ((g_options, g_config), (d_options, d_config)):
    for key, value in options.items():
      expected = list(value) if isinstance(value, tuple) else value
      assert config[key] == expected, key
  assert g_config["batch_norm_fn"] == "conditional_batch_norm"
  assert (g_config["num_classes"], g_config["colors"]) == (NUM_CLASSES, 1)
  assert (g_config["resolution"], g_config["z_dim"]) == (resolution, Z_DIM)
  assert d_config["layer_norm"] and d.embedding_fc is None
  # Spectral norm reaches every block and every layer with a kernel.
  for model in (g, d):
    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, (Conv2D, Linear, ResNetBlock))]
    assert model.blocks and all(layer.use_sn for layer in layers)
  for model, config in ((g, g_config), (d, d_config)):
    clone = type(model).from_config(config)
    assert clone.get_config() == config


def test_invalid_options_raise():
  with pytest.raises(ValueError, match="z_dim must be divisible by 4"):
    resnet_cifar.Generator(resolution=32, colors=3, z_dim=10,
                           hierarchical_z=True)
  with pytest.raises(ValueError, match="positive multiple of 4.*ch=6"):
    resnet30.Generator(resolution=128, colors=3, z_dim=8, ch=6)
  with pytest.raises(ValueError, match="positive multiple of 4.*ch=0"):
    resnet30.Discriminator(resolution=128, colors=3, ch=0)
  with pytest.raises(ValueError, match="shortcut must be one of"):
    resnet30.Discriminator(resolution=128, colors=3, shortcut="none")
  with pytest.raises(ValueError, match="6 multipliers"):
    resnet5.Generator(resolution=128, colors=3, z_dim=8, channels=(8, 4, 2))
  for name, bad in (("resnet_cifar_arch", 64), ("resnet_stl_arch", 32),
                    ("resnet5_arch", 256), ("resnet30_arch", 64)):
    with pytest.raises(ValueError, match=f"resolution={bad}"):
      base.build(name, resolution=bad, colors=3, z_dim=8)


def test_unconditional_discriminator_has_no_projection():
  d = resnet_cifar.Discriminator(resolution=32, colors=3, ch=8)
  assert d.embedding_fc is None
  probs, logits, h = d(tf.zeros([BATCH, 32, 32, 3]))
  assert h.shape == (BATCH, 8)
