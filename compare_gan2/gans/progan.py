"""ProgressiveGAN: progressive growing of GANs (Karras et al., 2018,
arXiv:1710.10196) on top of ModularGAN's training step.

The growth follows the count of real images shown to D (`images_seen`,
checkpointed, so a run resumed mid-transition continues exactly):
phases of `training_kimg` at a level, then `transition_kimg` during which the
level of detail (lod) falls linearly to the next level, one phase per
doubling from 4x4 (lod = log2(res) - 2) to full size (lod = 0), where it
stays. Each step, before the updates:
  * lod is computed from `images_seen` and assigned to G, D and the EMA G
    (their `lod` variables, see architectures/progan.py);
  * Adam's state (moments and iteration count) is reset when floor(lod) or
    ceil(lod) changes, i.e. when a transition starts and when it ends, as the
    original's `reset_opt_for_new_lod`: a masked assignment in replica
    context (no merge_call), so the step compiles whole under XLA;
  * the step uses the first b(res) / replicas examples of each replica's
    batch, b the resolution-dependent global batch (`batch_sizes`; the
    resolution is 2^(log2(res) - floor(lod)), the one being faded in).

XLA (`jit_compile`, the Runner's `run_config.compile_loop`, TPUs): the
levels are `tf.cond` branches of one step, so growth, fade-in and resets
need no retrace. Only a batch that changes with the level changes the
step's shapes: the compiled step then takes the level's batch as a Python
int (`train_step(batch=...)`, from `static_step_kwargs`), one trace per
distinct batch, and the Runner ends each compiled loop where the level's
batch changes.
Reals are faded like G's output (`prepare_reals`): box-downscaled to the
level, blended with their 2x box down/up version by frac(lod) and
nearest-upscaled to full size. D's loss gets the drift term
drift * mean(D(real)^2) (`adversarial_d_loss`). Loss and penalty come from
gin as usual (the ProGAN configs use `loss.fn = @wasserstein`,
`penalty.fn = @wgangp_penalty`, `options.lamba = 10`).

As the original's D_wgangp_acgan:
  * D runs on the reals and on the fakes in separate calls, so that no
    minibatch-stddev group mixes them (`run_discriminator`);
  * penalties differentiate w.r.t. the images in D's own range [-1, 1]
    (the original's drange_net), not w.r.t. the [0, 1] images the library
    passes around: the gradient is half the [0, 1] one
    (`discriminator_fn`), so WGAN-GP's target 1 and lambda 10 mean what
    they mean in the original.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import keras
import tensorflow as tf

from compare_gan2.gans.modular import Metrics, ModularGAN
from compare_gan2.ops.progan import block_average
from compare_gan2.core.registry import GANS


def progan_adam(learning_rate: float) -> keras.optimizers.Optimizer:
  """The paper's optimizer: Adam, beta1 0, beta2 0.99, epsilon 1e-8."""
  return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.0,
                               beta_2=0.99, epsilon=1e-8)


def lod_at(images_seen: Any, *, resolution: int, training_kimg: float,
           transition_kimg: float) -> tf.Tensor:
  """The level of detail (float64 tensor) after `images_seen` real images.

  lod = L - 2 - phase - clip(pos - train, 0) / transition, at least 0, with
  L = log2(resolution), phase = seen // (train + transition), pos = seen mod
  (train + transition), train and transition in images (kimg * 1000,
  rounded): integer arithmetic up to the last division, so phase boundaries
  are exact.
  """
  max_lod = int(resolution).bit_length() - 3
  train = int(round(training_kimg * 1000))
  transition = int(round(transition_kimg * 1000))
  seen = tf.cast(images_seen, tf.int64)
  duration = train + transition
  if duration <= 0:
    return tf.constant(0.0, tf.float64)
  phase = seen // duration
  pos = seen - phase * duration
  lod = tf.cast(max_lod - phase, tf.float64)
  if transition > 0:
    lod -= tf.cast(tf.maximum(pos - train, 0), tf.float64) / transition
  return tf.maximum(lod, 0.0)


def level_resolution(lod: tf.Tensor, resolution: int) -> tf.Tensor:
  """2^(log2(resolution) - floor(lod)): the resolution being trained or faded in."""
  level = tf.cast(tf.floor(lod), tf.int32)
  return tf.bitwise.right_shift(tf.constant(resolution, tf.int32), level)


def schedule(images_seen: Any, *, resolution: int, training_kimg: float,
             transition_kimg: float) -> tuple[tf.Tensor, tf.Tensor]:
  """(resolution of the level, alpha = 1 - frac(lod)) after `images_seen`."""
  lod = lod_at(images_seen, resolution=resolution, training_kimg=training_kimg,
               transition_kimg=transition_kimg)
  alpha = 1.0 - (lod - tf.floor(lod))
  return level_resolution(lod, resolution), alpha


