"""The shipped configs that name a compare_gan original build the original's
networks: trainable parameter counts at the config's real resolution and
widths, derived layer by layer from the original code (written out below,
not computed by the library), plus the pinned behaviours; and both settings
of every knob that keeps a modern default beside the original's behaviour.

References are to /work/originals/google+compare_gan/compare_gan/.
"""


import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
import compare_gan2.runner  # noqa: F401  (registers run_config)
from compare_gan2 import cli
from compare_gan2.core import config
from compare_gan2.architectures import base
from compare_gan2.data.factory import get_dataset
from compare_gan2.ops import Conv2D, Deconv2D, ResNetBlock, normalization
from compare_gan2.ops.layers import _NormalizedKernelLayer
from compare_gan2.core.registry import GANS
from compare_gan2.runner.sampler import standing_batches
from compare_gan2.runner.settings import run_config
from compare_gan2.runner.train import _gan_is_conditional
from compare_gan2.core import config_files


# --- The original's layers (arch_ops.py), as parameter counts. -------------

def linear(n_in, n_out, bias=True):
  """arch_ops.linear: kernel [in, out] + bias [out]."""
  return n_in * n_out + (n_out if bias else 0)


def conv(k, c_in, c_out, bias=True):
  """arch_ops.conv2d: kernel [k, k, in, out] + bias [out]."""
  return k * k * c_in * c_out + (c_out if bias else 0)


def deconv(k, c_in, c_out):
  """arch_ops.deconv2d: kernel [k, k, out, in] + bias [out]."""
  return k * k * c_out * c_in + c_out


def batch_norm(c):
  """arch_ops.batch_norm: gamma [c] + beta [c]."""
  return 2 * c


def cond_batch_norm(c, cond_dim):
  """arch_ops.conditional_batch_norm (use_bias=False): gamma, beta linear."""
  return 2 * cond_dim * c


