"""Normalization layers chosen by `G.batch_norm_fn` / `D.batch_norm_fn`.

Every layer is called as `layer(x, y=None, z=None, training=None)`: `y` is the
conditioning vector (one-hot or embedded labels, possibly with a z chunk), `z`
the latent (used by self-modulation). Batch moments are synchronised across
replicas under a multi-replica tf.distribute strategy.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import gin
import keras
import tensorflow as tf

from compare_gan2.ops.layers import Linear
from compare_gan2.core.registry import NORMALIZATIONS

_ACCUMULATING = [False]


@contextlib.contextmanager
def _pushed(stack: list[Any], value: Any) -> Iterator[None]:
  """`value` on top of a mode stack for the context's duration."""
  stack.append(value)
  try:
    yield
  finally:
    stack.pop()


def accumulate_standing_statistics() -> contextlib.AbstractContextManager[None]:
  """Inside this context, inference calls of standardize layers without moving
  averages add their batch moments to the standing statistics (eager calls)."""
  return _pushed(_ACCUMULATING, True)


class _Pending(threading.local):
  """Where training calls put their moments, per thread (MirroredStrategy
  runs each replica's step in its own thread): a stack whose top is None
  (the moving averages, now), a list (kept for one averaged update,
  `averaged_updates`) or False (nowhere, `frozen_statistics`)."""

  def __init__(self):
    super().__init__()
    self.stack: list[Any] = [None]


_PENDING = _Pending()


@contextlib.contextmanager
def averaged_updates() -> Iterator[None]:
  """Training calls of standardize layers inside this context move each
  layer's averages once, on exit, with the mean of its calls' moments: the
  population update of Blocks (PacGAN, ALI), which merges a variable's
  updates from every application in the step's graph (G once per packing
  slot, D on reals and on fakes) into one."""
  pending: list[tuple[StandardizeBatch, tf.Tensor, tf.Tensor]] = []
  with _pushed(_PENDING.stack, pending):
    yield
  layers = {id(layer): layer for layer, _, _ in pending}
  for key, layer in layers.items():
    moments = [(m, v) for l, m, v in pending if id(l) == key]
    layer.update_averages(tf.add_n([m for m, _ in moments]) / len(moments),
                          tf.add_n([v for _, v in moments]) / len(moments))


def frozen_statistics() -> contextlib.AbstractContextManager[None]:
  """Training calls of standardize layers inside this context normalize
  with their batch's moments and leave the moving averages alone (a second
  pass over a batch whose moments were already counted)."""
  return _pushed(_PENDING.stack, False)


def batch_moments(x: tf.Tensor, axes: list[int]) -> tuple[tf.Tensor, tf.Tensor]:
  """Mean and variance over `axes`, over the global batch of all replicas."""
  ctx = tf.distribute.get_replica_context()
  n = 1 if ctx is None else ctx.num_replicas_in_sync
  mean = tf.reduce_mean(x, axes)
  if n > 1:
    mean = ctx.all_reduce(tf.distribute.ReduceOp.SUM, mean) / n
  variance = tf.reduce_mean(tf.square(x - mean), axes)
  if n > 1:
    variance = ctx.all_reduce(tf.distribute.ReduceOp.SUM, variance) / n
  return mean, variance


@gin.configurable("standardize_batch")
def standardize_batch_options(decay: float = 0.999, epsilon: float = 1e-3,
                              use_moving_averages: bool = True) -> dict[str, Any]:
  """Gin defaults of StandardizeBatch (`standardize_batch.decay`, ...)."""
  return dict(decay=decay, epsilon=epsilon,
              use_moving_averages=use_moving_averages)