def net_range_gradient(x: tf.Tensor) -> tf.Tensor:
  """x unchanged, but gradients w.r.t. x are those w.r.t. u = 2x - 1 (the
  [-1, 1] images progan_arch's D computes on): dD/du = dD/dx / 2. Values and
  higher-order gradients are exact (0.5 x + 0.5 x == x in floating point)."""
  half = 0.5 * x
  return half + tf.stop_gradient(half)


def _grew(old: tf.Tensor, new: tf.Tensor) -> tf.Tensor:
  """The original's reset rule: floor or ceil of the lod changed."""
  return tf.logical_or(tf.not_equal(tf.floor(old), tf.floor(new)),
                       tf.not_equal(tf.math.ceil(old), tf.math.ceil(new)))


def keep_addn_in_functions() -> None:
  """Turns off Grappler's memory optimizer for the tf.functions this thread
  calls from now on.

  That optimizer rewrites large AddN ops (gradient sums) into a temporary
  variable plus in-place adds. Inside the level conds' second-order gradients
  (WGAN-GP) TensorFlow 2.21 never destroys that variable, so the second call
  of the step fails with AlreadyExistsError ("Resource __per_step_0/...
  AddN_8/tmp_var"), e.g. at 128 channels and batch 32 on the CPU without
  XLA. The optimizer only saves memory; results are unchanged.
  """
  # Function calls take their Grappler config from the thread's call options
  # (the public tf.config.optimizer has no switch for this optimizer).
  from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
  from tensorflow.python.eager import context
  options = context.context().function_call_options
  proto = config_pb2.ConfigProto()
  proto.ParseFromString(options.config_proto_serialized)
  rewrites = proto.graph_options.rewrite_options
  if rewrites.memory_optimization != rewriter_config_pb2.RewriterConfig.NO_MEM_OPT:
    rewrites.memory_optimization = rewriter_config_pb2.RewriterConfig.NO_MEM_OPT
    options.config_proto_serialized = proto


# Its tiny setting in the tests of every registered part: 8 images a step,
# 4 at 4x4, then a fade of 12 images.
@GANS.register("ProgressiveGAN", test={
    "architecture": "progan_arch",
    "kwargs": {"training_kimg": 0.004, "transition_kimg": 0.012}})