def non_local(c):
  """arch_ops.non_local_block: theta, phi (c -> c/8), g (c -> c/2), attn_g
  (c/2 -> c), all 1x1 without bias, and the scalar sigma."""
  return (c * (c // 8) + c * (c // 8) + c * (c // 2) + (c // 2) * c) + 1


def resnet_block(c_in, c_out, norm, shortcut):
  """resnet_ops.ResNetBlock: bn1(in), conv1 3x3 in->out, bn2(out), conv2 3x3
  out->out, and a shortcut conv in->out of kernel `shortcut` (0: none)."""
  return (norm(c_in) + conv(3, c_in, c_out) + norm(c_out) + conv(3, c_out, c_out)
          + (conv(shortcut, c_in, c_out) if shortcut else 0))


no_norm = lambda c: 0  # noqa: E731  (D.batch_norm_fn unset: no normalization)


# --- The original's networks at the shipped configs' settings. -------------

def biggan128(num_classes=1000, z_dim=120, ch=96, embed_y_dim=128, project_y=True):
  """resnet_biggan.py at 128 px: conditional BN in G (on z chunk + embedded
  y), 1x1 shortcuts in G; D drops the shortcut where the width stays."""
  g_mult = [16, 16, 8, 4, 2, 1]
  g_in = [ch * m for m in g_mult[:-1]]
  g_out = [ch * m for m in g_mult[1:]]
  chunk = z_dim // (len(g_in) + 1)             # hierarchical_z: 6 chunks of 20
  cond = chunk + embed_y_dim                   # y_per_block = concat(z_i, embed(y))
  g = linear(num_classes, embed_y_dim, bias=False)          # embed_y
  g += linear(chunk, g_in[0] * 4 * 4)                       # fc_noise
  for i, (a, b) in enumerate(zip(g_in, g_out)):
    g += resnet_block(a, b, lambda c: cond_batch_norm(c, cond), shortcut=1)
    if i == 3:                                              # "B4"
      g += non_local(b)
  g += batch_norm(ch) + conv(3, ch, 3)                      # final_norm, final_conv
  d_out = [ch * m for m in [1, 2, 4, 8, 16, 16]]
  d_in = [3] + d_out[:-1]
  d = 0
  for i, (a, b) in enumerate(zip(d_in, d_out)):
    d += resnet_block(a, b, no_norm, shortcut=1 if a != b else 0)
    if i == 0:                                              # "B1"
      d += non_local(b)
  d += linear(d_out[-1], 1)                                 # final_fc
  if project_y:
    d += linear(num_classes, d_out[-1], bias=False)         # embedding_fc
  return g, d


def resnet_cifar(z_dim=128):
  """resnet_cifar.py, unconditional, G.batch_norm_fn = batch_norm."""
  g = linear(z_dim, 4 * 4 * 256)
  g += 3 * resnet_block(256, 256, batch_norm, shortcut=3)
  g += batch_norm(256) + conv(3, 256, 3)
  d = resnet_block(3, 128, no_norm, shortcut=3)
  d += 3 * resnet_block(128, 128, no_norm, shortcut=3)
  d += linear(128, 1)                                       # project_y = False
  return g, d


def resnet5_128(z_dim=128, ch=64):
  """resnet5.py at 128 px, unconditional, G.batch_norm_fn = batch_norm."""
  gw = [ch * m for m in (8, 8, 4, 4, 2, 1)]
  g = linear(z_dim, 4 * 4 * gw[0])
  g += sum(resnet_block(a, b, batch_norm, shortcut=3) for a, b in zip(gw, gw[1:]))
  g += batch_norm(ch) + conv(3, ch, 3)
  dw = [ch * m for m in (1, 2, 4, 4, 8, 8)]
  d = resnet_block(3, ch, no_norm, shortcut=3)              # B0
  d += sum(resnet_block(a, b, no_norm, shortcut=3) for a, b in zip(dw, dw[1:]))
  d += linear(dw[-1], 1)
  return g, d


def sndcgan128(z_dim=128, resolution=128):
  """sndcgan.py at 128 px (or `resolution`): g_bn1 normalizes the flat
  linear output."""
  s8 = resolution // 8
  g = linear(z_dim, s8 * s8 * 512) + batch_norm(s8 * s8 * 512)
  g += deconv(4, 512, 256) + batch_norm(256)
  g += deconv(4, 256, 128) + batch_norm(128)
  g += deconv(4, 128, 64) + batch_norm(64)
  g += deconv(3, 64, 3)
  d = (conv(3, 3, 64) + conv(4, 64, 128) + conv(3, 128, 128) + conv(4, 128, 256)
       + conv(3, 256, 256) + conv(4, 256, 512) + conv(3, 512, 512))
  d += linear(s8 * s8 * 512, 1)
  return g, d


def dcgan64(z_dim=128):
  """dcgan.py at 64 px (gf_dim = df_dim = 64), D without normalization."""
  s16 = 64 // 16
  g = linear(z_dim, 64 * 8 * s16 * s16) + batch_norm(512)
  g += deconv(5, 512, 256) + batch_norm(256)
  g += deconv(5, 256, 128) + batch_norm(128)
  g += deconv(5, 128, 64) + batch_norm(64)
  g += deconv(5, 64, 3)
  d = conv(5, 3, 64) + conv(5, 64, 128) + conv(5, 128, 256) + conv(5, 256, 512)
  d += linear(s16 * s16 * 512, 1)
  return g, d


# config -> (architecture, resolution, num_classes, expected (G, D) counts)
CONFIGS = {
    "biggan_imagenet128": ("resnet_biggan_arch", 128, 1000, biggan128()),
    "fewer_labels/imagenet128_base": ("resnet_biggan_arch", 128, 1000, biggan128()),
    # S3GAN projects with its own head (s3gan.py), so D's embedding_fc is off.
    "fewer_labels/imagenet128_s3gan_co_10pct": ("resnet_biggan_arch", 128, 1000,
                                                biggan128(project_y=False)),
    "resnet_cifar10": ("resnet_cifar_arch", 32, 0, resnet_cifar()),
    "ssgan_cifar10": ("resnet_cifar_arch", 32, 0, resnet_cifar()),
    "resnet_lsun-bedroom128": ("resnet5_arch", 128, 0, resnet5_128()),
    "sndcgan_celebahq128": ("sndcgan_arch", 128, 0, sndcgan128()),
    "bcr_sndcgan_cifar10": ("sndcgan_arch", 32, 0, sndcgan128(resolution=32)),
    "dcgan_celeba64": ("dcgan_arch", 64, 0, dcgan64()),
}
# BigGAN 128 px (~70M + ~88M parameters) takes tens of seconds on a CPU.
SLOW = {"biggan_imagenet128", "fewer_labels/imagenet128_base",
        "fewer_labels/imagenet128_s3gan_co_10pct"}


def _build(name):
  """Parses a shipped config; builds its G and D as the runner would, but with
  N(0, 0.02) init: counts do not depend on it, and orthogonal init of BigGAN's
  158M weights takes minutes on a CPU (the config's own value is checked)."""
  compare_gan2.parse_gin([config_files.resolve_config(name)], [])
  try:
    _build.initializer = gin.query_parameter("weights.initializer")
  except ValueError:  # not bound: the library's default
    _build.initializer = "normal"
  with gin.unlock_config():
    gin.bind_parameter("weights.initializer", "normal")
  options = config.options()
  dataset = get_dataset(fake=True)
  conditional = _gan_is_conditional(GANS.name_of(options["gan_class"]))
  return options, dataset, base.build(
      options["architecture"], resolution=dataset.resolution,
      colors=dataset.colors, z_dim=options["z_dim"],
      num_classes=dataset.num_classes if conditional else 0)


def _count(model):
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def _layers(model, kind):
  return [l for l in model._flatten_layers() if isinstance(l, kind)]  # noqa: SLF001


def _params(name):
  return pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name


@pytest.mark.parametrize("name", [_params(n) for n in sorted(CONFIGS)])
def test_config_builds_the_originals_networks(name):
  arch, resolution, num_classes, (g_expected, d_expected) = CONFIGS[name]
  options, dataset, (g, d) = _build(name)
  assert options["architecture"] == arch
  assert (dataset.resolution, g.num_classes) == (resolution, num_classes)
  assert (_count(g), _count(d)) == (g_expected, d_expected)

  # Pinned everywhere: the original's spectral norm, upsampling and norms.
  side = "auto" if arch == "resnet_biggan_arch" else "left"
  assert gin.query_parameter("spectral_norm.singular_value") == side
  assert gin.query_parameter("spectral_norm.deconv_matrix") == "original"
  assert gin.query_parameter("upsample.method") == "unpool"
  assert gin.query_parameter("conditional_batch_norm.gamma_offset") is False
  assert gin.query_parameter("self_modulated_batch_norm.use_y") is False
  # compare_gan's model_fn: the G step trains on the last D step's latents.
  assert gin.query_parameter("ModularGAN.g_step_reuses_d_latents") is True
  for layer in _layers(g, _NormalizedKernelLayer) + _layers(d, _NormalizedKernelLayer):
    assert layer.singular_value == side
    if isinstance(layer, Deconv2D):
      assert layer.deconv_matrix == "original"
  for cbn in _layers(g, normalization.ConditionalBatchNorm):
    assert cbn.gamma_offset is False
  blocks = _layers(g, ResNetBlock) + _layers(d, ResNetBlock)
  assert all(b.upsample_method == "unpool" for b in blocks)
  if arch == "resnet_biggan_arch":
    # 1x1 shortcuts; D's width-keeping last block adds no shortcut at all.
    assert {b.conv_shortcut.kernel_size for b in blocks if b.conv_shortcut} == {1}
    assert [b.add_shortcut for b in d.blocks] == [True] * 5 + [False]
    assert (d.embedding_fc is not None) == ("s3gan" not in name)
    assert _build.initializer == "orthogonal"
    assert gin.query_parameter("run_config.num_accu_examples") == 204800
    assert gin.query_parameter("run_config.standing_batch_size") == 64
  elif blocks:
    # resnet_ops.ResNetBlock: a 3x3 conv shortcut in every block.
    assert all(b.conv_shortcut is not None and b.conv_shortcut.kernel_size == 3
               for b in blocks)
  if not dataset.num_classes or not g.num_classes:
    assert getattr(d, "embedding_fc", None) is None


@pytest.mark.parametrize("name", ["resnet_cifar10", "resnet_lsun-bedroom128"])
def test_resnet_configs_end_in_sigmoid(name):
  _, _, (g, _) = _build(name)
  # Only the final conv's bias left: every pixel is sigmoid(bias).
  g.final_conv.kernel.assign(tf.zeros_like(g.final_conv.kernel))
  g.final_conv.bias.assign([0.7, -1.3, 2.0])
  images = g(tf.random.normal([2, g.z_dim]), None, training=False).numpy()
  expected = 1.0 / (1.0 + np.exp(-np.array([0.7, -1.3, 2.0])))
  np.testing.assert_allclose(images, np.broadcast_to(expected, images.shape),
                             rtol=1e-5)


# --- Both settings of each knob. --------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("module, arch, resolution", [
    ("resnet_cifar", "resnet_cifar_arch", 32), ("resnet_stl", "resnet_stl_arch", 48),
    ("resnet5", "resnet5_arch", 32), ("resnet30", "resnet30_arch", 128)])
