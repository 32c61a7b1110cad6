"""ModularGAN: any generator, discriminator, loss and penalty (compare_gan's
modular_gan.py, Kurach, Lucic et al., 2019, arXiv:1807.04720).

One training step = `disc_iters` discriminator updates, each with its own real
batch and latents, then one generator update; the step counter counts G
updates. `train_step` runs in replica context (inside `strategy.run`); every
loss is divided by the number of replicas so that the summed gradients equal
those of the mean over the global batch.

Step inputs, per replica (B = per-replica batch, n = disc_iters):
  images: float32 [B, n, H, W, C] in [0, 1]; labels: int32 [B, n];
  z: float32 [B, n + 1, z_dim]; sampled_labels: int32 [B, n + 1];
  seeds: int32 [B, n + 1, 2] per-example seeds for random draws.
Slot i < n feeds D step i; slot n feeds the G step (with the reals of slot
n - 1). `make_step_inputs` builds these from images and labels.

Subclasses (SSGAN, S3GAN, ProGAN) override the hooks, not the loop:
`prepare_reals`, `preprocess`, `run_discriminator`, `discriminator_loss`,
`generator_loss`. Augmentation (`ADA.pipeline`, then `DiffAugment.policy`,
in gin) is `preprocess`: every image D sees, real or fake, in the D and the G
step, is augmented.
"""

from __future__ import annotations

from typing import Any, Callable

import gin
import keras
import tensorflow as tf

from compare_gan2.augment import diffaugment as augment_lib
from compare_gan2.core import config
from compare_gan2 import losses as loss_lib
from compare_gan2 import penalties as penalty_lib
from compare_gan2.architectures import base as arch_base
from compare_gan2.ops import normalization
from compare_gan2.ops import packing as packing_lib
from compare_gan2.gans import consistency  # noqa: F401 (registers cr, bcr, zcr)
from compare_gan2.gans import adaptive
from compare_gan2.gans import lecam  # noqa: F401 (registers the LeCam flavours)
from compare_gan2.gans import regularizer as reg_lib
from compare_gan2.gans.variables import VariableBag
from compare_gan2.core.registry import GANS

Metrics = dict[str, tf.Tensor]
DOutputs = tuple[tf.Tensor, tf.Tensor, tf.Tensor]

# Salts of the real and the fake batch's random draws (augmentation): the two
# batches of one step share seeds but must not share augmentations.
REAL_SALT, FAKE_SALT = 1, 2


def _num_replicas() -> int:
  ctx = tf.distribute.get_replica_context()
  return 1 if ctx is None else ctx.num_replicas_in_sync