class ProgressiveGAN(ModularGAN):
  """ProGAN's growing schedule, fade-in of reals, drift term and optimizer
  resets; the networks must be `progan_arch` (they hold the `lod`).

  Args:
    generator, discriminator: `progan_arch` networks.
    training_kimg: float. Thousands of real images per level before its
      transition. Defaults to `600`.
    transition_kimg: float. Thousands of real images of each fade-in.
      Defaults to `600`.
    drift: float. Weight of mean(D(real)^2) in D's loss. Defaults to `0.001`.
    batch_sizes: dict resolution -> global batch size; resolutions not in it
      use the whole `options.batch_size` (the largest). Each must divide over
      the replicas. Defaults to `None` (the full batch at every resolution).
    reset_optimizer_on_growth: bool. Reset G's and D's Adam state when a
      transition starts or ends. Defaults to `True`.
    g_lr, d_lr, g_optimizer_fn, d_optimizer_fn, g_use_ema, ema_decay,
      ema_start_step: ModularGAN's, with ProGAN's defaults (1e-3, same,
      Adam(0, 0.99, 1e-8), True, 0.999, 0).
    **kwargs: the other ModularGAN arguments.
  """

  def __init__(self, *, generator: keras.Model, discriminator: keras.Model,
               training_kimg: float = 600.0, transition_kimg: float = 600.0,
               drift: float = 0.001, batch_sizes: dict[int, int] | None = None,
               reset_optimizer_on_growth: bool = True, g_lr: float = 1e-3,
               d_lr: float | None = None,
               g_optimizer_fn: Callable[..., Any] | None = None,
               d_optimizer_fn: Callable[..., Any] | None = None,
               g_use_ema: bool = True, ema_decay: float = 0.999,
               ema_start_step: int = 0, **kwargs: Any):
    for name, net in (("generator", generator), ("discriminator", discriminator)):
      if not hasattr(net, "lod"):
        raise ValueError(f"ProgressiveGAN needs the progan_arch networks (with a "
                         f"`lod` variable). Received {name}: {type(net).__module__}."
                         f"{type(net).__name__}")
    if training_kimg < 0 or transition_kimg < 0:
      raise ValueError("training_kimg and transition_kimg must be >= 0. Received: "
                       f"{training_kimg}, {transition_kimg}")
    super().__init__(generator=generator, discriminator=discriminator, g_lr=g_lr,
                     d_lr=d_lr, g_optimizer_fn=g_optimizer_fn or progan_adam,
                     d_optimizer_fn=d_optimizer_fn or progan_adam,
                     g_use_ema=g_use_ema, ema_decay=ema_decay,
                     ema_start_step=ema_start_step, **kwargs)
    self.resolution = generator.resolution
    self.max_lod = generator.max_lod
    self.training_kimg = training_kimg
    self.transition_kimg = transition_kimg
    self.drift = drift
    self.batch_sizes = self._check_batch_sizes(batch_sizes)
    self.reset_optimizer_on_growth = reset_optimizer_on_growth
    self.images_seen = tf.Variable(
        0, dtype=tf.int64, trainable=False, name="images_seen",
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self.assign_lod(self.scheduled_lod())
    keep_addn_in_functions()

  def _check_batch_sizes(self, batch_sizes: dict[int, int] | None) -> dict[int, int]:
    batch_sizes = {int(k): int(v) for k, v in (batch_sizes or {}).items()}
    levels = [self.resolution >> k for k in range(self.max_lod + 1)]
    for res, batch in batch_sizes.items():
      if res not in levels or batch < 1:
        raise ValueError(f"ProgressiveGAN.batch_sizes maps resolutions {levels} to "
                         f"positive batch sizes. Received: {res}: {batch}")
    return batch_sizes

  # --- Schedule ------------------------------------------------------------------

  def scheduled_lod(self) -> tf.Tensor:
    """The lod of the current `images_seen`, float32."""
    return tf.cast(lod_at(self.images_seen, resolution=self.resolution,
                          training_kimg=self.training_kimg,
                          transition_kimg=self.transition_kimg), tf.float32)

  def assign_lod(self, lod: tf.Tensor) -> None:
    nets = [self.generator, self.discriminator, self.ema_generator]
    for net in nets:
      if net is not None:
        net.lod.assign(lod)

  def reset_optimizers(self, where: tf.Tensor | bool = True) -> None:
    """Zeros the optimizers' state (moments and iteration counts, so Adam's
    bias correction restarts too) if `where` (a bool scalar); the learning
    rates stay. A masked assignment, not a tf.cond: replicas compute the
    same `where` and reset their own copies, with no merge_call, so it
    compiles inside an XLA step (one replica, TPU, MirroredStrategy on GPUs)."""
    where = tf.convert_to_tensor(where, tf.bool)
    for optimizer in (self.g_optimizer, self.d_optimizer):
      for v in optimizer.variables:
        if not v.path.endswith("learning_rate"):
          v.assign(tf.where(where, tf.zeros_like(v), v))

  def _begin_step(self) -> None:
    """The level of the current images_seen, resetting the optimizers when
    it grew (replica context)."""
    new = self.scheduled_lod()
    if self.reset_optimizer_on_growth:
      self.reset_optimizers(_grew(tf.convert_to_tensor(self.generator.lod), new))
    self.assign_lod(new)

  def batch_table(self, per_replica: int, replicas: int) -> list[int] | None:
    """Examples per replica at each level (index floor(lod)), or None when
    every level uses the whole batch."""
    table = []
    for k in range(self.max_lod + 1):
      res = self.resolution >> k
      batch = self.batch_sizes.get(res, per_replica * replicas)
      if batch % replicas or batch // replicas > per_replica:
        raise ValueError(
            f"ProgressiveGAN.batch_sizes[{res}] = {batch} must divide over the "
            f"{replicas} replica(s) and be at most the global batch "
            f"{per_replica * replicas} (options.batch_size).")
      table.append(batch // replicas)
    if all(b == per_replica for b in table):
      return None
    return table

  def step_batch_size(self, lod: tf.Tensor, per_replica: int, replicas: int
                      ) -> tf.Tensor | None:
    """Examples per replica at level `lod` (a tensor: a dynamic shape), or
    None for all of them."""
    table = self.batch_table(per_replica, replicas)
    if table is None:
      return None
    return tf.gather(tf.constant(table, tf.int32), tf.cast(tf.floor(lod), tf.int32))

  def static_step_kwargs(self, per_replica: int, replicas: int
                         ) -> tuple[dict[str, Any], int | None]:
    """({"batch": examples per replica at the current level}, how many steps
    from `images_seen` on keep that batch; None: all), or ({}, None) when
    the batch is the same at every level. Host side (reads images_seen):
    what a compiled step needs to slice the level's batch with a static
    shape."""
    table = self.batch_table(per_replica, replicas)
    if table is None:
      return {}, None
    lod_of = lambda seen: float(lod_at(
        seen, resolution=self.resolution, training_kimg=self.training_kimg,
        transition_kimg=self.transition_kimg))
    seen = int(self.images_seen.numpy())
    level = math.floor(lod_of(seen))
    batch = table[level]
    other = [k for k in range(level) if table[k] != batch]
    if not other:  # the finer levels share the batch: it holds for good
      return {"batch": batch}, None
    changed = max(other)  # the next level with another batch
    per_step = batch * replicas * self.disc_iters
    # Steps start at seen + i * per_step and the lod never grows: find the
    # first step at that level by doubling, then bisection.
    below = lambda i: math.floor(lod_of(seen + i * per_step)) <= changed
    hi = 1
    while not below(hi):
      hi *= 2
    lo = hi // 2  # below(lo) is False (lo = 0: the current step)
    while hi - lo > 1:
      mid = (lo + hi) // 2
      lo, hi = (lo, mid) if below(mid) else (mid, hi)
    return {"batch": batch}, hi

  # --- Hooks ---------------------------------------------------------------------

  def prepare_reals(self, images: tf.Tensor) -> tf.Tensor:
    """ProGAN's process_reals on full-size reals: at level f = 2^floor(lod),
    lerp(B_f(x), B_2f(x), frac(lod)), B_k = k x k box down then nearest up."""
    lod = tf.convert_to_tensor(self.generator.lod)
    level = tf.cast(tf.floor(lod), tf.int32)
    t = lod - tf.floor(lod)

    def fade(k):
      def branch():
        a = block_average(images, 2 ** k)
        b = block_average(images, 2 ** (k + 1))
        return a + (b - a) * t
      return branch

    return tf.switch_case(level, [fade(k) for k in range(self.max_lod + 1)])

  def adversarial_d_loss(self, d_real, d_fake, *args: Any, **kwargs: Any) -> Metrics:
    """ModularGAN's D loss + drift * mean(D(real)^2) (keeps D's output near 0)."""
    metrics = super().adversarial_d_loss(d_real, d_fake, *args, **kwargs)
    drift = tf.reduce_mean(tf.square(d_real[1]))
    metrics["d_loss"] += self.drift * drift
    metrics["drift"] = drift
    return metrics

  def run_discriminator(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                        y_fake: Any):
    """D on the reals and on the fakes separately (the original's two calls):
    a minibatch-stddev group never holds both, so D's outputs on the reals do
    not depend on the step's fakes."""
    d_real = self.call_discriminator(real, y_real, tf.ones(tf.shape(real)[:1], tf.bool))
    d_fake = self.call_discriminator(fake, y_fake, tf.zeros(tf.shape(fake)[:1], tf.bool))
    return d_real, d_fake

  def discriminator_fn(self, x: tf.Tensor, y: Any) -> tf.Tensor:
    """D's logits for penalties: x in [0, 1], gradients measured in D's
    [-1, 1] coordinates (`net_range_gradient`), as the original's penalty.
    Value-based steps of a penalty (interpolation, DRAGAN's noise and clip)
    are affine, so they commute with the range map."""
    return super().discriminator_fn(net_range_gradient(x), y)

  # --- The training step -----------------------------------------------------------

  def train_step(self, features: dict[str, tf.Tensor], batch: int | None = None
                 ) -> Metrics:
    """Level update (and optimizer reset), ModularGAN's step on the level's
    batch, then images_seen += disc_iters * global batch. Replica context.

    batch: the level's examples per replica as a Python int (static shapes,
      for XLA: `static_step_kwargs` gives it and how long it holds); None
      slices by the lod at run time (a dynamic shape when `batch_sizes`
      varies).
    """
    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    self._begin_step()
    lod = tf.convert_to_tensor(self.generator.lod)
    per_replica = features["images"].shape[0]
    if per_replica is None:
      raise ValueError("ProgressiveGAN needs a static batch size (batches with "
                       "drop_remainder=True).")
    if batch is None:
      batch = self.step_batch_size(lod, per_replica, replicas)
    if batch is not None:
      features = {k: v[:batch] for k, v in features.items()}
    metrics = super().train_step(features)
    shown = tf.shape(features["images"])[0] * replicas * self.disc_iters
    self.images_seen.assign_add(tf.cast(shown, tf.int64))
    metrics["lod"] = lod
    return metrics

  def distributed_train_step(self, strategy: tf.distribute.Strategy,
                             features: Any, **static: Any) -> Metrics:
    """ModularGAN's; an XLA step called eagerly without the level's batch
    gets it here (a traced caller passes `static_step_kwargs()` itself)."""
    if self.jit_compile and not static and tf.executing_eagerly():
      images = strategy.experimental_local_results(features["images"])[0]
      static, _ = self.static_step_kwargs(int(images.shape[0]),
                                          strategy.num_replicas_in_sync)
    return super().distributed_train_step(strategy, features, **static)

  def checkpoint_items(self) -> dict[str, Any]:
    return {**super().checkpoint_items(), "images_seen": self.images_seen}