def test_output_activation_knob(module, arch, resolution, activation):
  gin.parse_config(f"""
      {module}.Generator.ch = 4
      {module}.Discriminator.ch = 4
      {module}.Generator.output_activation = "{activation}"
  """)
  g, _ = base.build(arch, resolution=resolution, colors=3, z_dim=8)
  g.final_conv.kernel.assign(tf.zeros_like(g.final_conv.kernel))
  b = np.array([0.7, -1.3, 2.0])
  g.final_conv.bias.assign(b)
  images = g(tf.zeros([1, 8]), None, training=False).numpy()
  x = b if activation == "sigmoid" else 2 * b   # (tanh(x) + 1) / 2 = sigmoid(2x)
  np.testing.assert_allclose(images[0, 0, 0], 1 / (1 + np.exp(-x)), rtol=1e-5)


def test_output_activation_unknown_raises():
  gin.parse_config('resnet_cifar.Generator.output_activation = "relu"')
  with pytest.raises(ValueError, match="relu"):
    base.build("resnet_cifar_arch", resolution=32, colors=3, z_dim=8)


@pytest.mark.parametrize("kernel", [1, 3])
def test_shortcut_kernel_knob_and_counts(kernel):
  gin.parse_config(f"""
      resnet_cifar.Generator.ch = 4
      resnet_cifar.Discriminator.ch = 4
      resnet_cifar.Generator.shortcut_kernel = {kernel}
      resnet_cifar.Discriminator.shortcut_kernel = {kernel}
  """)
  g, d = base.build("resnet_cifar_arch", resolution=32, colors=3, z_dim=8)
  assert {b.conv_shortcut.kernel_size for b in g.blocks + d.blocks} == {kernel}
  g_exp = linear(8, 16 * 4) + 3 * (conv(3, 4, 4) * 2 + conv(kernel, 4, 4)) + conv(3, 4, 3)
  d_exp = (conv(3, 3, 4) + conv(3, 4, 4) + conv(kernel, 3, 4)
           + 3 * (2 * conv(3, 4, 4) + conv(kernel, 4, 4)) + linear(4, 1))
  assert (_count(g), _count(d)) == (g_exp, d_exp)