@keras.saving.register_keras_serializable("compare_gan2")
class StandardizeBatch(keras.layers.Layer):
  """Batch normalization without affine parameters (`standardize_batch`).

  Arguments left as `None` take their gin value (`standardize_batch.*`).

  Args:
    decay: float. Moving average decay. Defaults to `0.999`.
    epsilon: float. Added to the variance. Defaults to `1e-3`.
    use_moving_averages: bool. Inference uses moving averages; if `False` it
      uses standing statistics (BigGAN): moments accumulated over many batches
      inside `accumulate_standing_statistics()`, divided by their count; while
      accumulating, each batch is normalized with the running averages so far
      (compare_gan's `accu_mean / accu_counter`).
      Defaults to `True`.
  """

  def __init__(self, decay: float | None = None, epsilon: float | None = None,
               use_moving_averages: bool | None = None, **kwargs: Any):
    super().__init__(**kwargs)
    defaults = standardize_batch_options()
    self.decay = defaults["decay"] if decay is None else decay
    self.epsilon = defaults["epsilon"] if epsilon is None else epsilon
    self.use_moving_averages = (defaults["use_moving_averages"]
                                if use_moving_averages is None
                                else use_moving_averages)

  def build(self, input_shape: tuple[int, ...]) -> None:
    c = (int(input_shape[-1]),)
    # Never autocast: under a bfloat16 policy the moving averages would be
    # updated in bfloat16, where 0.999 * m + 0.001 * mean rounds back to m.
    stat = dict(trainable=False, aggregation="mean", autocast=False)
    self.moving_mean = self.add_weight(name="moving_mean", shape=c,
                                       initializer="zeros", **stat)
    self.moving_variance = self.add_weight(name="moving_variance", shape=c,
                                           initializer="ones", **stat)
    if not self.use_moving_averages:
      self.accu_mean = self.add_weight(name="accu_mean", shape=c,
                                       initializer="zeros", **stat)
      self.accu_variance = self.add_weight(name="accu_variance", shape=c,
                                           initializer="zeros", **stat)
      self.accu_counter = self.add_weight(name="accu_counter", shape=(),
                                          initializer="zeros", **stat)

  def reset_standing_statistics(self) -> None:
    for v in (self.accu_mean, self.accu_variance, self.accu_counter):
      v.assign(tf.zeros_like(v))

  def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
    # Moments, statistics and the normalization in float32 whatever the
    # compute dtype (as Keras' BatchNormalization); the result in x's dtype.
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    axes = list(range(len(x.shape) - 1))
    if training:
      mean, variance = batch_moments(x, axes)
      self.update_averages(mean, variance)
    elif self.use_moving_averages:
      mean, variance = self.moving_mean, self.moving_variance
    else:
      if _ACCUMULATING[-1]:
        # As compare_gan's _accumulated_moments_for_inference: add this
        # batch's moments, then normalize with the running averages (this
        # batch included), so later layers accumulate what inference feeds them.
        mean, variance = batch_moments(x, axes)
        self.accu_mean.assign_add(mean)
        self.accu_variance.assign_add(variance)
        self.accu_counter.assign_add(1.0)
      count = tf.maximum(self.accu_counter, 1.0)
      mean, variance = self.accu_mean / count, self.accu_variance / count
    return tf.cast(tf.nn.batch_normalization(x, mean, variance, None, None, self.epsilon),
                   dtype)

  def update_averages(self, mean: tf.Tensor, variance: tf.Tensor) -> None:
    """Moves the averages towards a batch's moments, or hands them to the
    enclosing `averaged_updates` / `frozen_statistics`."""
    pending = _PENDING.stack[-1]
    if pending is False:
      return
    if pending is not None:
      pending.append((self, mean, variance))
      return
    d = self.decay
    self.moving_mean.assign(d * self.moving_mean + (1 - d) * mean)
    self.moving_variance.assign(d * self.moving_variance + (1 - d) * variance)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "decay": self.decay, "epsilon": self.epsilon,
            "use_moving_averages": self.use_moving_averages}


class _Normalization(keras.layers.Layer):
  """Common arguments of the registered normalizations.

  Args:
    use_sn: bool. Spectral norm on the conditioning linear layers.
  """

  def __init__(self, use_sn: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.use_sn = use_sn

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "use_sn": self.use_sn}


@NORMALIZATIONS.register("no_batch_norm")
@keras.saving.register_keras_serializable("compare_gan2")
class NoBatchNorm(_Normalization):
  """Identity."""

  def call(self, x, y=None, z=None, training=None):
    return x


@NORMALIZATIONS.register("batch_norm")
@keras.saving.register_keras_serializable("compare_gan2")
class BatchNorm(_Normalization):
  """standardize_batch followed by a learned scale (init 1) and offset (init 0)."""

  def build(self, input_shape, *args, **kwargs):
    c = (int(input_shape[-1]),)
    self.standardize = StandardizeBatch(name="standardize")
    self.standardize.build(input_shape)  # moving statistics exist after build
    self.gamma = self.add_weight(name="gamma", shape=c, initializer="ones")
    self.beta = self.add_weight(name="beta", shape=c, initializer="zeros")

  def call(self, x, y=None, z=None, training=None):
    return self.standardize(x, training=training) * self.gamma + self.beta


