"""The Runner: strategy, dataset and GAN from gin; the training loop with
checkpoints, summaries, sample grids and a progress line.

A run directory holds everything about the run:
  run.json                     what was trained (architecture, data, seed)
  operative_config-<step>.gin  the gin values in effect
  checkpoint, model.ckpt-*     checkpoints (`tf.train.latest_checkpoint`)
  events.out.tfevents.*        TensorBoard scalars and sample images
  samples/step_<step>.png      sample grids of the (EMA) generator
  scores.csv, scores.jsonl     evaluation rows (`evaluate.py`)
  TRAIN_DONE                   written when training reached the last step
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import random
import shutil
import time
from typing import Any, Callable

import gin
import keras
import numpy as np
import tensorflow as tf

from compare_gan2 import architectures, config, files
from compare_gan2 import data as data_lib
from compare_gan2.gans import make_step_inputs
from compare_gan2.ops import normalization
from compare_gan2.registry import GANS
from compare_gan2.runner import images as images_lib
from compare_gan2.runner import strategy as strategy_lib

logger = logging.getLogger("compare_gan2")

TRAIN_DONE = "TRAIN_DONE"
RUN_INFO = "run.json"
CHECKPOINT_PREFIX = "model.ckpt"
# Keys of run.json that a resumed run must share with the checkpoint.
STANDING_STATISTICS = ("accu_mean", "accu_variance", "accu_counter")
MODEL_KEYS = ("architecture", "gan_class", "resolution", "colors", "z_dim",
              "num_classes", "conditional")


class NaNLossError(FloatingPointError):
  """A loss became NaN or infinite; training stopped without saving."""


class IncompatibleCheckpointError(ValueError):
  """model_dir holds checkpoints of a different model."""


@gin.configurable("run_config")
def run_config(tf_random_seed: int | None = None, iterations_per_loop: int = 1000,
               save_checkpoints_steps: int = 5000, keep_checkpoint_max: int = 10,
               num_sample_images: int = 64, deterministic_ops: bool = False,
               num_standing_batches: int = 16,
               num_accu_examples: int | None = None,
               standing_batch_size: int | None = None,
               mixed_precision: bool = False) -> dict[str, Any]:
  """Run-level settings of the original (`run_config.*`).

  Args:
    tf_random_seed: int. Seeds initialisation and the latents of every step;
      `None` draws one and records it in run.json (a resumed run reuses it).
    iterations_per_loop: int. Training steps per tf.function call.
    save_checkpoints_steps: int. Checkpoint (and sample grid) period.
    keep_checkpoint_max: int. Newest checkpoints kept.
    num_sample_images: int. Images in each sample grid.
    deterministic_ops: bool. `tf.config.experimental.enable_op_determinism()`
      (bitwise reruns on GPUs too, at some speed cost).
    num_standing_batches: int. With `standardize_batch.use_moving_averages =
      False` (BigGAN), G's inference statistics are averaged over this many
      batches before sampling or evaluating a checkpoint.
    num_accu_examples: int or None. If set, the standing statistics use
      num_accu_examples // standing batch size batches instead (the
      original's eval_gan_lib._update_bn_accumulators: 204800 examples in
      batches of 64, i.e. 3200 batches).
    standing_batch_size: int or None. Batch size of the standing-statistics
      passes; None takes `options.batch_size` (the original's evaluation
      used 64). Each batch's moments count once in the average, as in the
      original.
    mixed_precision: bool. G and D compute in bfloat16 on float32 weights
      (for GPUs and TPUs; CPUs gain nothing); losses stay float32.
  """
  for key, value in (("iterations_per_loop", iterations_per_loop),
                     ("save_checkpoints_steps", save_checkpoints_steps),
                     ("keep_checkpoint_max", keep_checkpoint_max),
                     ("num_sample_images", num_sample_images),
                     ("num_standing_batches", num_standing_batches)):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
      raise ValueError(f"`run_config.{key}` must be a positive integer. "
                       f"Received: {key}={value!r}")
  for key, value in (("num_accu_examples", num_accu_examples),
                     ("standing_batch_size", standing_batch_size)):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
      raise ValueError(f"`run_config.{key}` must be a positive integer or None. "
                       f"Received: {key}={value!r}")
  if tf_random_seed is not None and not 0 <= tf_random_seed < 2**31:
    raise ValueError("`run_config.tf_random_seed` must be in [0, 2**31). "
                     f"Received: {tf_random_seed!r}")
  return dict(tf_random_seed=tf_random_seed,
              iterations_per_loop=iterations_per_loop,
              save_checkpoints_steps=save_checkpoints_steps,
              keep_checkpoint_max=keep_checkpoint_max,
              num_sample_images=num_sample_images,
              deterministic_ops=deterministic_ops,
              num_standing_batches=num_standing_batches,
              num_accu_examples=num_accu_examples,
              standing_batch_size=standing_batch_size,
              mixed_precision=mixed_precision)


def _gan_is_conditional(gan_class: str) -> bool:
  """`<class>.conditional` from gin, looked up along the class hierarchy (an
  SSGAN takes `ModularGAN.conditional`), else the nearest signature default."""
  for klass in GANS.get(gan_class).__mro__:
    name = klass.__dict__.get("registry_name")
    if name:
      try:
        return bool(gin.query_parameter(f"{name}.conditional"))
      except ValueError:  # not bound
        pass
    if "__init__" in klass.__dict__:
      param = inspect.signature(klass.__init__).parameters.get("conditional")
      if param is not None and param.default is not inspect.Parameter.empty:
        return bool(param.default)
  return False


class Progress:
  """One line per training loop: step, losses, steps/s and ETA."""

  def __init__(self, start: int, total: int):
    self.start, self.total = start, total
    self.start_time = time.time()
    self.last_step, self.last_time = start, self.start_time

  def update(self, step: int, metrics: dict[str, float]) -> float:
    now = time.time()
    rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
    overall = (step - self.start) / max(now - self.start_time, 1e-9)
    self.last_step, self.last_time = step, now
    eta = (self.total - step) / overall if overall > 0 else math.inf
    losses = " ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()))
    logger.info("step %d/%d (%.0f%%) | %s | %.2f steps/s | ETA %s", step,
                self.total, 100.0 * step / self.total, losses, rate,
                _duration(eta))
    return rate


def _duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Runner:
  """Builds a run from gin and trains, saves, resumes and samples it.

  Args:
    model_dir: str. The run directory (created if missing).
    strategy: tf.distribute strategy. Defaults to the default strategy.
    fake_data: bool. Random data of the dataset's shape (`--data_fake_dataset`).
    tfds_data_dir: str. Where tfds datasets are prepared (`--tfds_data_dir`).
  """

  def __init__(self, model_dir: str, *,
               strategy: tf.distribute.Strategy | None = None,
               fake_data: bool = False, tfds_data_dir: str | None = None):
    self.model_dir = model_dir
    self.strategy = strategy or tf.distribute.get_strategy()
    self.is_chief = strategy_lib.is_chief(self.strategy)
    self.options = config.options()
    self.run_config = run_config()
    if self.run_config["deterministic_ops"]:
      tf.config.experimental.enable_op_determinism()
    self.dataset = data_lib.get_dataset(fake=fake_data, tfds_data_dir=tfds_data_dir)
    replicas = self.strategy.num_replicas_in_sync
    if self.options["batch_size"] % replicas:
      raise ValueError(
          f"options.batch_size={self.options['batch_size']} must divide evenly "
          f"over the {replicas} replicas of the strategy.")
    gan_class = GANS.name_of(self.options["gan_class"])
    conditional = _gan_is_conditional(gan_class)
    self.info = dict(
        architecture=self.options["architecture"], gan_class=gan_class,
        resolution=self.dataset.resolution, colors=self.dataset.colors,
        z_dim=self.options["z_dim"],
        num_classes=self.dataset.num_classes if conditional else 0,
        conditional=conditional, dataset=self.dataset.name,
        # Checked by the command line when a run continues (cli.check_fake_data_flag).
        fake_data=bool(fake_data))
    os.makedirs(model_dir, exist_ok=True)
    self.seed = self._check_run_info()
    keras.utils.set_random_seed(self.seed)
    with self.strategy.scope():
      generator, discriminator = architectures.build(
          self.info["architecture"], resolution=self.info["resolution"],
          colors=self.info["colors"], z_dim=self.info["z_dim"],
          num_classes=self.info["num_classes"],
          mixed_precision=self.run_config["mixed_precision"])
      self.gan = GANS.make(
          gan_class, generator=generator, discriminator=discriminator,
          num_classes=self.dataset.num_classes,
          disc_iters=self.options["disc_iters"], lamba=self.options["lamba"],
          data_range=self.dataset.value_range)
      self.checkpoint = tf.train.Checkpoint(**self.gan.checkpoint_items())
    # Workers other than the chief must save too (the save is collective),
    # into a scratch directory that is removed afterwards.
    self._save_dir = model_dir if self.is_chief else os.path.join(
        model_dir, f".worker_{strategy_lib.worker_id(self.strategy)}")
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self._save_dir, checkpoint_name=CHECKPOINT_PREFIX,
        max_to_keep=self.run_config["keep_checkpoint_max"])
    self._train_loop_fn = None
    self._writer = None
    self._standing_step = -1

  # --- Run directory ---------------------------------------------------------------

  def _check_run_info(self) -> int:
    """Checks run.json against this config (or writes it); returns the seed."""
    path = os.path.join(self.model_dir, RUN_INFO)
    seed = self.run_config["tf_random_seed"]
    if os.path.exists(path):
      with open(path) as f:
        saved = json.load(f)
      diff = {k: (saved.get(k), self.info[k]) for k in MODEL_KEYS
              if saved.get(k) != self.info[k]}
      if diff and tf.train.latest_checkpoint(self.model_dir):
        detail = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
        raise IncompatibleCheckpointError(
            f"{self.model_dir} holds checkpoints of another model ({detail}). "
            "Use a new --model_dir, or the gin config of that run.")
      if seed is None:
        seed = saved.get("seed")
    if seed is None:
      if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise ValueError("Multi-worker training needs `run_config.tf_random_seed`"
                         " so that every worker draws the same latents.")
      seed = random.SystemRandom().randrange(2**31)
    if self.is_chief:
      files.write_json(path, {**self.info, "seed": seed,
                         "num_replicas": self.strategy.num_replicas_in_sync})
    return int(seed)

  @property
  def step(self) -> int:
    return int(self.gan.global_step.numpy())

  def restore(self) -> int:
    """Restores the newest checkpoint if there is one; returns the step."""
    latest = tf.train.latest_checkpoint(self.model_dir)
    if latest is None:
      return 0
    self.restore_from(latest)
    logger.info("Resumed from %s (step %d).", latest, self.step)
    return self.step

  def restore_from(self, path: str) -> None:
    self._standing_step = -1  # the restored weights need their own statistics
    try:
      self.checkpoint.restore(path).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
      raise IncompatibleCheckpointError(
          f"Checkpoint {path} does not match this model "
          f"({self.info['architecture']}, {self.info['resolution']} px): "
          f"{str(e).splitlines()[0][:300]}. Use a new --model_dir, or the gin "
          "config of that run.") from e

  def write_operative_config(self, step: int) -> str:
    """operative_config-<step>.gin: the gin values this run (from `step` on)
    used; written once the first loop has traced everything."""
    path = os.path.join(self.model_dir, f"operative_config-{step}.gin")
    if self.is_chief:
      files.write_text(path, gin.operative_config_str())
    return path

  # --- Data --------------------------------------------------------------------------

  def train_inputs(self, start_step: int) -> tf.data.Dataset:
    """Global batches of step inputs from `start_step` on: the same stream
    whether the run started there or resumed there."""
    n, seed = self.gan.disc_iters, self.seed
    ds = self.dataset.input_fn("train", self.options["batch_size"] * n,
                               skip_batches=start_step)

    def to_step_inputs(step, batch):
      images, labels = batch
      return make_step_inputs(images, labels, disc_iters=n, z_dim=self.gan.z_dim,
                              num_classes=self.dataset.num_classes, seed=seed,
                              step=step)

    # Off the step's critical path: built in parallel, ahead of the step.
    ds = ds.enumerate(start=start_step).map(
        to_step_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options)

  # --- Training ----------------------------------------------------------------------

  def _train_loop(self) -> Callable[..., dict[str, tf.Tensor]]:
    if self._train_loop_fn is None:
      gan, strategy = self.gan, self.strategy

      @tf.function
      def train_loop(iterator, num_steps):
        metrics = gan.distributed_train_step(strategy, next(iterator))
        for _ in tf.range(num_steps - 1):
          metrics = gan.distributed_train_step(strategy, next(iterator))
        return metrics

      self._train_loop_fn = train_loop
    return self._train_loop_fn

  def train(self, on_checkpoint: Callable[[int, str], None] | None = None,
            checkpoint_every: int | None = None) -> int:
    """Trains to `options.training_steps`, resuming from the newest checkpoint.

    Args:
      on_checkpoint: called with (step, path) after each checkpoint (chief).
      checkpoint_every: extra checkpoint period (e.g. the eval period).
    Returns the final step.
    """
    total = self.options["training_steps"]
    cfg = self.run_config
    start = self.restore()
    if start >= total:
      logger.info("Training already reached step %d of %d.", start, total)
      self._finish()
      return start
    periods = [cfg["save_checkpoints_steps"]] + ([checkpoint_every] if checkpoint_every else [])
    iterator = iter(self.strategy.experimental_distribute_dataset(
        self.train_inputs(start)))
    progress = Progress(start, total)
    step, wrote_config = start, False
    logger.info("Training %s (%s) on %s from step %d to %d, %d replica(s), "
                "global batch %d.", self.info["architecture"],
                self.info["gan_class"], self.dataset.name, start, total,
                self.strategy.num_replicas_in_sync, self.options["batch_size"])
    while step < total:
      boundary = min(((step // p) + 1) * p for p in periods)
      num_steps = min(cfg["iterations_per_loop"], total - step, boundary - step)
      metrics = self._train_loop()(iterator, tf.constant(num_steps))
      values = {k: float(v) for k, v in metrics.items()}
      step = self.step
      bad = sorted(k for k, v in values.items() if not math.isfinite(v))
      if bad:
        raise NaNLossError(
            f"{', '.join(bad)} became NaN/inf between steps {step - num_steps} "
            f"and {step}; stopped without saving. The last good checkpoint is "
            f"{self.manager.latest_checkpoint or 'none (no checkpoint yet)'}.")
      if not wrote_config:
        self.write_operative_config(start)
        wrote_config = True
      rate = progress.update(step, values)
      self.write_scalars(step, {**values, "steps_per_sec": rate})
      if step % cfg["save_checkpoints_steps"] == 0 or step == total or (
          checkpoint_every and step % checkpoint_every == 0):
        path = self.save()
        if on_checkpoint is not None and self.is_chief:
          on_checkpoint(step, path)
    self._finish()
    return step

  def save(self) -> str:
    """Checkpoint plus sample grid at the current step."""
    path = self.manager.save(checkpoint_number=self.step)
    self.write_samples()
    if not self.is_chief:
      shutil.rmtree(self._save_dir, ignore_errors=True)
    return path

  def _finish(self) -> None:
    if self.is_chief:
      files.write_text(os.path.join(self.model_dir, TRAIN_DONE),
                  f"step {self.step}\n")
    if self._writer is not None:
      self._writer.flush()

  # --- Samples and summaries ------------------------------------------------------

  def sample_inputs(self, num: int, seed_offset: int = 0
                    ) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Fixed latents (`eval_z`) and labels (classes in turn) for samples."""
    z = config.sample_eval_z([num, self.gan.z_dim],
                             seed=tf.constant([self.seed, 1_000_003 + seed_offset]))
    labels = None
    if self.gan.conditional:
      labels = tf.range(num, dtype=tf.int32) % self.gan.num_classes
    return z, labels

  def standing_batches(self) -> tuple[int, int]:
    """(batch size, number of batches) of the standing statistics:
    `run_config.num_standing_batches` batches of `options.batch_size`, or
    with `run_config.num_accu_examples` set, num_accu_examples // batch
    size batches (the original's eval_gan_lib: 204800 // 64 = 3200)."""
    batch = self.run_config["standing_batch_size"] or self.options["batch_size"]
    examples = self.run_config["num_accu_examples"]
    if examples is None:
      return batch, self.run_config["num_standing_batches"]
    return batch, max(1, examples // batch)

  def accumulate_standing_statistics(self) -> bool:
    """BigGAN's standing statistics: the sampling generator's batch-norm
    moments in inference mode, averaged over `standing_batches()` batches of
    latents (each batch's moments weigh the same); once per step. Returns
    whether G uses them."""
    accumulators = [w for w in self.gan.sampling_generator.weights
                    if w.path.rsplit("/", 1)[-1] in STANDING_STATISTICS]
    if not accumulators or self._standing_step == self.step:
      return bool(accumulators)
    for w in accumulators:
      w.assign(tf.zeros_like(w))
    batch, num_batches = self.standing_batches()
    with normalization.accumulate_standing_statistics():
      for i in range(num_batches):
        z = config.sample_z([batch, self.gan.z_dim],
                            seed=tf.constant([self.seed, 2_000_003 + i]))
        labels = None
        if self.gan.conditional:
          labels = tf.random.stateless_uniform(
              [batch], [self.seed, 3_000_017 + i], maxval=self.gan.num_classes,
              dtype=tf.int32)
        self.gan.sample(z, labels)  # eager: each call adds its moments
    self._standing_step = self.step
    return True

  def generate(self, num: int, batch_size: int | None = None,
               seed_offset: int = 0) -> np.ndarray:
    """`num` samples of the sampling (EMA) generator, computed on every
    replica; numpy [num, H, W, C]."""
    self.accumulate_standing_statistics()
    z, labels = self.sample_inputs(num, seed_offset)
    batch = batch_size or self.options["batch_size"]
    if labels is None:
      labels = tf.zeros([num], tf.int32)
    ds = tf.data.Dataset.from_tensor_slices((z, labels)).batch(batch)
    gan = self.gan

    def sample(z, y):
      return gan.sample(z, y if gan.conditional else None)

    outputs = []
    # One host: the replicas' results in replica order are the batch in
    # order. Several hosts need an all-gather (a collective).
    multi_host = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
    for z_batch, y_batch in self.strategy.experimental_distribute_dataset(ds):
      per_replica = self.strategy.run(sample, args=(z_batch, y_batch))
      if multi_host:
        outputs.append(self.strategy.gather(per_replica, axis=0).numpy())
      else:
        outputs += [t.numpy() for t in
                    self.strategy.experimental_local_results(per_replica)]
    return np.concatenate(outputs)[:num]

  def write_samples(self) -> str | None:
    """samples/step_<step>.png and a TensorBoard image of the same grid."""
    samples = self.generate(self.run_config["num_sample_images"])
    if not self.is_chief:
      return None
    real = None
    if samples.shape[1:] == (1, 1, 2):  # 2-D toy data: show the data too
      split = self.dataset.eval_split
      num = min(1000, self.dataset.num_examples(split))
      real = next(iter(self.dataset.eval_input_fn(split, num)))[0].numpy()
    picture = images_lib.sample_picture(samples, real, f"step {self.step}")
    path = images_lib.save_png(picture, os.path.join(
        self.model_dir, "samples", f"step_{self.step:07d}.png"))
    with self._summary_writer().as_default():
      tf.summary.image("samples", picture[None], step=self.step)
    return path

  def _summary_writer(self) -> tf.summary.SummaryWriter:
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self.model_dir)
    return self._writer

  def write_scalars(self, step: int, values: dict[str, float]) -> None:
    """TensorBoard scalars (chief only)."""
    if not self.is_chief:
      return
    with self._summary_writer().as_default():
      for name, value in values.items():
        tf.summary.scalar(name, value, step=step)