def test_shortcut_kernel_3_matches_numpy():
  """A 3x3 shortcut, SAME padding, of a "none" block (conv2 zeroed)."""
  rng = np.random.RandomState(0)
  x = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
  block = ResNetBlock(3, "none", shortcut="conv", shortcut_kernel=3)
  block(x)
  block.conv2.kernel.assign(tf.zeros_like(block.conv2.kernel))
  w = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
  block.conv_shortcut.kernel.assign(w)
  out = block(x).numpy() - block.conv2.bias.numpy()
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  expected = np.zeros((1, 4, 4, 3))
  for i in range(4):
    for j in range(4):
      expected[0, i, j] = np.einsum("hwc,hwco->o", padded[0, i:i + 3, j:j + 3], w)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match="shortcut_kernel"):
    ResNetBlock(3, shortcut_kernel=2)


@pytest.mark.parametrize("shortcut", ["auto", "drop"])
def test_biggan_discriminator_shortcut_knob(shortcut):
  x = np.random.RandomState(1).normal(size=(2, 4, 4, 8)).astype(np.float32)
  block = ResNetBlock(8, "none", shortcut=shortcut)
  block(x)
  block.conv2.kernel.assign(tf.zeros_like(block.conv2.kernel))
  out = block(x).numpy() - block.conv2.bias.numpy()
  # "drop" (the original's add_shortcut=False) leaves only the residual.
  np.testing.assert_allclose(out, x if shortcut == "auto" else 0 * x, atol=1e-6)
  gin.parse_config(f'resnet_biggan.Discriminator.shortcut = "{shortcut}"\n'
                   "resnet_biggan.Discriminator.ch = 4")
  from compare_gan2.architectures import resnet_biggan
  d = resnet_biggan.Discriminator(resolution=32, colors=3, **base.discriminator_options(),
                                  **resnet_biggan.base.ARCHITECTURES.get(
                                      "resnet_biggan_arch").discriminator_options())
  assert {b.shortcut for b in d.blocks} == {shortcut}


