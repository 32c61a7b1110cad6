"""The Runner: strategy, dataset and GAN from gin; the training loop with
checkpoints, summaries, sample grids and a progress line.

A run directory holds everything about the run:
  run.json                     what was trained (architecture, data, seed)
  operative_config-<step>.gin  the gin values in effect
  checkpoint, model.ckpt-*     checkpoints (see checkpoints.py); damaged ones
                               that training skipped: model.ckpt-*.corrupt.*
  events.out.tfevents.*        TensorBoard scalars and sample images
  samples/step_<step>.png      sample grids of the (EMA) generator
  scores.csv, scores.jsonl     evaluation rows (`schedules.py`)
  TRAIN_DONE                   written when training reached the last step
  .lock                        held by the trainer (run_lock.py: one per directory)
  restarted-<time>/            what was there before a `restart=True` run

Resuming never loses progress silently: training resumes from the newest
checkpoint that restores whole (damaged newer ones are reported in one line
and renamed), refuses to start from step 0 while checkpoints exist (unless
`restart=True`), applies the configured learning rates to the restored
optimizers, stops at a step boundary and saves on SIGINT/SIGTERM, and warns
when the losses diverge. Reading a run (evaluation, export) writes nothing
into it.
"""
from __future__ import annotations

import inspect
import os
import logging
from typing import Any, Callable

import gin
import keras
import numpy as np
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.core import config, hardware
from compare_gan2 import data as data_lib
from compare_gan2.gans import export as export_lib
from compare_gan2.core.registry import GANS
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner import memory
from compare_gan2.runner import strategy as strategy_lib
from compare_gan2.runner.errors import ReadOnlyRunError
from compare_gan2.runner.keeper import CheckpointKeeper
from compare_gan2.runner.loop import TrainingLoop, check_static_spec, train_inputs
from compare_gan2.runner.run_dir import RunDir, operative_config_text, operative_configs
from compare_gan2.runner.sampler import Sampler
from compare_gan2.runner.settings import RunConfig, run_config

logger = logging.getLogger("compare_gan2")

CHECKPOINT_PREFIX = ckpt_lib.CHECKPOINT_PREFIX


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


def _check_strategy(strategy: tf.distribute.Strategy, batch_size: int,
                    cfg: RunConfig) -> None:
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise ValueError(
        f"options.batch_size={batch_size} must divide evenly "
        f"over the {replicas} replicas of the strategy.")
  if cfg.compile_loop and (
      replicas > 1 or isinstance(strategy, tf.distribute.TPUStrategy)):
    raise ValueError(
        "run_config.compile_loop compiles the loop on one replica per process "
        f"(a TPUStrategy compiles each step itself). Received {replicas} "
        f"replica(s) of {type(strategy).__name__}.")


def _model_info(options: config.RunOptions, dataset: Any, fake_data: bool) -> dict[str, Any]:
  """What run.json records about the model and its data."""
  gan_class = GANS.name_of(options.gan_class)
  conditional = _gan_is_conditional(gan_class)
  return dict(
      architecture=options.architecture, gan_class=gan_class,
      resolution=dataset.resolution, colors=dataset.colors, z_dim=options.z_dim,
      num_classes=dataset.num_classes if conditional else 0,
      conditional=conditional, dataset=dataset.name,
      # Checked by the command line when a run continues (cli.common.check_fake_data_flag).
      fake_data=bool(fake_data))


def _build_gan(info: dict[str, Any], options: config.RunOptions, dataset: Any,
               mixed_precision: bool) -> Any:
  generator, discriminator = architectures.build(
      info["architecture"], resolution=info["resolution"], colors=info["colors"],
      z_dim=info["z_dim"], num_classes=info["num_classes"],
      mixed_precision=mixed_precision)
  return GANS.make(info["gan_class"], generator=generator, discriminator=discriminator,
                   num_classes=dataset.num_classes, disc_iters=options.disc_iters,
                   lamba=options.lamba, data_range=dataset.value_range)