@GANS.register("ModularGAN")
class ModularGAN:
  """A GAN assembled from parts chosen by gin.

  Create it under `strategy.scope()`: it owns the optimizers, the EMA
  generator and the step counter.

  Args:
    generator, discriminator: Keras models from `architectures.build`.
    num_classes: int. Classes of the dataset (0 if it has none).
    conditional: bool. Condition G and D on labels. Defaults to `False`.
    fit_label_distribution: bool. Fake labels are the real labels of the same
      batch (the data's label distribution) instead of the sampled ones.
    disc_iters: int. D updates per G update (`options.disc_iters`).
    lamba: float. Penalty weight (`options.lamba`).
    g_lr: float. Generator learning rate. Defaults to `2e-4`.
    d_lr: float. Discriminator learning rate; `None` means `g_lr`.
    g_optimizer_fn, d_optimizer_fn: factories taking `learning_rate`
      (`@tf.train.AdamOptimizer` with gin-set betas); default Adam.
    g_use_ema: bool. Keep an exponential moving average of G's weights, used
      for evaluation and export. Defaults to `False`.
    ema_decay: float. EMA decay. Defaults to `0.9999`.
    ema_start_step: int. Before this G step the EMA equals the weights.
      Defaults to `40000`.
    augmentation: `augment.DiffAugment`; default: the one gin configures
      (`DiffAugment.policy`, none unless set).
    jit_compile: bool. XLA-compile each replica's training step; with several
      replicas (MirroredStrategy) only each replica's losses and gradients,
      for networks without batch norm or spectral norm
      (docs/xla_multi_replica.md). Defaults to `False` (see
      benchmarks/train_speed.py for when it pays).
    data_range: (lo, hi) of the real data, or `None` for unbounded data (the
      2-D mixtures); penalties that perturb reals (DRAGAN) stay inside it. The
      runner passes the dataset's `value_range`. Defaults to `(0.0, 1.0)`.
    g_step_reuses_d_latents: bool. The G step takes the z and sampled labels of
      the last D step, as compare_gan's `model_fn` does on GPU (its G step
      trains on that step's fakes); `False` draws its own, as its unrolled TPU
      graph does. Defaults to `False`.
    d_regularizer: a regularizer of the losses by name or `@name` (LeCam:
      `lecam_stylegan2`, `lecam_biggan`; consistency: `cr`, `bcr`, `zcr`;
      docs/diffaugment.md), or a list of them, each added. Defaults to `None`.
    ada: `gans.adaptive.ADA`, adaptive discriminator augmentation; default:
      the one gin configures (`ADA.pipeline`, off unless set; docs/ada.md).
    simultaneous_updates: bool. D's and G's gradients at the same weights on
      the same batch and latents, applied together, as ALI's and PacGAN's
      code trains; needs disc_iters = 1. Defaults to `False` (D, then G).
  """

  def __init__(self, *, generator: keras.Model, discriminator: keras.Model,
               num_classes: int = 0, conditional: bool = False,
               fit_label_distribution: bool = False, disc_iters: int = 1,
               lamba: float = 1.0, g_lr: float = 2e-4, d_lr: float | None = None,
               g_optimizer_fn: Callable[..., Any] | None = None,
               d_optimizer_fn: Callable[..., Any] | None = None,
               g_use_ema: bool = False, ema_decay: float = 0.9999,
               ema_start_step: int = 40000,
               augmentation: augment_lib.DiffAugment | None = None,
               jit_compile: bool = False,
               data_range: tuple[float, float] | None = (0.0, 1.0),
               g_step_reuses_d_latents: bool = False, d_regularizer: Any = None,
               ada: adaptive.ADA | None = None, simultaneous_updates: bool = False):
    _check_parts(self, generator, discriminator, num_classes, conditional, disc_iters,
                 simultaneous_updates)
    self.generator = generator
    self.discriminator = discriminator
    self.num_classes = num_classes
    self.conditional = conditional
    self.fit_label_distribution = fit_label_distribution
    self.disc_iters = disc_iters
    self.simultaneous_updates = simultaneous_updates
    self.lamba = lamba
    self.g_lr = g_lr
    self.d_lr = g_lr if d_lr is None else d_lr
    self.g_use_ema = g_use_ema
    self.ema_decay = ema_decay
    self.ema_start_step = ema_start_step
    self.z_dim = generator.z_dim
    self.augmentation = augmentation or augment_lib.DiffAugment()
    self.heads = self.make_heads()
    self.g_optimizer = config.optimizer_from(g_optimizer_fn, self.g_lr)
    self.d_optimizer = config.optimizer_from(d_optimizer_fn, self.d_lr)
    self.g_optimizer.build(generator.trainable_variables)
    self.d_optimizer.build(self.d_variables)
    self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                   name="global_step",
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self.ema_generator = make_ema_generator(generator) if g_use_ema else None
    self.jit_compile = jit_compile
    self.data_range = None if data_range is None else tuple(data_range)
    self.g_step_reuses_d_latents = g_step_reuses_d_latents
    # Their state (LeCam's EMAs) is variables: made here, under the strategy's scope.
    self.regularizers = reg_lib.make_regularizers(d_regularizer)
    self.ada = adaptive.make_ada(ada)
    self.ada.build()  # p and its accumulators, under the scope too
    # (z, y_fake) of the D step being built, for the regularizers (zCR).
    self._d_latents: tuple[tf.Tensor, Any] | None = None
    self._compiled_train_step = None
    # Several replicas with jit_compile: XLA for each replica's losses and
    # gradients only (see distributed_train_step).
    self._split_jit = False
    self._compiled_gradients: dict[str, Any] = {}

  # --- Parts -----------------------------------------------------------------

  def make_heads(self) -> dict[str, keras.layers.Layer]:
    """Extra layers on D's features h that the variant trains with D (SSGAN's
    rotation head, S3GAN's class predictor). Built here, before the optimizer."""
    return {}

  def feature_dim(self) -> int:
    """Size of D's features h (one inference pass on a blank image)."""
    d = self.discriminator
    x = tf.zeros([1, d.resolution, d.resolution, d.colors])
    y = tf.zeros([1, self.num_classes]) if self.conditional else None
    return int(d(x, y, training=False)[2].shape[-1])

  @property
  def d_variables(self) -> list[tf.Variable]:
    """What the D step trains: D's variables and the heads'."""
    heads = [v for name in sorted(self.heads)
             for v in self.heads[name].trainable_variables]
    return self.discriminator.trainable_variables + heads

  @property
  def d_regularizer(self) -> Any:
    """The regularizer (None, the one, or the list of several)."""
    if len(self.regularizers) < 2:
      return self.regularizers[0] if self.regularizers else None
    return list(self.regularizers)

  @property
  def sampling_generator(self) -> keras.Model:
    """The generator used for evaluation and export (EMA if enabled)."""
    return self.ema_generator if self.ema_generator is not None else self.generator

  def checkpoint_items(self) -> dict[str, Any]:
    """Everything a checkpoint must hold to resume training exactly."""
    models = dict(generator=self.generator, discriminator=self.discriminator,
                  ema_generator=self.ema_generator)
    items = {name: VariableBag(model.weights) for name, model in models.items()
             if model is not None}
    if self.heads:
      items["heads"] = VariableBag([w for name in sorted(self.heads)
                                    for w in self.heads[name].weights])
    items["g_optimizer"] = VariableBag(self.g_optimizer.variables)
    items["d_optimizer"] = VariableBag(self.d_optimizer.variables)
    items["global_step"] = self.global_step
    state = [v for r in self.regularizers for v in r.variables]
    if state:
      items["d_regularizer"] = VariableBag(state)
    if self.ada:
      items["ada"] = VariableBag(self.ada.variables)
    return items

  def one_hot(self, labels: tf.Tensor) -> tf.Tensor | None:
    """One-hot labels for G and D, or None when unconditional."""
    if not self.conditional:
      return None
    return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

  # --- Hooks for variants ------------------------------------------------------

  def prepare_reals(self, images: tf.Tensor) -> tf.Tensor:
    """Applied to the real images of every step (ProGAN fades them here)."""
    return images

  def preprocess(self, images: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
    """Applied to real and fake images before D: ADA, then DiffAugment (whose
    zero fill and cutout must not be resampled by ADA's geometric ops)."""
    if self.ada:
      images = self.ada(images, seeds, salt)
    if not self.augmentation:
      return images
    return self.augmentation(images, seeds, salt)

  def call_discriminator(self, x: tf.Tensor, y: Any, is_real: tf.Tensor,
                         training: bool = True) -> DOutputs:
    """D (in training mode unless `training` is False) on a batch of reals
    (where `is_real`) and fakes. S3GAN resolves the labels of unlabelled
    reals here."""
    del is_real
    return self.discriminator(x, y, training=training)

  def generate(self, z: tf.Tensor, y: Any, training: bool = True) -> tf.Tensor:
    """G(z, y); with D.packing = m and batch norm in G, in m calls, one per
    packing slot, as PacGAN makes its fakes (ops/packing.py)."""
    packing = self.discriminator.packing
    if packing == 1 or self.generator.batch_norm_fn is None:
      return self.generator(z, y, training=training)
    return packing_lib.generate_by_slot(self.generator, z, y, packing, training=training)

  def run_discriminator(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                        y_fake: Any) -> tuple[DOutputs, DOutputs]:
    """D on reals and fakes in one call (matters for batch norm in D). With
    D.packing = m, D has one output row per m samples."""
    x = tf.concat([real, fake], axis=0)
    y = None if y_real is None else tf.concat([y_real, y_fake], axis=0)
    is_real = tf.concat([tf.ones(tf.shape(real)[:1], tf.bool),
                         tf.zeros(tf.shape(fake)[:1], tf.bool)], 0)
    probs, logits, h = self.call_discriminator(x, y, is_real)
    n = tf.shape(real)[0] // self.discriminator.packing
    split = lambda t: (t[:n], t[n:])
    (pr, pf), (lr, lf), (hr, hf) = split(probs), split(logits), split(h)
    return (pr, lr, hr), (pf, lf, hf)

  def discriminator_fn(self, x: tf.Tensor, y: Any) -> tf.Tensor:
    """D's logits in training mode, as penalties see it."""
    return self.discriminator(x, y, training=True)[1]

  def discriminator_loss(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                         y_fake: Any, seeds: tf.Tensor,
                         penalty_images: tuple[tf.Tensor, tf.Tensor] | None = None
                         ) -> Metrics:
    """The D loss ("d_loss") and its parts: loss + lamba * penalty.

    `penalty_images` (real, fake) are what the penalty sees; default the
    images D saw (`DiffAugment.penalty_on_augmented=False` passes the
    un-augmented ones)."""
    d_real, d_fake = self.run_discriminator(real, y_real, fake, y_fake)
    return self.adversarial_d_loss(d_real, d_fake, real, y_real, fake, seeds,
                                   penalty_images)

  def adversarial_d_loss(self, d_real: DOutputs, d_fake: DOutputs, real: tf.Tensor,
                         y_real: Any, fake: tf.Tensor, seeds: tf.Tensor,
                         penalty_images: tuple[tf.Tensor, tf.Tensor] | None
                         ) -> Metrics:
    """`loss.fn` on D's outputs plus lamba * `penalty.fn` (plus the
    regularizers' D terms; LeCam updates its state here, once per D step)."""
    (d_real, d_real_logits, _), (d_fake, d_fake_logits, _) = d_real, d_fake
    d_loss, d_loss_real, d_loss_fake, _ = loss_lib.get_losses(
        d_real=d_real, d_fake=d_fake, d_real_logits=d_real_logits,
        d_fake_logits=d_fake_logits)
    x, x_fake = penalty_images or (real, fake)
    penalty = self.penalty_loss(x, x_fake, y_real, seeds)
    metrics = {"d_loss": d_loss + self.lamba * penalty, "d_loss_real": d_loss_real,
               "d_loss_fake": d_loss_fake, "penalty": penalty}
    if self.ada:
      metrics.update(self.ada.sign_stats(d_real_logits))  # r_t's, popped by d_step
    if self.regularizers:
      z, y_fake = self._d_latents or (None, None)
      step = reg_lib.DStep(
          real=real, y_real=y_real, fake=fake, y_fake=y_fake,
          real_logits=d_real_logits, fake_logits=d_fake_logits, z=z, seeds=seeds,
          step=self.global_step, discriminate=self._discriminate,
          generate=lambda z, y: self.preprocess(self.generate(z, y), seeds, FAKE_SALT))
      for regularizer in self.regularizers:
        weighted, reg_metrics = regularizer.d_term(step)
        metrics["d_loss"] += weighted
        metrics.update(reg_metrics)
    return metrics

  def _discriminate(self, x: tf.Tensor, y: Any, is_real: bool) -> tf.Tensor:
    """D's logits in training mode on a batch of reals or of fakes."""
    flags = tf.fill(tf.shape(x)[:1], is_real)
    return self.call_discriminator(x, y, flags)[1]

  def regularize_g(self, metrics: Metrics, fake: tf.Tensor, z: tf.Tensor,
                   y_fake: Any, seeds: tf.Tensor) -> Metrics:
    """G's loss plus the regularizers' G terms (zCR); fake = G(z), raw."""
    step = reg_lib.GStep(fake=fake, z=z, y_fake=y_fake, seeds=seeds,
                         step=self.global_step,
                         generate=self.generate)
    for regularizer in self.regularizers:
      weighted, reg_metrics = regularizer.g_term(step)
      metrics["g_loss"] += weighted
      metrics.update(reg_metrics)
    return metrics

  def penalty_loss(self, x: tf.Tensor, x_fake: tf.Tensor, y_real: Any,
                   seeds: tf.Tensor) -> tf.Tensor:
    """`penalty.fn` (unweighted) on reals x and fakes x_fake [B, H, W, C]; a
    scalar. S3GAN skips it unless `S3GAN.use_penalty`."""
    return penalty_lib.get_penalty_loss(
        discriminator=self.discriminator_fn, discriminator_model=self.discriminator,
        discriminator_variables=self.d_variables, x=x, x_fake=x_fake, y=y_real,
        seeds=seeds, data_range=self.data_range)

  def generator_loss(self, real: tf.Tensor, y_real: Any, fake: tf.Tensor,
                     y_fake: Any, seeds: tf.Tensor) -> Metrics:
    """The G loss ("g_loss"). Reals go through D too only when D has batch
    norm, so that its batch statistics match the D step."""
    del seeds
    if self.discriminator.batch_norm_fn is not None:
      _, d_fake = self.run_discriminator(real, y_real, fake, y_fake)
    else:
      d_fake = self.call_discriminator(fake, y_fake, tf.zeros(tf.shape(fake)[:1], tf.bool))
    return self.adversarial_g_loss(d_fake)

  def adversarial_g_loss(self, d_fake: DOutputs) -> Metrics:
    """G's side of `loss.fn`."""
    d_fake, d_fake_logits, _ = d_fake
    *_, g_loss = loss_lib.get_losses(
        d_real=tf.ones_like(d_fake), d_fake=d_fake,
        d_real_logits=tf.zeros_like(d_fake_logits), d_fake_logits=d_fake_logits)
    return {"g_loss": g_loss}

  # --- The training step -------------------------------------------------------

  def _slot(self, features: dict[str, tf.Tensor], i: int) -> dict[str, tf.Tensor]:
    real_slot = min(i, self.disc_iters - 1)
    # The G step (i = disc_iters) may reuse the last D step's latents.
    latent_slot = real_slot if self.g_step_reuses_d_latents else i
    return {"images": features["images"][:, real_slot],
            "labels": features["labels"][:, real_slot],
            "z": features["z"][:, latent_slot],
            "sampled_labels": features["sampled_labels"][:, latent_slot],
            "seeds": features["seeds"][:, i]}

  def _labels(self, inputs: dict[str, tf.Tensor]) -> tuple[Any, Any]:
    y_real = self.one_hot(inputs["labels"])
    fake_labels = (inputs["labels"] if self.fit_label_distribution
                   else inputs["sampled_labels"])
    return y_real, self.one_hot(fake_labels)

  def d_step(self, inputs: dict[str, tf.Tensor]) -> Metrics:
    """One discriminator update on a real batch and fresh fakes."""
    metrics, grads = self._gradients(self.d_gradients, inputs)
    self.d_optimizer.apply_gradients(zip(grads, self.d_variables))
    if self.ada:
      self.ada.accumulate({k: metrics.pop(k) for k in ("ada_signs_sum", "ada_signs_count")})
    return metrics

  def _gradients(self, fn: Callable[..., Any], inputs: dict[str, tf.Tensor]) -> Any:
    """fn(inputs), XLA-compiled when the step of several replicas is split
    (see `distributed_train_step`)."""
    if not self._split_jit:
      return fn(inputs)
    if fn.__name__ not in self._compiled_gradients:
      self._compiled_gradients[fn.__name__] = tf.function(fn, jit_compile=True)
    return self._compiled_gradients[fn.__name__](inputs)

  def d_gradients(self, inputs: dict[str, tf.Tensor]
                  ) -> tuple[Metrics, list[tf.Tensor]]:
    """The D step's metrics and this replica's gradients of `d_variables`
    (not yet summed over replicas)."""
    y_real, y_fake = self._labels(inputs)
    seeds = inputs["seeds"]
    raw_fake = tf.stop_gradient(self.generate(inputs["z"], y_fake))
    raw_real = self.prepare_reals(inputs["images"])
    real = self.preprocess(raw_real, seeds, REAL_SALT)
    fake = self.preprocess(raw_fake, seeds, FAKE_SALT)
    penalty_images = (None if self.augmentation.penalty_on_augmented
                      else (raw_real, raw_fake))
    variables = self.d_variables
    self._d_latents = (inputs["z"], y_fake)
    try:
      with tf.GradientTape() as tape:
        metrics = self.discriminator_loss(real, y_real, fake, y_fake, seeds,
                                          penalty_images=penalty_images)
        scaled = metrics["d_loss"] / _num_replicas()
    finally:
      self._d_latents = None
    return metrics, tape.gradient(scaled, variables)

  def g_step(self, inputs: dict[str, tf.Tensor]) -> Metrics:
    """One generator update."""
    metrics, grads = self._gradients(self.g_gradients, inputs)
    self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
    return metrics

  def g_gradients(self, inputs: dict[str, tf.Tensor]
                  ) -> tuple[Metrics, list[tf.Tensor]]:
    """The G step's metrics and this replica's gradients of G's trainable
    variables (not yet summed over replicas)."""
    y_real, y_fake = self._labels(inputs)
    seeds = inputs["seeds"]
    real = self.preprocess(self.prepare_reals(inputs["images"]), seeds, REAL_SALT)
    variables = self.generator.trainable_variables
    with tf.GradientTape() as tape:
      raw_fake = self.generate(inputs["z"], y_fake)
      fake = self.preprocess(raw_fake, seeds, FAKE_SALT)
      metrics = self.generator_loss(real, y_real, fake, y_fake, inputs["seeds"])
      if self.regularizers:
        metrics = self.regularize_g(metrics, raw_fake, inputs["z"], y_fake, seeds)
      scaled = metrics["g_loss"] / _num_replicas()
    return metrics, tape.gradient(scaled, variables)

  def update_ema(self) -> None:
    """EMA of G's trainable weights; other weights (BN statistics, spectral
    norm vectors) are copied. Before `ema_start_step` the EMA is the weights."""
    if self.ema_generator is None:
      return
    started = tf.cast(self.global_step >= self.ema_start_step, tf.float32)
    decay = self.ema_decay * started
    for e, w in zip(self.ema_generator.weights, self.generator.weights):
      if w.trainable:
        e.assign(decay * e + (1.0 - decay) * w)
      else:
        e.assign(w)

  def train_step(self, features: dict[str, tf.Tensor]) -> Metrics:
    """disc_iters D updates, one G update (or both at once:
    `simultaneous_updates`), EMA, step + 1. Replica context."""
    if self.simultaneous_updates:
      metrics = simultaneous_step(self, features)
    else:
      for i in range(self.disc_iters):
        metrics = self.d_step(self._slot(features, i))
      metrics.update(self.g_step(self._slot(features, self.disc_iters)))
    self.global_step.assign_add(1)
    self.update_ema()
    if self.ada:
      metrics.update(self.ada.tune(self.global_step))
    return metrics

  def static_step_kwargs(self, per_replica: int, replicas: int
                         ) -> tuple[dict[str, Any], int | None]:
    """(Python keyword arguments of `train_step` that fix the step's shapes,
    how many steps from now they hold; None: all). A compiled loop
    retraces per distinct value and ends where they change. ModularGAN's
    shapes never change: ({}, None)."""
    del per_replica, replicas
    return {}, None

  def distributed_train_step(self, strategy: tf.distribute.Strategy,
                             features: Any, **static: Any) -> Metrics:
    """Runs `train_step` on every replica; metrics averaged over replicas.
    `static`: the `static_step_kwargs` (Python values) for `train_step`."""
    step = self.train_step
    # On TPUs the whole step is compiled anyway.
    if self.jit_compile and not isinstance(strategy, tf.distribute.TPUStrategy):
      if strategy.num_replicas_in_sync > 1:
        # XLA cannot hold MirroredStrategy's merge_calls (the gradients'
        # all-reduce, synchronised batch norm, spectral norm's u): each
        # replica's losses and gradients are compiled, the update is not.
        check_split_jit(self, strategy.num_replicas_in_sync)
        self._split_jit = True
      elif self._compiled_train_step is None:
        self._compiled_train_step = tf.function(self.train_step, jit_compile=True)
      if not self._split_jit:
        step = self._compiled_train_step
    per_replica = strategy.run(step, args=(features,), kwargs=static)
    return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  # --- Sampling ----------------------------------------------------------------

  def sample(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
    """Images in [0, 1] from the sampling (EMA) generator, inference mode."""
    y = self.one_hot(labels) if labels is not None else None
    if self.conditional and y is None:
      raise ValueError("A conditional GAN needs labels to sample.")
    return self.sampling_generator(z, y, training=False)


def _check_parts(gan: "ModularGAN", generator: keras.Model, discriminator: keras.Model,
                 num_classes: int, conditional: bool, disc_iters: int,
                 simultaneous_updates: bool) -> None:
  """One clear ValueError for parts that do not fit together."""
  if conditional and num_classes < 1:
    raise ValueError("A conditional GAN needs a dataset with labels. "
                     f"Received: conditional=True, num_classes={num_classes}")
  if conditional != generator.conditional or conditional != discriminator.conditional:
    raise ValueError(
        f"conditional={conditional} but the networks were built with "
        f"num_classes={generator.num_classes}/{discriminator.num_classes}; "
        "build them with num_classes=0 for an unconditional GAN.")
  if disc_iters < 1:
    raise ValueError(f"disc_iters must be >= 1. Received: {disc_iters}")
  if simultaneous_updates and disc_iters != 1:
    raise ValueError("simultaneous_updates takes D's and G's gradients on one batch: "
                     f"it needs disc_iters = 1. Received: disc_iters={disc_iters}")
  if discriminator.packing > 1 and type(gan) is not ModularGAN:
    raise ValueError(f"D.packing (PacGAN) is for ModularGAN; {type(gan).__name__} "
                     "gives D per-sample labels or rotations that packing would mix. "
                     f"Received: D.packing={discriminator.packing}")


def make_ema_generator(generator: keras.Model) -> keras.Model:
  """A copy of `generator` (same weights) to hold its EMA."""
  # The generator's dtype policy (mixed precision) for every sublayer.
  with arch_base.dtype_policy(generator.dtype_policy):
    ema = type(generator).from_config(generator.get_config())
    z = tf.zeros([1, generator.z_dim])
    y = tf.zeros([1, generator.num_classes]) if generator.conditional else None
    ema(z, y, training=False)
  for e, w in zip(ema.weights, generator.weights):
    if e.shape != w.shape:
      raise RuntimeError(f"EMA generator weight {e.path} does not match {w.path}.")
    e.assign(w)
  return ema


def simultaneous_step(gan: "ModularGAN", features: dict[str, tf.Tensor]
                      ) -> dict[str, tf.Tensor]:
  """ALI's and PacGAN's update (their `ali_algorithm`): D's and G's gradients
  at the same weights, on the same reals and latents (slot 0), then both
  applied."""
  inputs = gan._slot(features, 0)  # pylint: disable=protected-access
  # One graph in the original: each batch norm's population statistics move
  # once a step, with the mean of its applications' moments. The G pass
  # repeats the D pass's G and D(fake) on the same weights and z.
  with normalization.averaged_updates():
    d_metrics, d_grads = gan._gradients(gan.d_gradients, inputs)  # pylint: disable=protected-access
  with normalization.frozen_statistics():
    g_metrics, g_grads = gan._gradients(gan.g_gradients, inputs)  # pylint: disable=protected-access
  gan.d_optimizer.apply_gradients(zip(d_grads, gan.d_variables))
  gan.g_optimizer.apply_gradients(zip(g_grads, gan.generator.trainable_variables))
  if gan.ada:
    gan.ada.accumulate({k: d_metrics.pop(k) for k in ("ada_signs_sum", "ada_signs_count")})
  return {**d_metrics, **g_metrics}


def check_split_jit(gan: ModularGAN, replicas: int) -> None:
  """Refuses jit_compile on several replicas for `gan`'s networks whose forward
  pass synchronises replicas (docs/xla_multi_replica.md)."""
  if any(r.synchronises_replicas for r in gan.regularizers):
    raise ValueError(
        f"jit_compile with {replicas} replicas XLA-compiles each replica's losses, "
        "which must not synchronise replicas; the d_regularizer averages D's "
        "outputs over replicas (an all-reduce) inside D's loss. Train on a single "
        "device, or set jit_compile=False (docs/xla_multi_replica.md).")
  nets = [gan.generator, gan.discriminator, *gan.heads.values()]
  layers = [l for net in nets for l in net._flatten_layers()]  # pylint: disable=protected-access
  synced = sorted({l.name for l in layers
                   if isinstance(l, normalization.StandardizeBatch)
                   or (getattr(l, "use_sn", False) and hasattr(l, "u"))})
  if synced:
    raise ValueError(
        f"jit_compile with {replicas} replicas XLA-compiles each replica's losses "
        "and gradients, which must not synchronise replicas; batch norm "
        "(cross-replica moments) and spectral norm (the update of u) do, in "
        f"{', '.join(synced[:6])}{' ...' if len(synced) > 6 else ''}. TensorFlow "
        f"{tf.__version__} cannot compile MirroredStrategy's merge_call: see "
        "docs/xla_multi_replica.md. Train on a single device or set jit_compile=False.")


@gin.configurable("GPUModularGAN")
def gpu_modular_gan(**kwargs: Any) -> ModularGAN:
  """The original's GPU flavour of ModularGAN (`options.gan_class =
  @GPUModularGAN`): one class serves every device here."""
  return ModularGAN(**kwargs)


gpu_modular_gan.registry_name = "ModularGAN"