@pytest.mark.parametrize("use_y", [False, True])
def test_self_modulated_batch_norm_use_y_knob(use_y):
  gin.parse_config(f"self_modulated_batch_norm.use_y = {use_y}")
  layer = normalization.make_normalization("self_modulated_batch_norm", "s")
  rng = np.random.RandomState(2)
  x = tf.constant(rng.normal(size=(4, 2, 2, 3)), tf.float32)
  z = rng.normal(size=(4, 5)).astype(np.float32)
  y = rng.normal(size=(4, 2)).astype(np.float32)
  out = layer(x, y=y, z=z, training=True).numpy()
  # The original (arch_ops.self_modulated_batch_norm) sees z only.
  assert layer.hidden.kernel.shape[0] == 5 + (2 if use_y else 0)
  cond = np.concatenate([z, y], 1) if use_y else z
  h = np.maximum(cond @ layer.hidden.kernel.numpy() + layer.hidden.bias.numpy(), 0)
  gamma = h @ layer.gamma.kernel.numpy() + layer.gamma.bias.numpy()
  beta = h @ layer.beta.kernel.numpy() + layer.beta.bias.numpy()
  xn = x.numpy()
  mean, var = xn.mean((0, 1, 2)), xn.var((0, 1, 2))
  expected = (xn - mean) / np.sqrt(var + 1e-3) * gamma[:, None, None] + beta[:, None, None]
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_unconditional_biggan_self_modulation_sees_its_z_chunk_only():
  gin.parse_config("""
      G.batch_norm_fn = @self_modulated_batch_norm
      resnet_biggan.Generator.ch = 4
      resnet_biggan.Discriminator.ch = 4
  """)
  g, _ = base.build("resnet_biggan_arch", resolution=32, colors=3, z_dim=20)
  chunk = 20 // (len(g.blocks) + 1)
  for block in g.blocks:
    assert block.bn1.hidden.kernel.shape[0] == chunk   # not [z_i, z_i]