@NORMALIZATIONS.register("conditional_batch_norm")
@keras.saving.register_keras_serializable("compare_gan2")
class ConditionalBatchNorm(_Normalization):
  """standardize_batch, then x * (1 + gamma(y)) + beta(y), gamma and beta linear.

  Args:
    use_bias: bool. Bias in the gamma/beta linear maps. Defaults to `False`.
    gamma_offset: bool. Scale by 1 + gamma (BigGAN). `False` reproduces the
      original compare_gan, which scaled by gamma alone. Defaults to `True`.
  """

  def __init__(self, use_bias: bool = False, gamma_offset: bool = True,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.use_bias = use_bias
    self.gamma_offset = gamma_offset

  def build(self, input_shape, *args, **kwargs):
    c = int(input_shape[-1])
    self.standardize = StandardizeBatch(name="standardize")
    self.standardize.build(input_shape)  # moving statistics exist after build
    self.gamma = Linear(c, use_sn=self.use_sn, use_bias=self.use_bias, name="gamma")
    self.beta = Linear(c, use_sn=self.use_sn, use_bias=self.use_bias, name="beta")

  def call(self, x, y=None, z=None, training=None):
    if y is None:
      raise ValueError(f"{self.name}: conditional_batch_norm needs a condition y. "
                       "Received: y=None (is the GAN unconditional? use batch_norm)")
    x = self.standardize(x, training=training)
    gamma = self.gamma(y, training=training)[:, None, None, :]
    beta = self.beta(y, training=training)[:, None, None, :]
    if self.gamma_offset:
      gamma = 1.0 + gamma
    return x * gamma + beta

  def get_config(self):
    return {**super().get_config(), "use_bias": self.use_bias,
            "gamma_offset": self.gamma_offset}


@NORMALIZATIONS.register("self_modulated_batch_norm")
@keras.saving.register_keras_serializable("compare_gan2")
class SelfModulatedBatchNorm(_Normalization):
  """Self-modulation (Chen et al., 2019, arXiv:1810.01365): h = ReLU(linear(z
  [, y])); x * gamma(h) + beta(h) with gamma's bias initialised at 1.

  Args:
    num_hidden: int. Width of h. Defaults to `32`.
    use_y: bool. Condition on concat(z, y) when a y is passed; `False`
      conditions on z alone, as the original
      (arch_ops.self_modulated_batch_norm had no y). Defaults to `False`.
  """

  def __init__(self, num_hidden: int = 32, use_y: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.num_hidden = num_hidden
    self.use_y = use_y

  def build(self, input_shape, *args, **kwargs):
    c = int(input_shape[-1])
    self.standardize = StandardizeBatch(name="standardize")
    self.standardize.build(input_shape)  # moving statistics exist after build
    self.hidden = Linear(self.num_hidden, use_sn=self.use_sn, name="hidden")
    self.gamma = Linear(c, use_sn=self.use_sn, bias_start=1.0, name="gamma")
    self.beta = Linear(c, use_sn=self.use_sn, name="beta")

  def call(self, x, y=None, z=None, training=None):
    if z is None:
      raise ValueError(f"{self.name}: self_modulated_batch_norm needs z. "
                       "Received: z=None")
    cond = z if y is None or not self.use_y else tf.concat([z, y], axis=1)
    h = tf.nn.relu(self.hidden(cond, training=training))
    x = self.standardize(x, training=training)
    gamma = self.gamma(h, training=training)[:, None, None, :]
    beta = self.beta(h, training=training)[:, None, None, :]
    return x * gamma + beta

  def get_config(self):
    return {**super().get_config(), "num_hidden": self.num_hidden,
            "use_y": self.use_y}


@NORMALIZATIONS.register("layer_norm")
@keras.saving.register_keras_serializable("compare_gan2")
class LayerNorm(_Normalization):
  """Layer normalization over all axes but the batch, with per-channel affine
  (Ba et al., 2016); the `D.layer_norm` option of the original."""

  def build(self, input_shape, *args, **kwargs):
    c = (int(input_shape[-1]),)
    self.gamma = self.add_weight(name="gamma", shape=c, initializer="ones")
    self.beta = self.add_weight(name="beta", shape=c, initializer="zeros")

  def call(self, x, y=None, z=None, training=None):
    axes = list(range(1, len(x.shape)))
    mean, variance = tf.nn.moments(x, axes, keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, 1e-12)


def make_normalization(fn: Any, name: str, use_sn: bool = False) -> keras.layers.Layer:
  """Builds the normalization named (or gin-referenced) by `fn`; None -> identity."""
  if fn is None:
    return NoBatchNorm(name=name)
  return NORMALIZATIONS.make(fn, name=name, use_sn=use_sn)
