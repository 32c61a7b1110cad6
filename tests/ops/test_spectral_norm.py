"""Numerical tests of compare_gan2.ops (spectral norm) against independent numpy
computations."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops import normalization as norm
from compare_gan2.ops import spectral_norm as sn
from compare_gan2.ops.layers import Conv2D, Deconv2D, Linear

from op_reference import _rng, _np, _unit, _holds, _as_matrix, _SN_LAYERS


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
