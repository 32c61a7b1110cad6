"""Mixed precision (`run_config.mixed_precision`, Keras "mixed_bfloat16"): the
layers compute in bfloat16 while every variable is float32, and the state that
is updated by running averages or iterations (spectral norm's u, batch norm's
moving statistics, ProGAN's lod, the EMA generator) is computed in float32."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.gans import S3GAN, SSGAN, ModularGAN, ProgressiveGAN, make_step_inputs
from compare_gan2.ops import spectral_norm as sn
from compare_gan2.ops.layers import Linear
from compare_gan2.ops.normalization import StandardizeBatch
from tiny_configs import tiny

Z_DIM = 8
NUM_CLASSES = 3


class _Read(keras.layers.Layer):
  """Returns a variable as read inside a bfloat16 layer's call (where Keras
  autocasts float variables unless they are made with autocast=False)."""

  def __init__(self, variable, **kwargs):
    super().__init__(dtype="mixed_bfloat16", **kwargs)
    self.variable = variable

  def call(self, x):
    del x
    return tf.convert_to_tensor(self.variable)


def read_in_bfloat16_layer(variable):
  return _Read(variable)(tf.zeros([1]))


def bfloat16_representable(x):
  x = np.asarray(x, np.float32)
  return np.array_equal(x, tf.cast(tf.cast(x, tf.bfloat16), tf.float32).numpy())


@pytest.fixture
def mixed_policy():
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy("mixed_bfloat16")
  yield
  keras.config.set_dtype_policy(previous)


def test_standardize_batch_statistics_in_float32(mixed_policy):
  """Moving averages follow the float32 recurrence m <- d m + (1 - d) mean of
  the float32 batch moments; in bfloat16 they stalled (0.999 m + 0.001 mean
  rounds back to m: a moving mean of 0.25 where 0.75 was due)."""
  decay, steps = 0.999, 1000
  layer = StandardizeBatch(decay=decay, epsilon=1e-5)
  rng = np.random.RandomState(0)
  x = tf.cast(rng.randn(32, 4).astype(np.float32) * 0.1 + 0.8, tf.bfloat16)
  out = layer(x, training=True)
  assert out.dtype == tf.bfloat16
  step = tf.function(lambda x: layer(x, training=True))
  for _ in range(steps - 1):
    step(x)
  x64 = tf.cast(x, tf.float64).numpy()
  mean, var = x64.mean(0), x64.var(0)
  m, v = np.zeros(4), np.ones(4)
  for _ in range(steps):
    m, v = decay * m + (1 - decay) * mean, decay * v + (1 - decay) * var
  np.testing.assert_allclose(layer.moving_mean.numpy(), m, rtol=1e-4)
  np.testing.assert_allclose(layer.moving_variance.numpy(), v, rtol=1e-4)
  # Normalised in float32 with the float32 moments, then rounded once.
  expected = (x64 - mean) / np.sqrt(var + 1e-5)
  np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), expected, atol=2e-2)
  for w in layer.weights:
    assert read_in_bfloat16_layer(w).dtype == tf.float32, w.path


def test_spectral_norm_power_iteration_in_float32(mixed_policy):
  """One power iteration on the (bfloat16) kernel used by the layer, in float32:
  u' = normalize(normalize(u W^T) W), sigma = v W u'^T, computed in numpy."""
  layer = Linear(6, use_sn=True, singular_value="right")
  x = tf.ones([2, 5])
  layer(x, training=False)
  u0 = layer.u.numpy().astype(np.float64)  # (1, 6)
  out = layer(x, training=True)
  assert out.dtype == tf.bfloat16
  w = tf.cast(tf.cast(layer.kernel, tf.bfloat16), tf.float64).numpy()  # (5, 6)
  v = u0 @ w.T
  v /= np.linalg.norm(v)
  u1 = v @ w
  u1 /= np.linalg.norm(u1)
  np.testing.assert_allclose(layer.u.numpy(), u1, rtol=1e-5, atol=1e-6)
  assert not bfloat16_representable(layer.u.numpy())
  assert read_in_bfloat16_layer(layer.u).dtype == tf.float32
  # Inference: v from the stored u, sigma = v W u^T.
  v = u1 @ w.T
  v /= np.linalg.norm(v)
  sigma = (v @ w @ u1.T).item()
  kernel = sn.spectral_normalize(tf.cast(layer.kernel, tf.bfloat16), layer.u, "right",
                                 training=False)
  assert kernel.dtype == tf.bfloat16
  np.testing.assert_allclose(tf.cast(kernel, tf.float64).numpy(), w / sigma, rtol=1e-2)


# --- Every GAN class, through its training step --------------------------------------

def _dcgan(conditional, bindings=()):
  resolution, colors, lines = tiny("dcgan_arch")
  gin.parse_config(lines + ["D.spectral_norm = True",
                            "G.batch_norm_fn = @conditional_batch_norm" if conditional
                            else "G.batch_norm_fn = @batch_norm", *bindings])
  keras.utils.set_random_seed(0)
  return architectures.build("dcgan_arch", resolution=resolution, colors=colors,
                             z_dim=Z_DIM, num_classes=NUM_CLASSES if conditional else 0,
                             mixed_precision=True)


def _modular():
  g, d = _dcgan(False)
  return ModularGAN(generator=g, discriminator=d, g_use_ema=True, ema_start_step=0,
                    ema_decay=0.9)


def _ssgan():
  g, d = _dcgan(False)
  return SSGAN(generator=g, discriminator=d, g_use_ema=True, ema_start_step=0,
               ema_decay=0.9)


def _s3gan():
  g, d = _dcgan(True, ["dcgan.Discriminator.project_y = False"])
  return S3GAN(generator=g, discriminator=d, num_classes=NUM_CLASSES, project_y=True,
               use_predictor=True, self_supervision="rotation", g_use_ema=True,
               ema_start_step=0, ema_decay=0.9)


def _progan():
  gin.parse_config(["progan.Generator.fmap_base = 64", "progan.Generator.fmap_max = 8",
                    "progan.Discriminator.fmap_base = 64",
                    "progan.Discriminator.fmap_max = 8"])
  keras.utils.set_random_seed(0)
  g, d = architectures.build("progan_arch", resolution=8, colors=3, z_dim=Z_DIM,
                             mixed_precision=True)
  # 8 images a step; 4 at 4x4, then a fade of 12: the second step runs at lod
  # 1 - 4/12 (the step sets lod from the images seen before it).
  return ProgressiveGAN(generator=g, discriminator=d, training_kimg=0.004,
                        transition_kimg=0.012, ema_start_step=0, ema_decay=0.9)


GANS = {"ModularGAN": _modular, "SSGAN": _ssgan, "S3GAN": _s3gan,
        "ProgressiveGAN": _progan}


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("name", sorted(GANS))
def test_gan_trains_in_bfloat16_with_float32_state(name):
  gan = GANS[name]()
  g, d = gan.generator, gan.discriminator
  strategy = tf.distribute.get_strategy()
  rng = np.random.RandomState(0)
  batch = 8
  for step in range(2):
    images = rng.rand(batch, g.resolution, g.resolution, g.colors).astype(np.float32)
    # S3GAN: -1 marks unlabelled reals.
    labels = rng.randint(-1 if gan.num_classes else 0, max(gan.num_classes, 1), batch)
    features = make_step_inputs(images, labels, disc_iters=1, z_dim=Z_DIM,
                                num_classes=gan.num_classes, seed=0, step=step)
    metrics = gan.distributed_train_step(strategy, features)
    for key, value in metrics.items():
      assert np.all(np.isfinite(value.numpy())), (key, value)
  # bfloat16 compute, float32 storage everywhere.
  for net in (g, d, gan.ema_generator):
    assert {l.compute_dtype for l in net._flatten_layers() if l.weights} == {"bfloat16"}
  variables = (g.weights + d.weights + gan.ema_generator.weights
               + [w for h in gan.heads.values() for w in h.weights]
               + gan.g_optimizer.variables + gan.d_optimizer.variables)
  bad = [v.path for v in variables if v.dtype not in ("float32", "int64", tf.float32,
                                                      tf.int64)]
  assert not bad
  # The iterated state is read as float32 inside bfloat16 layers, and holds
  # values a bfloat16 update could not have produced.
  state = {}
  for w in g.weights + d.weights:
    leaf = w.path.rsplit("/", 1)[-1]
    if leaf in ("u", "moving_mean", "moving_variance", "lod"):
      state.setdefault(leaf, []).append(w)
  expected = {"lod"} if name == "ProgressiveGAN" else {"u", "moving_mean",
                                                        "moving_variance"}
  assert set(state) == expected
  for leaf, ws in state.items():
    for w in ws:
      assert read_in_bfloat16_layer(w).dtype == tf.float32, w.path
    if leaf != "lod":
      assert not bfloat16_representable(np.concatenate([w.numpy().ravel() for w in ws])), leaf
  if name == "ProgressiveGAN":
    # The fade into 8x8 (a lod that is no bfloat16 number).
    assert float(g.lod.numpy()) == pytest.approx(1 - 4 / 12, abs=1e-6)
  # The EMA is computed in float32 on the float32 weights.
  ema = [e.numpy() for e, w in zip(gan.ema_generator.weights, g.weights) if w.trainable]
  assert not bfloat16_representable(np.concatenate([e.ravel() for e in ema]))