def _np_unit(v):
  return v / max(np.linalg.norm(v), 1e-12)


@pytest.mark.parametrize("matrix", ["original", "output_last"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_deconv_spectral_norm_matrix_knob(matrix, side):
  gin.parse_config(f'spectral_norm.deconv_matrix = "{matrix}"\n'
                   f'spectral_norm.singular_value = "{side}"')
  rng = np.random.RandomState(3)
  layer = Deconv2D(3, 4, 2, use_sn=True)
  x = tf.constant(rng.normal(size=(1, 2, 2, 5)), tf.float32)
  layer(x)
  kernel = rng.normal(size=(4, 4, 5, 3))            # stored [k, k, in, out]
  layer.kernel.assign(kernel)
  if matrix == "original":
    # arch_ops.deconv2d's kernel is [k, k, out, in]; spectral_norm reshapes
    # it to (-1, in).
    w = kernel.transpose(0, 1, 3, 2).reshape(-1, 5)
  else:
    w = kernel.reshape(-1, 3)
  u0 = rng.normal(size=tuple(layer.u.shape))
  layer.u.assign(u0)
  got = layer.normalized_kernel(training=True).numpy()
  # One power iteration as arch_ops.spectral_norm.
  if side == "left":
    assert u0.shape == (w.shape[0], 1)
    v = _np_unit(w.T @ u0)
    u = _np_unit(w @ v)
    sigma = (u.T @ w @ v).item()
  else:
    assert u0.shape == (1, w.shape[1])
    v = _np_unit(u0 @ w.T)
    u = _np_unit(v @ w)
    sigma = (v @ w @ u.T).item()
  np.testing.assert_allclose(got, kernel / sigma, rtol=1e-4)
  assert Deconv2D.from_config(layer.get_config()).deconv_matrix == matrix


def test_deconv_matrix_unknown_raises():
  with pytest.raises(ValueError, match="sideways"):
    Deconv2D(3, deconv_matrix="sideways")
  gin.parse_config('spectral_norm.deconv_matrix = "sideways"')
  with pytest.raises(ValueError, match="sideways"):
    Deconv2D(3)


def test_singular_value_defaults_to_the_originals_left():
  layer = Conv2D(8, 3, use_sn=True)   # 18 rows > 8 columns: "auto" would be right
  layer(tf.zeros([1, 4, 4, 2]))
  assert layer.singular_value == "left" and tuple(layer.u.shape) == (18, 1)


@pytest.mark.parametrize("init", ["glorot_normal", "weights"])
def test_projection_embedding_initializer_knob(init):
  gin.parse_config(f"""
      resnet_cifar.Generator.ch = 4
      resnet_cifar.Discriminator.ch = 64
      resnet_cifar.Discriminator.embedding_initializer = "{init}"
      G.batch_norm_fn = @conditional_batch_norm
  """)
  _, d = base.build("resnet_cifar_arch", resolution=32, colors=3, z_dim=8,
                    num_classes=100)
  std = float(np.std(d.embedding_fc.kernel.numpy()))
  # glorot_normal: sqrt(2 / (100 + 64)) ~ 0.11; the original: N(0, 0.02).
  expected = 0.02 if init == "weights" else np.sqrt(2 / 164)
  assert std == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize("bindings, expected", [
    ([], (32, 16)),                                        # ours
    (["run_config.num_accu_examples = 204800",
      "run_config.standing_batch_size = 64"], (64, 3200)),  # the original's
    (["run_config.num_accu_examples = 100"], (32, 3)),
])
def test_standing_statistics_batches(bindings, expected):
  gin.parse_config("\n".join(bindings))
  assert standing_batches(run_config(), 32) == expected
  gin.clear_config()
  gin.parse_config("run_config.standing_batch_size = 0")
  with pytest.raises(ValueError, match="standing_batch_size"):
    run_config()
