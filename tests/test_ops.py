"""Numerical tests of compare_gan2.ops against independent numpy computations."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import registry
from compare_gan2.ops import initializers
from compare_gan2.ops import normalization as norm
from compare_gan2.ops import resnet
from compare_gan2.ops import spectral_norm as sn
from compare_gan2.ops.attention import NonLocalBlock
from compare_gan2.ops.layers import Conv2D, Deconv2D, Linear, conv1x1


@pytest.fixture(autouse=True)
def seed():
  keras.utils.set_random_seed(1234)


def _rng(seed=0):
  return np.random.default_rng(seed)


def _np(t):
  return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


def _unit(v, eps=1e-12):
  return v / max(np.linalg.norm(v), eps)


def _holds(variables, variable):
  return any(v is variable for v in variables)


def _as_matrix(kernel):
  kernel = _np(kernel)
  return kernel.reshape(-1, kernel.shape[-1])


def _same_pads(size, k, s):
  out = -(-size // s)
  total = max((out - 1) * s + k - size, 0)
  return out, total // 2


def _np_conv2d_same(x, k, s=1):
  """Direct numpy SAME convolution: x [B, H, W, Ci], k [kh, kw, Ci, Co]."""
  b, h, w, _ = x.shape
  kh, kw, _, co = k.shape
  oh, pt = _same_pads(h, kh, s)
  ow, pl = _same_pads(w, kw, s)
  y = np.zeros((b, oh, ow, co))
  for i in range(oh):
    for j in range(ow):
      for di in range(kh):
        for dj in range(kw):
          r, c = i * s + di - pt, j * s + dj - pl
          if 0 <= r < h and 0 <= c < w:
            y[:, i, j] += x[:, r, c] @ k[di, dj]
  return y


def _np_deconv2d_same(x, k, s):
  """numpy transposed SAME convolution (the adjoint of a stride-s conv).

  x [B, H, W, Ci], k [kh, kw, Ci, Co] (our Deconv2D layout) -> [B, sH, sW, Co].
  """
  b, h, w, _ = x.shape
  kh, kw, _, co = k.shape
  oh, ow = h * s, w * s
  _, pt = _same_pads(oh, kh, s)
  _, pl = _same_pads(ow, kw, s)
  y = np.zeros((b, oh, ow, co))
  for i in range(h):
    for j in range(w):
      for di in range(kh):
        for dj in range(kw):
          r, c = i * s + di - pt, j * s + dj - pl
          if 0 <= r < oh and 0 <= c < ow:
            y[:, r, c] += x[:, i, j] @ k[di, dj]
  return y


def _np_maxpool2(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _np_avgpool2(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _np_standardize(x, mean, var, eps=1e-3):
  return (x - mean) / np.sqrt(var + eps)


def _np_moments(x):
  axes = tuple(range(x.ndim - 1))
  return x.mean(axes), x.var(axes)


# Layers with their input shapes; rows of the (-1, C_out) kernel matrix noted.
_SN_LAYERS = {
    "linear": (lambda **kw: Linear(12, **kw), (3, 20)),          # 20 x 12
    "conv": (lambda **kw: Conv2D(6, 3, **kw), (2, 5, 5, 4)),     # 36 x 6
    # The original's matrix of a transposed conv: [k, k, out, in] -> 45 x 4.
    "deconv": (lambda **kw: Deconv2D(5, 3, **kw), (2, 3, 3, 4)),
}


# ----------------------------------------------------------------- spectral norm


@pytest.mark.parametrize("side", ["left", "right", "auto"])
@pytest.mark.parametrize("layer_name", sorted(_SN_LAYERS))
def test_spectral_norm_converges_to_unit_singular_value(layer_name, side):
  gin.bind_parameter("spectral_norm.singular_value", side)
  make, shape = _SN_LAYERS[layer_name]
  layer = make(use_sn=True)
  x = tf.random.normal(shape)
  layer(x, training=False)
  # Scale the kernel so that an unnormalized kernel would clearly fail.
  layer.kernel.assign(layer.kernel * 50.0)
  for _ in range(50):
    layer(x, training=True)
  kernel = layer.normalized_kernel(training=False)
  if layer_name == "deconv":  # spectral_norm.deconv_matrix = "original"
    kernel = tf.transpose(kernel, [0, 1, 3, 2])
  w = _as_matrix(kernel)
  assert np.linalg.svd(w, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-2)


def test_spectral_norm_training_updates_u_and_inference_does_not():
  layer = Linear(8, use_sn=True)
  x = tf.random.normal((4, 16))
  layer(x, training=False)
  u0 = _np(layer.u)
  layer(x, training=False)
  layer(x)  # training=None counts as inference.
  layer.normalized_kernel(training=False)
  np.testing.assert_array_equal(_np(layer.u), u0)
  layer(x, training=True)
  assert not np.allclose(_np(layer.u), u0)
  # u is a unit vector after a training call.
  assert np.linalg.norm(_np(layer.u)) == pytest.approx(1.0, abs=1e-5)


def test_spectral_norm_u_is_not_trainable():
  layer = Linear(8, use_sn=True)
  layer(tf.zeros((1, 4)))
  assert _holds(layer.non_trainable_weights, layer.u)
  assert not _holds(layer.trainable_weights, layer.u)


@pytest.mark.parametrize("side, make, in_shape, expected", [
    ("left", lambda **kw: Linear(16, **kw), (1, 4), (4, 1)),
    ("right", lambda **kw: Linear(16, **kw), (1, 4), (1, 16)),
    ("auto", lambda **kw: Linear(16, **kw), (1, 4), (4, 1)),    # rows 4 < 16
    ("auto", lambda **kw: Linear(4, **kw), (1, 16), (1, 4)),    # C_out 4 < 16
    ("auto", lambda **kw: Conv2D(32, 3, **kw), (1, 4, 4, 2), (18, 1)),  # 18<32
    ("auto", lambda **kw: Conv2D(8, 3, **kw), (1, 4, 4, 2), (1, 8)),    # 8<18
    # The original's (5 * 5 * 3, 4) matrix of the [k, k, out, in] kernel.
    ("right", lambda **kw: Deconv2D(3, 5, **kw), (1, 2, 2, 4), (1, 4)),
    ("left", lambda **kw: Deconv2D(3, 5, **kw), (1, 2, 2, 4), (75, 1)),
])
def test_spectral_norm_u_shape(side, make, in_shape, expected):
  gin.bind_parameter("spectral_norm.singular_value", side)
  layer = make(use_sn=True)
  layer(tf.zeros(in_shape))
  assert tuple(layer.u.shape) == expected


def test_spectral_norm_unknown_singular_value_raises():
  gin.bind_parameter("spectral_norm.singular_value", "middle")
  with pytest.raises(ValueError, match="middle"):
    Linear(4, use_sn=True)
  gin.clear_config()
  layer = Linear(4, use_sn=True, singular_value="sideways")
  with pytest.raises(ValueError, match="sideways"):
    layer(tf.zeros((1, 3)))
  with pytest.raises(ValueError, match="sideways"):
    sn.resolve_side((3, 4), "sideways")


@pytest.mark.parametrize("side", ["left", "right"])
def test_spectral_norm_one_power_iteration_matches_numpy(side):
  rng = _rng(1)
  w = rng.normal(size=(6, 4))
  layer = Linear(4, use_sn=True, singular_value=side)
  x = rng.normal(size=(3, 6))
  layer(tf.constant(x, tf.float32), training=False)
  layer.kernel.assign(w)
  u = rng.normal(size=tuple(layer.u.shape))
  layer.u.assign(u)
  layer.bias.assign(rng.normal(size=(4,)))

  y = _np(layer(tf.constant(x, tf.float32), training=True))

  if side == "left":  # u over the rows (6), v over the columns (4).
    v = _unit(w.T @ u[:, 0])
    u_new = _unit(w @ v)
    sigma = u_new @ w @ v
    u_new = u_new[:, None]
  else:  # u over the columns (4), v over the rows (6).
    v = _unit(w @ u[0])
    u_new = _unit(w.T @ v)
    sigma = v @ w @ u_new
    u_new = u_new[None, :]
  np.testing.assert_allclose(_np(layer.u), u_new, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(y, x @ (w / sigma) + _np(layer.bias),
                             rtol=1e-4, atol=1e-5)
  # An inference call now uses the stored u: sigma from one more half-step.
  if side == "left":
    v2 = _unit(w.T @ u_new[:, 0])
    sigma2 = u_new[:, 0] @ w @ v2
  else:
    v2 = _unit(w @ u_new[0])
    sigma2 = v2 @ w @ u_new[0]
  np.testing.assert_allclose(_np(layer.normalized_kernel(training=False)),
                             w / sigma2, rtol=1e-5, atol=1e-6)


def test_spectral_norm_gradient_treats_u_and_v_as_constants():
  rng = _rng(2)
  w = rng.normal(size=(5, 3))
  u = rng.normal(size=(5, 1))
  g = rng.normal(size=(5, 3))
  kernel = tf.Variable(w, dtype=tf.float32)
  u_var = tf.Variable(u, dtype=tf.float32)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(
        sn.spectral_normalize(kernel, u_var, "left", training=False) * g)
  grad = _np(tape.gradient(loss, kernel))
  v = _unit(w.T @ u[:, 0])
  sigma = u[:, 0] @ w @ v
  # d/dW sum(G * W / sigma) with dsigma/dW = u v^T (u, v constant).
  expected = g / sigma - np.sum(g * w) / sigma**2 * np.outer(u[:, 0], v)
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ weight norm


@pytest.mark.parametrize("layer_name", sorted(_SN_LAYERS))
def test_weight_norm_columns_have_norm_g(layer_name):
  make, shape = _SN_LAYERS[layer_name]
  layer = make(use_wn=True)
  layer(tf.zeros(shape))
  g = _rng(3).uniform(0.5, 3.0, size=tuple(layer.g.shape))
  layer.g.assign(g)
  w = _as_matrix(layer.normalized_kernel())
  np.testing.assert_allclose(np.linalg.norm(w, axis=0), g, rtol=1e-5)
  # Direction unchanged.
  k = _as_matrix(layer.kernel)
  np.testing.assert_allclose(w, k / np.linalg.norm(k, axis=0) * g, rtol=1e-5)


def test_weight_norm_g_starts_at_one_and_is_trainable():
  layer = Linear(5, use_wn=True)
  layer(tf.zeros((1, 7)))
  np.testing.assert_array_equal(_np(layer.g), np.ones(5))
  assert _holds(layer.trainable_weights, layer.g)


@pytest.mark.parametrize("cls", [Linear, Conv2D, Deconv2D])
def test_spectral_and_weight_norm_are_exclusive(cls):
  with pytest.raises(ValueError, match="use_sn and use_wn"):
    cls(4, use_sn=True, use_wn=True)


# ----------------------------------------------------------------- initializers


def _kernel(units=256, inputs=256):
  layer = Linear(units)
  layer(tf.zeros((1, inputs)))
  return _np(layer.kernel), _np(layer.bias)


def test_initializer_normal_default():
  w, b = _kernel()
  assert w.std() == pytest.approx(0.02, rel=0.03)
  assert abs(w.mean()) < 1e-3
  assert np.abs(w).max() > 0.06  # untruncated: beyond 3 stddev in 65k draws
  np.testing.assert_array_equal(b, 0.0)


def test_initializer_stddev_binding():
  gin.bind_parameter("weights.stddev", 0.5)
  w, _ = _kernel()
  assert w.std() == pytest.approx(0.5, rel=0.03)


def test_initializer_truncated():
  gin.bind_parameter("weights.initializer", "truncated")
  w, _ = _kernel()
  assert np.abs(w).max() <= 2 * 0.02 + 1e-7
  # Truncating N(0, s) at 2s leaves a std of about 0.88 s.
  assert w.std() == pytest.approx(0.88 * 0.02, rel=0.05)


def test_initializer_orthogonal():
  gin.bind_parameter("weights.initializer", "orthogonal")
  w, _ = _kernel(64, 64)
  np.testing.assert_allclose(w.T @ w, np.eye(64), atol=1e-5)


def test_initializer_unknown_raises():
  gin.bind_parameter("weights.initializer", "xavier_magic")
  with pytest.raises(ValueError, match="xavier_magic"):
    Linear(4)
  with pytest.raises(ValueError, match="xavier_magic"):
    initializers.weight_initializer()


def test_initializer_explicit_overrides_gin():
  gin.bind_parameter("weights.initializer", "orthogonal")
  layer = Linear(3, kernel_initializer="ones")
  layer(tf.zeros((1, 2)))
  np.testing.assert_array_equal(_np(layer.kernel), np.ones((2, 3)))


# ----------------------------------------------------- Linear / Conv2D / Deconv2D


def _randomize(layer, rng):
  for v in layer.weights:
    v.assign(rng.normal(size=tuple(v.shape)))


def test_linear_matches_numpy():
  rng = _rng(4)
  layer = Linear(5, bias_start=0.7)
  x = rng.normal(size=(3, 4))
  y = _np(layer(tf.constant(x, tf.float32)))
  np.testing.assert_array_equal(_np(layer.bias), np.full(5, 0.7, np.float32))
  np.testing.assert_allclose(y, x @ _np(layer.kernel) + 0.7, rtol=1e-5,
                             atol=1e-6)
  no_bias = Linear(5, use_bias=False)
  no_bias(tf.zeros((1, 4)))
  assert [v.name for v in no_bias.weights] == ["kernel"]


def test_conv1x1_is_a_matmul_per_pixel():
  rng = _rng(5)
  layer = conv1x1(6)
  x = rng.normal(size=(2, 3, 5, 4))
  layer(tf.zeros(x.shape))
  _randomize(layer, rng)
  y = _np(layer(tf.constant(x, tf.float32)))
  assert y.shape == (2, 3, 5, 6)
  expected = x @ _np(layer.kernel)[0, 0] + _np(layer.bias)
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel_size, strides, hw", [
    (3, 1, (5, 6)), (3, 2, (8, 8)), (3, 2, (7, 5)), (4, 2, (6, 6))])
def test_conv2d_matches_numpy(kernel_size, strides, hw):
  rng = _rng(6)
  layer = Conv2D(3, kernel_size, strides)
  x = rng.normal(size=(2, *hw, 2))
  layer(tf.zeros(x.shape))
  _randomize(layer, rng)
  y = _np(layer(tf.constant(x, tf.float32)))
  expected = _np_conv2d_same(x, _np(layer.kernel), strides) + _np(layer.bias)
  assert y.shape == expected.shape
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel_size, strides", [(5, 2), (4, 2), (3, 1)])
def test_deconv2d_matches_numpy(kernel_size, strides):
  rng = _rng(7)
  layer = Deconv2D(3, kernel_size, strides)
  x = rng.normal(size=(2, 4, 3, 2))
  layer(tf.zeros(x.shape))
  assert tuple(layer.kernel.shape) == (kernel_size, kernel_size, 2, 3)
  _randomize(layer, rng)
  y = _np(layer(tf.constant(x, tf.float32)))
  assert y.shape == (2, 4 * strides, 3 * strides, 3)
  expected = _np_deconv2d_same(x, _np(layer.kernel), strides) + _np(layer.bias)
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_deconv2d_default_doubles_spatial_size_in_a_function():
  layer = Deconv2D(7)
  f = tf.function(lambda x: layer(x),
                  input_signature=[tf.TensorSpec([None, 4, 4, 3])])
  y = f(tf.zeros((2, 4, 4, 3)))
  assert tuple(y.shape) == (2, 8, 8, 7)
  assert f.get_concrete_function().structured_outputs.shape.as_list() == [
      None, 8, 8, 7]


@pytest.mark.parametrize("make, shape", [
    (lambda: Linear(3, use_sn=True, singular_value="right", bias_start=0.1),
     (2, 4)),
    (lambda: Conv2D(3, 1, 2, use_wn=True, use_bias=False), (2, 4, 4, 2)),
    (lambda: Deconv2D(3, 3, 2, use_sn=True), (2, 2, 2, 2)),
])
def test_layer_config_round_trip(make, shape):
  layer = make()
  x = tf.random.normal(shape)
  y = layer(x, training=False)
  config = layer.get_config()
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  clone(x, training=False)
  clone.set_weights(layer.get_weights())
  np.testing.assert_allclose(_np(clone(x, training=False)), _np(y), rtol=1e-6)
  restored = keras.saving.deserialize_keras_object(
      keras.saving.serialize_keras_object(layer))
  assert type(restored) is type(layer)
  assert restored.get_config() == config


# --------------------------------------------------------------- normalizations


def _bn_input(rng, shape=(8, 3, 3, 4)):
  # Channel means and scales far from 0 / 1 so that a wrong moment shows.
  return rng.normal(size=shape) * np.array([1.0, 2.0, 0.5, 3.0]) + np.array(
      [3.0, -1.0, 0.0, 10.0])


def test_standardize_batch_training_output():
  rng = _rng(8)
  x = _bn_input(rng)
  layer = norm.StandardizeBatch()
  y = _np(layer(tf.constant(x, tf.float32), training=True))
  mean, var = _np_moments(x)
  np.testing.assert_allclose(y, _np_standardize(x, mean, var), rtol=1e-4,
                             atol=1e-4)
  ym, yv = _np_moments(y)
  np.testing.assert_allclose(ym, 0.0, atol=1e-5)
  np.testing.assert_allclose(yv, var / (var + 1e-3), rtol=1e-4)


def test_standardize_batch_moving_averages_and_inference():
  rng = _rng(9)
  layer = norm.StandardizeBatch()
  assert layer.decay == 0.999 and layer.epsilon == 1e-3
  mm, mv = np.zeros(4), np.ones(4)
  for _ in range(3):
    x = _bn_input(rng)
    layer(tf.constant(x, tf.float32), training=True)
    mean, var = _np_moments(x)
    mm = 0.999 * mm + 0.001 * mean
    mv = 0.999 * mv + 0.001 * var
  np.testing.assert_allclose(_np(layer.moving_mean), mm, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(_np(layer.moving_variance), mv, rtol=1e-5)
  assert not _holds(layer.trainable_weights, layer.moving_mean)
  x = _bn_input(rng)
  y = _np(layer(tf.constant(x, tf.float32), training=False))
  np.testing.assert_allclose(y, _np_standardize(x, mm, mv), rtol=1e-4,
                             atol=1e-4)
  # Inference leaves the moving averages alone.
  np.testing.assert_allclose(_np(layer.moving_mean), mm, rtol=1e-5, atol=1e-7)


def test_standardize_batch_gin_decay_and_epsilon():
  gin.bind_parameter("standardize_batch.decay", 0.5)
  gin.bind_parameter("standardize_batch.epsilon", 0.25)
  rng = _rng(10)
  x = _bn_input(rng)
  layer = norm.StandardizeBatch()
  y = _np(layer(tf.constant(x, tf.float32), training=True))
  mean, var = _np_moments(x)
  np.testing.assert_allclose(y, _np_standardize(x, mean, var, 0.25),
                             rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(_np(layer.moving_mean), 0.5 * mean, rtol=1e-5,
                             atol=1e-6)
  # An explicit argument beats gin.
  assert norm.StandardizeBatch(decay=0.9).decay == 0.9


def test_standardize_batch_standing_statistics():
  gin.bind_parameter("standardize_batch.use_moving_averages", False)
  rng = _rng(11)
  layer = norm.StandardizeBatch()
  assert not layer.use_moving_averages
  layer(tf.zeros((8, 3, 3, 4)), training=True)  # builds; training ignores accu
  means, variances = [], []
  with norm.accumulate_standing_statistics():
    for _ in range(3):
      x = _bn_input(rng)
      y = _np(layer(tf.constant(x, tf.float32), training=False))
      mean, var = _np_moments(x)
      means.append(mean)
      variances.append(var)
      # While accumulating, inference normalizes with the batch's moments.
      np.testing.assert_allclose(y, _np_standardize(x, mean, var), rtol=1e-4,
                                 atol=1e-4)
  assert float(_np(layer.accu_counter)) == 3.0
  np.testing.assert_allclose(_np(layer.accu_mean), np.sum(means, 0), rtol=1e-5)
  np.testing.assert_allclose(_np(layer.accu_variance), np.sum(variances, 0),
                             rtol=1e-5)
  x = _bn_input(rng)
  y = _np(layer(tf.constant(x, tf.float32), training=False))
  expected = _np_standardize(x, np.mean(means, 0), np.mean(variances, 0))
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
  # Later inference does not accumulate.
  assert float(_np(layer.accu_counter)) == 3.0
  layer.reset_standing_statistics()
  assert float(_np(layer.accu_counter)) == 0.0


@pytest.mark.parametrize("make", [
    norm.BatchNorm, norm.ConditionalBatchNorm, norm.SelfModulatedBatchNorm])
def test_normalization_build_creates_moving_statistics(make):
  layer = make()
  layer.build((None, 2, 2, 3))
  names = {v.path.split("/")[-1] for v in layer.weights}
  assert {"moving_mean", "moving_variance"} <= names
  assert tuple(layer.standardize.moving_mean.shape) == (3,)


def test_batch_norm_matches_numpy():
  rng = _rng(12)
  x = _bn_input(rng)
  layer = norm.BatchNorm()
  layer(tf.constant(x, tf.float32), training=False)
  np.testing.assert_array_equal(_np(layer.gamma), 1.0)
  np.testing.assert_array_equal(_np(layer.beta), 0.0)
  gamma, beta = rng.normal(size=4), rng.normal(size=4)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  y = _np(layer(tf.constant(x, tf.float32), training=True))
  mean, var = _np_moments(x)
  np.testing.assert_allclose(y, _np_standardize(x, mean, var) * gamma + beta,
                             rtol=1e-4, atol=1e-4)
  assert {v.name for v in layer.trainable_weights} == {"gamma", "beta"}


@pytest.mark.parametrize("gamma_offset", [True, False])
@pytest.mark.parametrize("use_bias", [False, True])
def test_conditional_batch_norm_matches_numpy(gamma_offset, use_bias):
  rng = _rng(13)
  x = _bn_input(rng)
  y = rng.normal(size=(8, 5))
  layer = norm.ConditionalBatchNorm(gamma_offset=gamma_offset,
                                    use_bias=use_bias)
  layer(tf.constant(x, tf.float32), y=tf.constant(y, tf.float32))
  for lin in (layer.gamma, layer.beta):
    _randomize(lin, rng)
  out = _np(layer(tf.constant(x, tf.float32), y=tf.constant(y, tf.float32),
                  training=True))
  gamma = y @ _np(layer.gamma.kernel)
  beta = y @ _np(layer.beta.kernel)
  if use_bias:
    gamma += _np(layer.gamma.bias)
    beta += _np(layer.beta.bias)
  else:
    assert not layer.gamma.use_bias and not layer.beta.use_bias
  if gamma_offset:
    gamma = 1.0 + gamma
  mean, var = _np_moments(x)
  expected = (_np_standardize(x, mean, var) * gamma[:, None, None, :]
              + beta[:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_conditional_batch_norm_without_y_raises():
  layer = norm.ConditionalBatchNorm()
  with pytest.raises(ValueError, match=r"needs a condition y.*y=None"):
    layer(tf.zeros((2, 2, 2, 4)), training=True)


def test_registry_made_normalization_picks_up_gin():
  gin.parse_config("conditional_batch_norm.gamma_offset = False")
  layer = registry.NORMALIZATIONS.make("conditional_batch_norm", name="cbn")
  assert isinstance(layer, norm.ConditionalBatchNorm)
  assert layer.name == "cbn" and layer.gamma_offset is False
  gin.clear_config()
  assert registry.NORMALIZATIONS.make("conditional_batch_norm").gamma_offset
  gin.parse_config("self_modulated_batch_norm.num_hidden = 7")
  smbn = norm.make_normalization("self_modulated_batch_norm", "s", use_sn=True)
  assert smbn.num_hidden == 7 and smbn.use_sn and smbn.name == "s"


def test_gin_offset_false_output_is_gamma_times_x():
  gin.parse_config("conditional_batch_norm.gamma_offset = False")
  rng = _rng(14)
  x, y = _bn_input(rng), rng.normal(size=(8, 3))
  layer = norm.make_normalization("conditional_batch_norm", "cbn")
  out = _np(layer(tf.constant(x, tf.float32), y=tf.constant(y, tf.float32),
                  training=True))
  gamma = y @ _np(layer.gamma.kernel)
  beta = y @ _np(layer.beta.kernel)
  mean, var = _np_moments(x)
  expected = (_np_standardize(x, mean, var) * gamma[:, None, None, :]
              + beta[:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("with_y", [False, True])
def test_self_modulated_batch_norm_matches_numpy(with_y):
  rng = _rng(15)
  x = _bn_input(rng)
  z = rng.normal(size=(8, 6))
  y = rng.normal(size=(8, 2)) if with_y else None
  tf_y = None if y is None else tf.constant(y, tf.float32)
  # With a y, condition on it too (use_y; the original's default ignores y).
  layer = norm.SelfModulatedBatchNorm(num_hidden=9, use_y=with_y)
  layer(tf.constant(x, tf.float32), y=tf_y, z=tf.constant(z, tf.float32))
  np.testing.assert_array_equal(_np(layer.gamma.bias), 1.0)
  np.testing.assert_array_equal(_np(layer.beta.bias), 0.0)
  np.testing.assert_array_equal(_np(layer.hidden.bias), 0.0)
  assert tuple(layer.hidden.kernel.shape) == (6 + (2 if with_y else 0), 9)
  for lin in (layer.hidden, layer.gamma, layer.beta):
    _randomize(lin, rng)
  out = _np(layer(tf.constant(x, tf.float32), y=tf_y,
                  z=tf.constant(z, tf.float32), training=True))
  cond = z if y is None else np.concatenate([z, y], axis=1)
  h = np.maximum(cond @ _np(layer.hidden.kernel) + _np(layer.hidden.bias), 0)
  gamma = h @ _np(layer.gamma.kernel) + _np(layer.gamma.bias)
  beta = h @ _np(layer.beta.kernel) + _np(layer.beta.bias)
  mean, var = _np_moments(x)
  expected = (_np_standardize(x, mean, var) * gamma[:, None, None, :]
              + beta[:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_self_modulated_batch_norm_defaults_and_needs_z():
  layer = norm.SelfModulatedBatchNorm()
  assert layer.num_hidden == 32
  with pytest.raises(ValueError, match="z=None"):
    layer(tf.zeros((2, 2, 2, 4)), training=True)


def test_layer_norm_matches_numpy():
  rng = _rng(16)
  x = _bn_input(rng, (3, 2, 5, 4))
  layer = norm.LayerNorm()
  layer(tf.constant(x, tf.float32))
  gamma, beta = rng.normal(size=4), rng.normal(size=4)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  y = _np(layer(tf.constant(x, tf.float32)))
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  var = x.var(axis=(1, 2, 3), keepdims=True)
  expected = (x - mean) / np.sqrt(var + 1e-12) * gamma + beta
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_no_batch_norm_is_identity():
  x = tf.random.normal((2, 3, 3, 4))
  for layer in (norm.NoBatchNorm(), norm.make_normalization(None, "n"),
                norm.make_normalization("no_batch_norm", "n")):
    assert isinstance(layer, norm.NoBatchNorm)
    np.testing.assert_array_equal(_np(layer(x, y=x, training=True)), _np(x))


# -------------------------------------------------- cross-replica batch moments


@pytest.fixture
def mirrored_strategy():
  """conftest's two-CPU MirroredStrategy, with collective keys of its own.

  Every MirroredStrategy starts its collective keys at group 1, instance 100;
  TF's runtime rejects a key reused with another tensor shape (and then aborts
  every later collective of the process), so strategies made one per test
  collide. A distinct key base per strategy avoids that.
  """
  tf.distribute.MirroredStrategy._collective_key_base += 1000
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  tf.distribute.MirroredStrategy._collective_key_base += 1000
  return strategy


def _run_replicated(strategy, layer, x, steps):
  n = strategy.num_replicas_in_sync
  per_replica = x.shape[0] // n
  dist_x = strategy.experimental_distribute_values_from_function(
      lambda ctx: tf.constant(
          x[ctx.replica_id_in_sync_group * per_replica:
            (ctx.replica_id_in_sync_group + 1) * per_replica], tf.float32))

  @tf.function
  def step(inputs):
    return strategy.run(lambda t: layer(t, training=True), args=(inputs,))

  for _ in range(steps):
    out = step(dist_x)
  return np.concatenate([_np(t) for t in strategy.experimental_local_results(out)])


@pytest.mark.parametrize("cls", [norm.StandardizeBatch, norm.BatchNorm])
def test_cross_replica_batch_statistics(mirrored_strategy, cls):
  assert mirrored_strategy.num_replicas_in_sync == 2
  rng = _rng(17)
  # The two replicas' halves have very different moments.
  x = _bn_input(rng)
  x[4:] = x[4:] * 3.0 + 5.0
  with mirrored_strategy.scope():
    dist_layer = cls()
    dist_layer.build((None, 3, 3, 4))
  y_dist = _run_replicated(mirrored_strategy, dist_layer, x, steps=2)

  layer = cls()
  for _ in range(2):
    y = _np(layer(tf.constant(x, tf.float32), training=True))
  np.testing.assert_allclose(y_dist, y, atol=1e-5)
  mean, var = _np_moments(x)
  std = dist_layer if cls is norm.StandardizeBatch else dist_layer.standardize
  ref = layer if cls is norm.StandardizeBatch else layer.standardize
  for name in ("moving_mean", "moving_variance"):
    np.testing.assert_allclose(_np(getattr(std, name)),
                               _np(getattr(ref, name)), atol=1e-5)
  # Against numpy: two decay steps with the global-batch moments.
  np.testing.assert_allclose(_np(std.moving_mean),
                             (1 - 0.999**2) * mean, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(_np(std.moving_variance),
                             0.999**2 + (1 - 0.999**2) * var, rtol=1e-5)


def test_batch_moments_are_global_under_a_strategy(mirrored_strategy):
  rng = _rng(18)
  x = rng.normal(size=(8, 3)) + np.arange(8)[:, None]

  dist_x = mirrored_strategy.experimental_distribute_values_from_function(
      lambda ctx: tf.constant(x[ctx.replica_id_in_sync_group * 4:
                                (ctx.replica_id_in_sync_group + 1) * 4],
                              tf.float32))

  @tf.function
  def moments(t):
    return mirrored_strategy.run(lambda v: norm.batch_moments(v, [0]),
                                 args=(t,))

  mean, var = moments(dist_x)
  for m, v in zip(mirrored_strategy.experimental_local_results(mean),
                  mirrored_strategy.experimental_local_results(var)):
    np.testing.assert_allclose(_np(m), x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(_np(v), x.var(0), rtol=1e-5)


# ---------------------------------------------------------------- NonLocalBlock


def _np_softmax(a):
  a = a - a.max(-1, keepdims=True)
  e = np.exp(a)
  return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("use_sn", [False, True])
def test_non_local_block_matches_numpy(use_sn):
  rng = _rng(19)
  b, h, w, c = 2, 4, 6, 16
  x = rng.normal(size=(b, h, w, c))
  tx = tf.constant(x, tf.float32)
  block = NonLocalBlock(use_sn=use_sn)
  y0 = block(tx, training=False)
  assert float(_np(block.sigma)) == 0.0
  np.testing.assert_array_equal(_np(y0), _np(tx))
  for conv in (block.theta, block.phi, block.g, block.attn_out):
    assert not conv.use_bias and conv.kernel_size == 1
    conv.kernel.assign(rng.normal(size=tuple(conv.kernel.shape)) * 0.3)
  block.sigma.assign(1.0)
  y = _np(block(tx, training=False))

  def k(conv):
    return _np(conv.normalized_kernel(training=False))[0, 0]

  assert k(block.theta).shape == (c, c // 8)
  assert k(block.g).shape == (c, c // 2)
  assert k(block.attn_out).shape == (c // 2, c)
  theta = (x @ k(block.theta)).reshape(b, h * w, c // 8)
  phi = _np_maxpool2(x @ k(block.phi)).reshape(b, h * w // 4, c // 8)
  g = _np_maxpool2(x @ k(block.g)).reshape(b, h * w // 4, c // 2)
  attn = _np_softmax(theta @ phi.transpose(0, 2, 1))
  o = (attn @ g).reshape(b, h, w, c // 2) @ k(block.attn_out)
  np.testing.assert_allclose(y, x + o, rtol=1e-4, atol=1e-4)
  assert _holds(block.trainable_weights, block.sigma)


def test_non_local_block_channels_not_divisible_by_8_raise():
  with pytest.raises(ValueError, match="divisible by 8"):
    NonLocalBlock()(tf.zeros((1, 4, 4, 12)))


# ------------------------------------------------------------------------ resnet


def _np_unpool(x):
  b, h, w, c = x.shape
  y = np.zeros((b, 2 * h, 2 * w, c))
  y[:, ::2, ::2] = x
  return y


def test_upsample_and_downsample_match_numpy():
  x = _rng(20).normal(size=(2, 3, 4, 5))
  tx = tf.constant(x, tf.float32)
  near = _np(resnet.upsample(tx))
  np.testing.assert_allclose(near, x.repeat(2, axis=1).repeat(2, axis=2),
                             rtol=1e-6)
  np.testing.assert_allclose(_np(resnet.upsample(tx, "nearest")), near)
  np.testing.assert_allclose(_np(resnet.upsample(tx, "unpool")), _np_unpool(x),
                             rtol=1e-6)
  np.testing.assert_allclose(_np(resnet.downsample(tf.constant(near))), x,
                             rtol=1e-6)
  x4 = _rng(21).normal(size=(2, 4, 6, 3))
  np.testing.assert_allclose(_np(resnet.downsample(tf.constant(x4, tf.float32))),
                             _np_avgpool2(x4), rtol=1e-5, atol=1e-6)


def test_upsample_method_gin():
  assert resnet.upsample_method() == "nearest"
  gin.bind_parameter("upsample.method", "unpool")
  assert resnet.upsample_method() == "unpool"
  gin.bind_parameter("upsample.method", "bilinear")
  with pytest.raises(ValueError, match="bilinear"):
    resnet.upsample_method()


def _identity_block(block, x, **kwargs):
  """Runs `block`, zeroes conv2 so that only the shortcut path is left."""
  block(x, **kwargs)
  block.conv2.kernel.assign(tf.zeros_like(block.conv2.kernel))
  block.conv2.bias.assign(tf.zeros_like(block.conv2.bias))
  return _np(block(x, **kwargs))


@pytest.mark.parametrize("method", [None, "unpool"])
def test_resnet_block_auto_shortcut_up_is_resampled_identity(method):
  if method:
    gin.bind_parameter("upsample.method", method)
  x = _rng(22).normal(size=(2, 3, 3, 4))
  block = resnet.ResNetBlock(4, scale="up", shortcut="auto")
  y = _identity_block(block, tf.constant(x, tf.float32), training=True)
  assert block.conv_shortcut is None
  expected = _np_unpool(x) if method == "unpool" else x.repeat(2, 1).repeat(2, 2)
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale, resample", [
    ("down", _np_avgpool2), ("none", lambda t: t)])
def test_resnet_block_auto_shortcut_is_resampled_identity(scale, resample):
  x = _rng(23).normal(size=(2, 4, 4, 8))
  block = resnet.ResNetBlock(8, scale=scale, shortcut="auto",
                             batch_norm_fn="batch_norm")
  y = _identity_block(block, tf.constant(x, tf.float32), training=True)
  np.testing.assert_allclose(y, resample(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", ["up", "down", "none"])
def test_resnet_block_conv_shortcut(scale):
  rng = _rng(24)
  x = rng.normal(size=(2, 4, 4, 4))
  block = resnet.ResNetBlock(4, scale=scale, shortcut="conv")
  block(tf.zeros(x.shape))
  assert block.conv_shortcut is not None
  assert block.conv_shortcut.kernel_size == 1
  _randomize(block.conv_shortcut, rng)
  y = _identity_block(block, tf.constant(x, tf.float32))
  ws = _np(block.conv_shortcut.kernel)[0, 0]
  bs = _np(block.conv_shortcut.bias)
  if scale == "up":
    expected = x.repeat(2, 1).repeat(2, 2) @ ws + bs
  elif scale == "down":
    expected = _np_avgpool2(x @ ws + bs)
  else:
    expected = x @ ws + bs
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale, out_hw", [("up", 8), ("down", 2), ("none", 4)])
@pytest.mark.parametrize("shortcut", ["conv", "auto"])
def test_resnet_block_shapes(scale, out_hw, shortcut):
  block = resnet.ResNetBlock(6, scale=scale, shortcut=shortcut,
                             batch_norm_fn="conditional_batch_norm",
                             layer_norm=True, use_sn=True)
  y = block(tf.random.normal((2, 4, 4, 3)), y=tf.random.normal((2, 5)),
            training=True)
  assert tuple(y.shape) == (2, out_hw, out_hw, 6)
  # Channels change, so "auto" needs a 1x1 conv too.
  assert block.conv_shortcut is not None


def test_resnet_block_config_round_trip_and_validation():
  block = resnet.ResNetBlock(4, scale="down", batch_norm_fn="batch_norm",
                             shortcut="auto", first_relu=False)
  config = block.get_config()
  assert config["batch_norm_fn"] == "batch_norm"
  clone = resnet.ResNetBlock.from_config(config)
  assert clone.get_config() == config
  x = tf.random.normal((2, 4, 4, 4))
  y = block(x, training=False)
  clone(x, training=False)
  clone.set_weights(block.get_weights())
  np.testing.assert_allclose(_np(clone(x, training=False)), _np(y), rtol=1e-5)
  with pytest.raises(ValueError, match="sideways"):
    resnet.ResNetBlock(4, scale="sideways")
  with pytest.raises(ValueError, match="identity"):
    resnet.ResNetBlock(4, shortcut="identity")