class Runner:
  """Builds a run from gin and trains, saves, resumes and samples it: a
  facade over the run's parts, each with its own state: `run_dir` (RunDir:
  run.json, operative configs, TRAIN_DONE, scalars, lock), `keeper`
  (CheckpointKeeper: restore with fallback, save), `loop` (TrainingLoop)
  and `sampler` (Sampler: standing statistics, samples, D logits).

  Args:
    model_dir: str. The run directory (created if missing).
    strategy: tf.distribute strategy. Defaults to the default strategy.
    fake_data: bool. Random data of the dataset's shape (`--data_fake_dataset`).
    tfds_data_dir: str. Where tfds datasets are prepared (`--tfds_data_dir`).
    restart: bool. Train from step 0 although model_dir holds a run: its
      contents move to model_dir/restarted-<time>/ first (`--restart`).
      Without it, training resumes and never starts over while checkpoints
      are there.
    read_only: bool. Only read the run (evaluate, sample, export): nothing
      is written into model_dir (not even a missing run.json), and training
      raises `ReadOnlyRunError`. `Runner.from_run_dir` builds one.
  """

  def __init__(self, model_dir: str, *,
               strategy: tf.distribute.Strategy | None = None,
               fake_data: bool = False, tfds_data_dir: str | None = None,
               restart: bool = False, read_only: bool = False):
    if restart and read_only:
      raise ValueError("Runner: `restart` moves the run aside and `read_only` "
                       "writes nothing; pass one of them.")
    self.model_dir, self.read_only = model_dir, read_only
    self.strategy = strategy or tf.distribute.get_strategy()
    self.is_chief = strategy_lib.is_chief(self.strategy)
    self.options, self.run_config = config.options(), run_config()
    if self.run_config.deterministic_ops:
      tf.config.experimental.enable_op_determinism()
    self.dataset = data_lib.get_dataset(fake=fake_data, tfds_data_dir=tfds_data_dir)
    _check_strategy(self.strategy, self.options.batch_size, self.run_config)
    self.info = _model_info(self.options, self.dataset, fake_data)
    self.run_dir = RunDir(model_dir, is_chief=self.is_chief, read_only=read_only)
    if restart and self.is_chief:
      with self.run_dir.lock():  # not under another trainer's feet
        self.run_dir.move_previous_run()
    self.seed = self.run_dir.check_run_info(self.info, self.run_config.tf_random_seed,
                                            self.strategy)
    keras.utils.set_random_seed(self.seed)
    self.mixed_precision, self._precision_reason = hardware.resolve_mixed_precision(
        self.run_config.mixed_precision, strategy_lib.on_accelerator(self.strategy))
    self.run_dir.run_info["compute_dtype"] = self.compute_dtype
    self._build_parts()

  def _build_parts(self) -> None:
    """The GAN (in the strategy's scope, with its checkpoint) and the
    objects that train and sample it."""
    with self.strategy.scope():
      self.gan = _build_gan(self.info, self.options, self.dataset, self.mixed_precision)
      self.sampler = Sampler(self.gan, self.strategy, seed=self.seed,
                             batch_size=self.options.batch_size, run_config=self.run_config)
      # Workers other than the chief must save too (the save is collective),
      # into a scratch directory that is removed afterwards.
      self.keeper = CheckpointKeeper(
          self.model_dir, self.gan, keep=self.run_config.keep_checkpoint_max,
          describe=f"{self.info['architecture']}, {self.info['resolution']} px",
          may_write=lambda: self.is_chief and self.writable,
          save_dir=self.model_dir if self.is_chief else os.path.join(
              self.model_dir, f".worker_{strategy_lib.worker_id(self.strategy)}"),
          on_restore=self.sampler.forget_statistics)
    self.loop = TrainingLoop(
        self.gan, self.strategy, self.run_config, batch_size=self.options.batch_size,
        name=f"{self.info['gan_class']} ({self.info['architecture']})")

  @classmethod
  def from_run_dir(cls, model_dir: str, *,
                   strategy: tf.distribute.Strategy | None = None,
                   fake_data: bool = True,
                   tfds_data_dir: str | None = None) -> "Runner":
    """The run in `model_dir` rebuilt for reading (`read_only`) from its
    newest operative config, which replaces the global gin config.

    Args:
      model_dir: str. A run directory (operative_config-*.gin there).
      strategy: tf.distribute strategy; default the default strategy.
      fake_data: bool. Random data of the run's dataset (export and sampling
        read no data); False for evaluation, which reads the real split.
      tfds_data_dir: str. Where tfds datasets are prepared.
    """
    if not os.path.isdir(model_dir):
      raise FileNotFoundError(f"No run directory {model_dir}.")
    configs = operative_configs(model_dir)
    if not configs:
      raise FileNotFoundError(f"{model_dir} has no operative_config-*.gin: not a "
                              "compare_gan2 run directory, or training never ran.")
    gin.clear_config()
    config.parse([configs[max(configs)]], skip_unknown=True)
    return cls(model_dir, strategy=strategy, fake_data=fake_data,
               tfds_data_dir=tfds_data_dir, read_only=True)

  # --- State, read through the parts ----------------------------------------------

  @property
  def writable(self) -> bool:
    return self.run_dir.writable

  @property
  def checkpoint(self) -> tf.train.Checkpoint:
    return self.keeper.checkpoint

  @property
  def manager(self) -> tf.train.CheckpointManager:
    """The CheckpointManager of training (`keeper.manager`)."""
    return self.keeper.manager

  @property
  def compute_dtype(self) -> str:
    """The format G and D compute in: "bfloat16" or "float32" (weights,
    losses and statistics are float32 either way)."""
    return "bfloat16" if self.mixed_precision else "float32"

  @property
  def step(self) -> int:
    return int(self.gan.global_step.numpy())

  @property
  def compiles(self) -> bool:
    """Whether training runs under XLA (the loop or the step)."""
    return self.loop.compiles

  # --- Checkpoints ------------------------------------------------------------------

  def restore(self) -> int:
    """Restores the newest checkpoint that restores whole; returns the step
    (`CheckpointKeeper.restore`: damaged newer ones are skipped, reported
    and, when training, renamed; `CorruptCheckpointError` if none restores)."""
    return self.keeper.restore()

  def restore_from(self, path: str, log_rates: bool = False) -> None:
    """Restores checkpoint `path` (`CheckpointKeeper.restore_from`)."""
    self.keeper.restore_from(path, log_rates=log_rates)

  def save(self) -> str:
    """Checkpoint plus sample grid at the current step; a failed write (a
    full disk) raises `CheckpointSaveError` naming what to resume from."""
    return self.keeper.save(self.write_samples)

  def export_generator(self, out_path: str) -> str:
    """Writes the sampling (EMA) generator of the current weights, with D,
    as a SavedModel at `out_path` (`gans/export.py`; new or an empty
    directory), recording the operative config of the run segment that
    reached this step. Returns out_path."""
    out_path = export_lib.check_out_path(out_path)
    # BigGAN's standing statistics are part of the sampling generator's weights.
    self.sampler.accumulate_standing_statistics()
    gin_text = operative_config_text(self.model_dir, self.step) or gin.operative_config_str()
    return export_lib.save_generator(self.gan, self.info, self.step, gin_text, out_path)

  def write_operative_config(self, step: int) -> str:
    """operative_config-<step>.gin (`RunDir.write_operative_config`)."""
    return self.run_dir.write_operative_config(step)

  # --- Training ---------------------------------------------------------------------

  def train_inputs(self, start_step: int) -> tf.data.Dataset:
    """Global batches of step inputs from `start_step` on: the same stream
    whether the run started there or resumed there."""
    return train_inputs(self.gan, self.dataset, self.options.batch_size, self.seed,
                        start_step)

  def train(self, on_checkpoint: Callable[[int, str], None] | None = None,
            checkpoint_every: int | None = None) -> int:
    """Trains to `options.training_steps`, resuming from the newest checkpoint.

    Runs in calls of about `STOP_CHECK_SECONDS` (at most iterations_per_loop
    steps; one progress line per iterations_per_loop), so that SIGINT or
    SIGTERM stops it within about that long at a step boundary: it saves a
    checkpoint and raises `TrainingInterrupted` (a second signal acts as
    usual, at once). With `run_config.compile_loop` each call is a whole
    loop. Under XLA (compile_loop or `jit_compile`) the inputs' shapes
    must be static, and a call ends where the GAN's step shapes change
    (`static_step_kwargs`: ProGAN's per-level batch).

    Args:
      on_checkpoint: called with (step, path) after each checkpoint (chief).
      checkpoint_every: extra checkpoint period (e.g. the eval period).
    Returns the final step. Holds the run directory's lock (`run_lock`: one
    trainer per directory; `RunLockedError` while another process trains).
    """
    lock = self.run_dir.lock() if self.is_chief and self.writable else None
    try:
      if lock is not None:
        self.keeper.tidy()
      return self._train(on_checkpoint, checkpoint_every)
    finally:
      if lock is not None:
        lock.release()

  def _train(self, on_checkpoint: Callable[[int, str], None] | None,
             checkpoint_every: int | None) -> int:
    total, start = self.options.training_steps, self.restore()
    if start >= total:
      logger.info("Training already reached step %d of %d.", start, total)
      self.run_dir.finish(self.step)
      return start
    if not self.writable:
      raise ReadOnlyRunError(
          f"{self.model_dir} is not writable, and training (step {start} of "
          f"{total}) writes its checkpoints there. Make it writable, or use "
          "--schedule continuous_eval / eval_after_train with --output_dir on a "
          "finished run.")
    self.run_dir.write_run_info()
    memory.check_training_memory(self.gan, (self.dataset.resolution,) * 2 + (
        self.dataset.colors,), self.options.batch_size, self.strategy)
    inputs = self.train_inputs(start)
    if self.compiles:
      check_static_spec(inputs.element_spec, "The training inputs")
    logger.info("Training %s (%s) on %s from step %d to %d, %d replica(s), "
                "global batch %d, %s compute (%s).", self.info["architecture"],
                self.info["gan_class"], self.dataset.name, start, total,
                self.strategy.num_replicas_in_sync, self.options.batch_size,
                self.compute_dtype, self._precision_reason)
    step = self.loop.run(inputs, start, total, keeper=self.keeper, run_dir=self.run_dir,
                         save=self.save, on_checkpoint=on_checkpoint,
                         checkpoint_every=checkpoint_every)
    self.run_dir.finish(self.step)
    return step

  # --- Samples and summaries (the Sampler and the RunDir) ---------------------------

  def sample_inputs(self, num: int, seed_offset: int = 0
                    ) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Fixed latents (`eval_z`) and labels (classes in turn) for samples."""
    return self.sampler.sample_inputs(num, seed_offset)

  def standing_batches(self) -> tuple[int, int]:
    """(batch size, number of batches) of BigGAN's standing statistics."""
    return self.sampler.standing_batches()

  def accumulate_standing_statistics(self) -> bool:
    """`Sampler.accumulate_standing_statistics`: once per step."""
    return self.sampler.accumulate_standing_statistics()

  def generate(self, num: int, batch_size: int | None = None,
               seed_offset: int = 0) -> np.ndarray:
    """`num` samples of the sampling (EMA) generator ([num, H, W, C], numpy;
    `Sampler.generate`)."""
    return self.sampler.generate(num, batch_size, seed_offset)

  def discriminator_logits(self, images: np.ndarray, labels: np.ndarray,
                           batch_size: int | None = None) -> np.ndarray:
    """D's logits [N] on reals (`Sampler.discriminator_logits`)."""
    return self.sampler.discriminator_logits(images, labels, batch_size)

  def sample_fn(self) -> Callable[[Any, Any], Any]:
    """The traced sampling of one (distributed) batch (`Sampler.sample_fn`)."""
    return self.sampler.sample_fn()

  def discriminator_fn(self) -> Callable[[Any, Any], Any]:
    """The traced D logits of one (distributed) batch (`Sampler.discriminator_fn`)."""
    return self.sampler.discriminator_fn()

  def write_samples(self) -> str | None:
    """samples/step_<step>.png and a TensorBoard image of the same grid."""
    return self.sampler.write_samples(self.run_dir, self.dataset)

  def write_scalars(self, step: int, values: dict[str, float]) -> None:
    """TensorBoard scalars (chief only)."""
    self.run_dir.write_scalars(step, values)
