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

import dataclasses
import glob
import inspect
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import threading
import time
from typing import Any, Callable

import gin
import keras
import numpy as np
import tensorflow as tf

from compare_gan2 import architectures, batching, config, files, gin_check, hardware
from compare_gan2 import data as data_lib
from compare_gan2.gans import make_step_inputs
from compare_gan2.gans import export as export_lib
from compare_gan2.ops import normalization
from compare_gan2.registry import GANS
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner import divergence, memory
from compare_gan2.runner import images as images_lib
from compare_gan2.runner import run_lock
from compare_gan2.runner import strategy as strategy_lib

logger = logging.getLogger("compare_gan2")

TRAIN_DONE = "TRAIN_DONE"
RUN_INFO = "run.json"
CHECKPOINT_PREFIX = ckpt_lib.CHECKPOINT_PREFIX
RESTART_PREFIX = "restarted-"
# Training runs in calls of about this many seconds (at most
# iterations_per_loop steps), so that a SIGINT stops it this soon.
STOP_CHECK_SECONDS = 0.5
# Keys of run.json that a resumed run must share with the checkpoint.
STANDING_STATISTICS = ("accu_mean", "accu_variance", "accu_counter")
MODEL_KEYS = ("architecture", "gan_class", "resolution", "colors", "z_dim",
              "num_classes", "conditional")


class NaNLossError(FloatingPointError):
  """A loss became NaN or infinite; training stopped without saving."""


class IncompatibleCheckpointError(ValueError):
  """model_dir holds checkpoints of a different model."""


class ReadOnlyRunError(ValueError):
  """The run directory cannot be written and the command needs to write it."""


class CheckpointSaveError(ValueError):
  """Saving a checkpoint (or its sample grid) failed, e.g. the disk is full;
  the message names the newest good checkpoint to resume from."""


class XlaCompileError(ValueError):
  """XLA could not compile a step (an op without an XLA kernel, or a shape
  known only at run time); the message names the op.

  Attributes: ops, the op types named by XLA's error."""

  def __init__(self, message: str, ops: list[str]):
    super().__init__(message)
    self.ops = ops


def xla_error_ops(error: BaseException) -> list[str]:
  """The ops an XLA compilation error names ("Type (node name)"), or []
  when `error` is not one."""
  text = str(error)
  found = []
  for op, node in re.findall(r"No registered '([\w.]+)' OpKernel for XLA\w* devices "
                             r"compatible with node \{\{node ([^}]+)\}\}", text):
    found.append(f"{op} (node {node})")
  for node, op in re.findall(r"node `([^`]+)` with op ([\w.]+) must be a "
                             r"compile-time constant", text):
    found.append(f"{op} (node {node}: a shape known only at run time)")
  return list(dict.fromkeys(found))


def check_static_spec(spec: Any, what: str) -> None:
  """Raises ValueError naming the first component of `spec` (a nest of
  tf.TensorSpec) with a dimension unknown before run time."""
  items = spec.items() if isinstance(spec, dict) else enumerate(tf.nest.flatten(spec))
  for name, s in items:
    for leaf in tf.nest.flatten(s):
      if leaf.shape.is_fully_defined():
        continue
      raise ValueError(
          f"{what}: `{name}` has the shape {leaf.shape}, not fully "
          "known; XLA (run_config.compile_loop, jit_compile, TPUs) needs static "
          "shapes: batch with drop_remainder=True.")


class TrainingInterrupted(KeyboardInterrupt):
  """SIGINT/SIGTERM stopped training at a step boundary after a checkpoint.

  Attributes: signum (the signal), step, path (the checkpoint saved)."""

  def __init__(self, message: str, signum: int, step: int, path: str):
    super().__init__(message)
    self.signum, self.step, self.path = signum, step, path


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Run-level settings (`run_config.*`); built by `run_config`, whose
  docstring describes each field."""
  tf_random_seed: int | None = None
  iterations_per_loop: int = 1000
  save_checkpoints_steps: int = 5000
  keep_checkpoint_max: int = 10
  num_sample_images: int = 64
  deterministic_ops: bool = False
  num_standing_batches: int = 16
  num_accu_examples: int | None = None
  standing_batch_size: int | None = None
  mixed_precision: bool | str = "auto"
  divergence_threshold: float | None = 1e4
  compile_loop: bool = False


@gin.configurable("run_config")
def run_config(tf_random_seed: int | None = None, iterations_per_loop: int = 1000,
               save_checkpoints_steps: int = 5000, keep_checkpoint_max: int = 10,
               num_sample_images: int = 64, deterministic_ops: bool = False,
               num_standing_batches: int = 16,
               num_accu_examples: int | None = None,
               standing_batch_size: int | None = None,
               mixed_precision: bool | str = "auto",
               divergence_threshold: float | None = 1e4,
               compile_loop: bool = False) -> RunConfig:
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
    mixed_precision: True, False or "auto". True: G and D compute in
      bfloat16 on float32 weights (losses, batch-norm statistics, spectral
      norm and the EMA stay float32). "auto" (the default): bfloat16 on a CPU
      with native bfloat16 (AVX512_BF16 or AMX: about 1.7x the float32 step,
      same quality, benchmarks/results/bf16_quality.md), float32 elsewhere
      (GPUs and TPUs keep float32 unless True). The start-up line says which.
    divergence_threshold: float. Warn (once per stretch of training above
      it) when a loss or loss part the step reports (d_loss, g_loss, their
      real/fake parts, the penalty) exceeds this in absolute value; D's
      logits show there too (every loss grows with them). `None` never
      warns. NaN/inf losses always stop training.
    compile_loop: bool. XLA-compile each loop of steps whole, as one program
      (`tf.function(jit_compile=True)`), as a TPU runs iterations_per_loop
      steps: the loop's inputs are dequeued on the host first and stacked
      ([steps, ...], the TPU's infeed), every shape must be static (the
      dataset's element_spec fully known) and every op compilable (the
      error names the op that is not). Each call then runs a whole loop
      (iterations_per_loop steps; fewer at a checkpoint, at the end and
      where ProGAN's batch changes with the level), so a SIGINT stops at
      the end of the loop, and one loop's inputs sit in memory. One
      replica per process. `ModularGAN.jit_compile` compiles the step
      alone (the host loop stays) and suits GPUs better.
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
  if divergence_threshold is not None and not divergence_threshold > 0:
    raise ValueError("`run_config.divergence_threshold` must be > 0 or None. "
                     f"Received: {divergence_threshold!r}")
  if tf_random_seed is not None and not 0 <= tf_random_seed < 2**31:
    raise ValueError("`run_config.tf_random_seed` must be in [0, 2**31). "
                     f"Received: {tf_random_seed!r}")
  hardware.check_mixed_precision(mixed_precision)
  if not isinstance(compile_loop, bool):
    raise ValueError("`run_config.compile_loop` must be True or False. "
                     f"Received: {compile_loop!r}")
  return RunConfig(tf_random_seed=tf_random_seed,
                   iterations_per_loop=iterations_per_loop,
                   save_checkpoints_steps=save_checkpoints_steps,
                   keep_checkpoint_max=keep_checkpoint_max,
                   num_sample_images=num_sample_images,
                   deterministic_ops=deterministic_ops,
                   num_standing_batches=num_standing_batches,
                   num_accu_examples=num_accu_examples,
                   standing_batch_size=standing_batch_size,
                   mixed_precision=mixed_precision,
                   divergence_threshold=divergence_threshold,
                   compile_loop=compile_loop)


def operative_configs(model_dir: str) -> dict[int, str]:
  """{step: path} of the run's operative_config-<step>.gin files."""
  found = {}
  for path in glob.glob(os.path.join(model_dir, "operative_config-*.gin")):
    match = re.search(r"operative_config-(\d+)\.gin$", path)
    if match:
      found[int(match.group(1))] = path
  return found


def operative_config_text(model_dir: str, step: int) -> str | None:
  """The operative config of the run segment that reached `step` (the
  newest one written at or before it), or None without any."""
  found = operative_configs(model_dir)
  usable = [n for n in found if n <= step] or list(found)
  if not usable:
    return None
  with open(found[max(usable)]) as f:
    return f.read()


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


def _first_line(error: BaseException) -> str:
  """An error's first line without TF's "{{function_node ...}}" prefix."""
  text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
  return re.sub(r"\{\{[^}]*\}\}\s*", "", text)[:200]


def _has_text(path: str, text: str) -> bool:
  try:
    with open(path) as f:
      return f.read() == text
  except OSError:
    return False


class _StopOnSignal:
  """Within: SIGINT and SIGTERM set `signum` instead of stopping the process
  (training stops at the next step boundary), and give the signals back their
  previous handlers, so a second one acts at once. Main thread only (signal
  handlers cannot be set elsewhere; there it does nothing)."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __enter__(self) -> "_StopOnSignal":
    self.signum: int | None = None
    self._previous = {}
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._previous[s] = signal.signal(s, self._handle)
    return self

  def _handle(self, signum: int, frame: Any) -> None:
    del frame
    self.signum = signum
    self._restore()

  def _restore(self) -> None:
    for s, handler in self._previous.items():
      if handler is not None:
        signal.signal(s, handler)
    self._previous = {}

  def __exit__(self, *exc: Any) -> None:
    self._restore()


class Runner:
  """Builds a run from gin and trains, saves, resumes and samples it.

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
    self.model_dir = model_dir
    self.read_only = read_only
    self.strategy = strategy or tf.distribute.get_strategy()
    self.is_chief = strategy_lib.is_chief(self.strategy)
    self.options = config.options()
    self.run_config = run_config()
    if self.run_config.deterministic_ops:
      tf.config.experimental.enable_op_determinism()
    self.dataset = data_lib.get_dataset(fake=fake_data, tfds_data_dir=tfds_data_dir)
    replicas = self.strategy.num_replicas_in_sync
    if self.options.batch_size % replicas:
      raise ValueError(
          f"options.batch_size={self.options.batch_size} must divide evenly "
          f"over the {replicas} replicas of the strategy.")
    if self.run_config.compile_loop and (
        replicas > 1 or isinstance(self.strategy, tf.distribute.TPUStrategy)):
      raise ValueError(
          "run_config.compile_loop compiles the loop on one replica per process "
          f"(a TPUStrategy compiles each step itself). Received {replicas} "
          f"replica(s) of {type(self.strategy).__name__}.")
    gan_class = GANS.name_of(self.options.gan_class)
    conditional = _gan_is_conditional(gan_class)
    self.info = dict(
        architecture=self.options.architecture, gan_class=gan_class,
        resolution=self.dataset.resolution, colors=self.dataset.colors,
        z_dim=self.options.z_dim,
        num_classes=self.dataset.num_classes if conditional else 0,
        conditional=conditional, dataset=self.dataset.name,
        # Checked by the command line when a run continues (cli.check_fake_data_flag).
        fake_data=bool(fake_data))
    if not read_only:
      os.makedirs(model_dir, exist_ok=True)
    if restart and self.is_chief:
      with run_lock.RunLock.acquire(model_dir):  # not under another trainer's feet
        self._move_previous_run()
    self.seed = self._check_run_info()
    keras.utils.set_random_seed(self.seed)
    self.mixed_precision, self._precision_reason = hardware.resolve_mixed_precision(
        self.run_config.mixed_precision, strategy_lib.on_accelerator(self.strategy))
    self._run_info["compute_dtype"] = self.compute_dtype
    with self.strategy.scope():
      generator, discriminator = architectures.build(
          self.info["architecture"], resolution=self.info["resolution"],
          colors=self.info["colors"], z_dim=self.info["z_dim"],
          num_classes=self.info["num_classes"],
          mixed_precision=self.mixed_precision)
      self.gan = GANS.make(
          gan_class, generator=generator, discriminator=discriminator,
          num_classes=self.dataset.num_classes,
          disc_iters=self.options.disc_iters, lamba=self.options.lamba,
          data_range=self.dataset.value_range)
      self.checkpoint = tf.train.Checkpoint(**self.gan.checkpoint_items())
    # The learning rates of this config; a restore must not bring back the
    # checkpoint's (Keras keeps the rate in an optimizer variable).
    self._configured_rates = [
        (name, v, v.numpy()) for name, opt in (("g", self.gan.g_optimizer),
                                               ("d", self.gan.d_optimizer))
        for v in opt.variables if v.path.rsplit("/", 1)[-1] == "learning_rate"]
    # Workers other than the chief must save too (the save is collective),
    # into a scratch directory that is removed afterwards.
    self._save_dir = model_dir if self.is_chief else os.path.join(
        model_dir, f".worker_{strategy_lib.worker_id(self.strategy)}")
    self._manager = None  # made when training needs it (`manager`)
    self._train_loop_fn = None
    self._sample_fn = None
    self._discriminator_fn = None
    self._writer = None
    self._standing_step = -1

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

  @property
  def manager(self) -> tf.train.CheckpointManager:
    """The CheckpointManager of training, made on first use (it reads the
    `checkpoint` state file, which reading a run need not trust)."""
    if self._manager is None:
      self._manager = tf.train.CheckpointManager(
          self.checkpoint, self._save_dir, checkpoint_name=CHECKPOINT_PREFIX,
          max_to_keep=self.run_config.keep_checkpoint_max)
    return self._manager

  def _make_manager(self) -> None:
    """Makes the CheckpointManager reread the `checkpoint` state file."""
    self._manager = None

  # --- Run directory ---------------------------------------------------------------

  @property
  def writable(self) -> bool:
    return not self.read_only and files.writable(self.model_dir)

  def _move_previous_run(self) -> None:
    """`restart`: model_dir's contents go to model_dir/restarted-<time>/."""
    names = [n for n in os.listdir(self.model_dir) if not n.startswith(
        RESTART_PREFIX) and n != run_lock.LOCK_FILE] if os.path.isdir(self.model_dir) else []
    if not names:
      logger.info("Training from step 0 (restart): %s holds no earlier run.",
                  self.model_dir)
      return
    target = os.path.join(self.model_dir,
                          RESTART_PREFIX + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(target)
    for name in names:
      os.replace(os.path.join(self.model_dir, name), os.path.join(target, name))
    logger.warning("Training from step 0 (restart): moved the earlier run "
                   "(%d entries) to %s.", len(names), target)

  def _check_run_info(self) -> int:
    """Checks run.json against this config (or writes it if missing, the
    only write here: reading a run never writes); returns the seed."""
    path = os.path.join(self.model_dir, RUN_INFO)
    seed = self.run_config.tf_random_seed
    self._saved_info = None
    if os.path.exists(path):
      with open(path) as f:
        self._saved_info = saved = json.load(f)
      diff = {k: (saved.get(k), self.info[k]) for k in MODEL_KEYS
              if saved.get(k) != self.info[k]}
      if diff and ckpt_lib.list_checkpoints(self.model_dir):
        detail = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
        raise IncompatibleCheckpointError(
            f"{self.model_dir} holds checkpoints of another model ({detail}); "
            f"{diff.popitem()[0]} cannot change on resume. Use a new "
            "--model_dir, the gin config of that run, or --restart.")
      if seed is None:
        seed = saved.get("seed")
    if seed is None:
      if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise ValueError("Multi-worker training needs `run_config.tf_random_seed`"
                         " so that every worker draws the same latents.")
      seed = random.SystemRandom().randrange(2**31)
    self._run_info = {**self.info, "seed": int(seed),
                      "num_replicas": self.strategy.num_replicas_in_sync}
    if self._saved_info is None and self.is_chief and self.writable:
      self._write_run_info()
    return int(seed)

  def _write_run_info(self) -> None:
    """run.json, when training and what it records changed."""
    if self.is_chief and self._saved_info != self._run_info:
      files.write_json(os.path.join(self.model_dir, RUN_INFO), self._run_info)
      self._saved_info = dict(self._run_info)

  @property
  def compute_dtype(self) -> str:
    """The format G and D compute in: "bfloat16" or "float32" (weights,
    losses and statistics are float32 either way)."""
    return "bfloat16" if self.mixed_precision else "float32"

  @property
  def step(self) -> int:
    return int(self.gan.global_step.numpy())

  def restore(self) -> int:
    """Restores the newest checkpoint that restores whole; returns the step.

    Damaged newer checkpoints are reported in one line; when training (a
    writable run dir, the chief) they are renamed model.ckpt-<N>.corrupt.*
    and the `checkpoint` state file is rewritten to list the good ones, so
    the rotation never counts them. With checkpoint files present but none
    restorable this raises `CorruptCheckpointError` unless `restart`."""
    candidates = ckpt_lib.list_checkpoints(self.model_dir)
    skipped: list[tuple[str, str]] = []
    for path in candidates:
      if not os.path.exists(path + ".index"):  # (TF would log an error line)
        skipped.append((path, ckpt_lib.checkpoint_problem(path)))
        continue
      try:
        self.restore_from(path, log_rates=True)
      except ckpt_lib.CorruptCheckpointError as e:
        skipped.append((path, e.reason))
        continue
      self._after_fallback(path, skipped, candidates)
      if not skipped:
        logger.info("Resumed from %s (step %d).", path, self.step)
      return self.step
    if skipped and any(ckpt_lib.checkpoint_files(p) for p, _ in skipped):
      raise ckpt_lib.CorruptCheckpointError(
          f"No checkpoint in {self.model_dir} restores: "
          f"{ckpt_lib.describe(skipped)}. Replace them with good copies, or pass "
          "--restart (Runner(restart=True)) to train from step 0 (the earlier "
          f"files move to {RESTART_PREFIX}<time>/).")
    if skipped:  # listed in the state file only: nothing left to lose
      logger.warning("The `checkpoint` file lists %s, whose files are all gone; "
                     "training from step 0.", ckpt_lib.describe(skipped))
      if self.is_chief and self.writable:
        ckpt_lib.write_state(self.model_dir, [])
        self._make_manager()
    return 0

  def _after_fallback(self, path: str, skipped: list[tuple[str, str]],
                      candidates: list[str]) -> None:
    if not skipped:
      return
    moved = ""
    if self.is_chief and self.writable:
      renamed = [ckpt_lib.move_aside(p) for p, _ in skipped]
      ckpt_lib.write_state(self.model_dir, [p for p in candidates
                                            if p not in dict(skipped)])
      self._make_manager()
      if any(renamed):
        moved = f"; renamed their files to {CHECKPOINT_PREFIX}-<N>.{ckpt_lib.CORRUPT_TAG}.*"
    logger.warning("Skipped %s; resumed from %s (step %d)%s.",
                   ckpt_lib.describe(skipped), os.path.basename(path),
                   self.step, moved)

  def _apply_configured_rates(self, log: bool = False) -> None:
    """Sets the optimizers' learning rates back to this config's after a
    restore (the moments and iteration counts stay restored; Adam's betas
    and epsilon are not checkpointed, so they are the config's anyway)."""
    for name, variable, value in self._configured_rates:
      restored = variable.numpy()
      if restored != value:
        variable.assign(value)
        if log:
          logger.info("%s learning rate: %g in the checkpoint, %g in the config; "
                      "using %g.", name.upper(), restored, value, value)

  def restore_from(self, path: str, log_rates: bool = False) -> None:
    """Restores checkpoint `path`; raises `CorruptCheckpointError` (with a
    `reason`) if its files are missing or damaged, and
    `IncompatibleCheckpointError` if it belongs to another model."""
    self._standing_step = -1  # the restored weights need their own statistics
    try:
      self.checkpoint.restore(path).assert_existing_objects_matched()
    except (AssertionError, ValueError, IndexError, OSError, tf.errors.OpError) as e:
      problem = ckpt_lib.checkpoint_problem(path)
      if problem is not None:
        raise ckpt_lib.CorruptCheckpointError(
            f"Checkpoint {path}: {problem}", path=path, reason=problem) from e
      raise IncompatibleCheckpointError(
          f"Checkpoint {path} does not match this model "
          f"({self.info['architecture']}, {self.info['resolution']} px): "
          f"{str(e).splitlines()[0][:300]}. Use a new --model_dir, or the gin "
          "config of that run.") from e
    self._apply_configured_rates(log=log_rates)

  def export_generator(self, out_path: str) -> str:
    """Writes the sampling (EMA) generator of the current weights, with D,
    as a SavedModel at `out_path` (`gans/export.py`; new or an empty
    directory), recording the operative config of the run segment that
    reached this step. Returns out_path."""
    out_path = export_lib.check_out_path(out_path)
    # BigGAN's standing statistics are part of the sampling generator's weights.
    self.accumulate_standing_statistics()
    gin_text = operative_config_text(self.model_dir, self.step) or gin.operative_config_str()
    return export_lib.save_generator(self.gan, self.info, self.step, gin_text, out_path)

  def write_operative_config(self, step: int) -> str:
    """operative_config-<step>.gin: the gin values this run (from `step` on)
    used; written once the first loop has traced everything. On resume, each
    binding that differs from the previous segment's is logged."""
    path = os.path.join(self.model_dir, f"operative_config-{step}.gin")
    if self.is_chief:
      text, previous = gin.operative_config_str(), operative_config_text(self.model_dir, step)
      for change in gin_check.changed_bindings(previous or text, text):
        logger.info("Changed on resume at step %d: %s", step, change)
      files.write_text(path, text)
    return path

  # --- Data --------------------------------------------------------------------------

  def train_inputs(self, start_step: int) -> tf.data.Dataset:
    """Global batches of step inputs from `start_step` on: the same stream
    whether the run started there or resumed there."""
    n, seed = self.gan.disc_iters, self.seed
    ds = self.dataset.input_fn("train", self.options.batch_size * n,
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

  @property
  def compiles(self) -> bool:
    """Whether training runs under XLA (the loop or the step)."""
    return self.run_config.compile_loop or self.gan.jit_compile

  def _train_loop(self) -> Callable[..., dict[str, tf.Tensor]]:
    """train_loop(iterator, num_steps, **static): num_steps steps, the
    metrics of the last. `static`: the GAN's `static_step_kwargs` (Python
    values: one trace each). With `compile_loop`, num_steps is a Python
    int (one trace per loop length)."""
    if self._train_loop_fn is not None:
      return self._train_loop_fn
    gan, strategy = self.gan, self.strategy

    if not self.run_config.compile_loop:
      @tf.function
      def train_loop(iterator, num_steps, **static):
        metrics = gan.distributed_train_step(strategy, next(iterator), **static)
        for _ in tf.range(num_steps - 1):
          metrics = gan.distributed_train_step(strategy, next(iterator), **static)
        return metrics

      self._train_loop_fn = train_loop
      return train_loop

    @tf.function(jit_compile=True)
    def run_steps(inputs, **static):
      """The whole loop as one XLA program; inputs [num_steps, ...]."""
      num_steps = tf.nest.flatten(inputs)[0].shape[0]
      take = lambda i: tf.nest.map_structure(lambda t: t[i], inputs)
      step = lambda f: gan.distributed_train_step(strategy, f, **static)
      # The metrics' structure from a trace that is not run, so that the
      # program holds the step once (in the loop), not twice.
      spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape[1:], t.dtype), inputs)
      outputs = tf.function(step).get_concrete_function(spec).structured_outputs
      metrics = tf.nest.map_structure(lambda t: tf.zeros(t.shape, t.dtype), outputs)
      for i in tf.range(num_steps):
        metrics = step(take(i))
      return metrics

    @tf.function
    def train_loop(iterator, num_steps, **static):
      # The host dequeues the loop's inputs first (a TPU's infeed).
      arrays = tf.nest.map_structure(
          lambda spec: tf.TensorArray(spec.dtype, size=num_steps,
                                      element_shape=spec.shape),
          iterator.element_spec)
      for i in tf.range(num_steps):
        arrays = tf.nest.map_structure(lambda a, t: a.write(i, t), arrays,
                                       next(iterator))
      inputs = tf.nest.map_structure(
          lambda a, spec: tf.ensure_shape(a.stack(), [num_steps, *spec.shape]),
          arrays, iterator.element_spec)
      return run_steps(inputs, **static)

    self._train_loop_fn = train_loop
    return train_loop

  def _run_loop(self, iterator: Any, num_steps: int, static: dict[str, Any]
                ) -> dict[str, tf.Tensor]:
    """One call of the training loop; XLA's compile errors name the op."""
    steps = num_steps if self.run_config.compile_loop else tf.constant(num_steps)
    try:
      return self._train_loop()(iterator, steps, **static)
    except tf.errors.ResourceExhaustedError as e:
      raise memory.out_of_memory(_first_line(e), self.options.batch_size) from e
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
      ops = xla_error_ops(e) if self.compiles else []
      if not ops:
        raise
      raise XlaCompileError(
          f"XLA cannot compile the training step of {self.info['gan_class']} "
          f"({self.info['architecture']}): {'; '.join(ops)}. That op needs an "
          "XLA-compilable replacement (or run without run_config.compile_loop "
          f"/ jit_compile). {_first_line(e)}", ops) from e

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
    lock = None
    if self.is_chief and self.writable:
      lock = run_lock.RunLock.acquire(self.model_dir)
    try:
      if lock is not None:
        self._tidy_run_dir()
      return self._train(on_checkpoint, checkpoint_every)
    finally:
      if lock is not None:
        lock.release()

  def _tidy_run_dir(self) -> None:
    """What a crash leaves, mended before training (the chief, under the
    lock): folders of interrupted saves, an empty or damaged state file."""
    removed = ckpt_lib.remove_temp_folders(self.model_dir)
    if removed:
      logger.warning("Removed %s, left by an interrupted checkpoint save.",
                     ", ".join(os.path.basename(p) + "/" for p in removed))
    problem = ckpt_lib.state_problem(self.model_dir)
    if problem:
      found = [p for p in ckpt_lib.list_checkpoints(self.model_dir)
               if ckpt_lib.checkpoint_files(p)]
      ckpt_lib.write_state(self.model_dir, found)
      self._make_manager()
      logger.warning("The `checkpoint` state file was %s (a crash or a full disk?); "
                     "rebuilt it from the %d checkpoint(s) on disk.", problem, len(found))

  def _train(self, on_checkpoint: Callable[[int, str], None] | None,
             checkpoint_every: int | None) -> int:
    total = self.options.training_steps
    cfg = self.run_config
    start = self.restore()
    if start >= total:
      logger.info("Training already reached step %d of %d.", start, total)
      self._finish()
      return start
    if not self.writable:
      raise ReadOnlyRunError(
          f"{self.model_dir} is not writable, and training (step {start} of "
          f"{total}) writes its checkpoints there. Make it writable, or use "
          "--schedule continuous_eval / eval_after_train with --output_dir on a "
          "finished run.")
    self._write_run_info()
    memory.check_training_memory(self.gan, (self.dataset.resolution,) * 2 + (
        self.dataset.colors,), self.options.batch_size, self.strategy)
    periods = [cfg.save_checkpoints_steps] + ([checkpoint_every] if checkpoint_every else [])
    inputs = self.train_inputs(start)
    if self.compiles:
      check_static_spec(inputs.element_spec, "The training inputs")
    iterator = iter(self.strategy.experimental_distribute_dataset(inputs))
    replicas = self.strategy.num_replicas_in_sync
    per_replica = self.options.batch_size // replicas
    progress = Progress(start, total)
    step, wrote_config, saved_step = start, False, start
    logger.info("Training %s (%s) on %s from step %d to %d, %d replica(s), "
                "global batch %d, %s compute (%s).", self.info["architecture"],
                self.info["gan_class"], self.dataset.name, start, total,
                self.strategy.num_replicas_in_sync, self.options.batch_size,
                self.compute_dtype, self._precision_reason)
    # The first call traces: one step (a whole loop when compile_loop).
    chunk, watch = 1, divergence.DivergenceWatch(cfg.divergence_threshold)
    with _StopOnSignal() as stop:
      while step < total:
        boundary = min(((step // p) + 1) * p for p in periods)
        loop_start = step
        loop_end = step + min(cfg.iterations_per_loop, total - step, boundary - step)
        while step < loop_end and stop.signum is None:
          num_steps = loop_end - step if cfg.compile_loop else min(chunk, loop_end - step)
          static = {}
          if self.compiles:  # the step's shapes as Python values, while they hold
            static, holds = self.gan.static_step_kwargs(per_replica, replicas)
            num_steps = min(num_steps, holds or num_steps)
          began = time.time()
          metrics = self._run_loop(iterator, num_steps, static)
          values = {k: float(v) for k, v in metrics.items()}
          seconds = max(time.time() - began, 1e-6)
          chunk = max(1, min(cfg.iterations_per_loop,
                             int(num_steps * STOP_CHECK_SECONDS / seconds)))
          step = self.step
          self._check_losses(values, step - num_steps, step)
          watch.update(values, step, self.manager.latest_checkpoint)
        if step > loop_start:
          if not wrote_config:
            self.write_operative_config(start)
            wrote_config = True
          rate = progress.update(step, values)
          self.write_scalars(step, {**values, "steps_per_sec": rate})
        if stop.signum is not None:
          path = self.manager.latest_checkpoint if saved_step == step else self.save()
          saved = f"saved {path}" if saved_step != step else (
              f"{path} holds it" if path else "nothing to save")
          raise TrainingInterrupted(
              f"{signal.Signals(stop.signum).name}: stopped at step {step} of "
              f"{total}, {saved}; run the same command again to resume.",
              stop.signum, step, path)
        if step % cfg.save_checkpoints_steps == 0 or step == total or (
            checkpoint_every and step % checkpoint_every == 0):
          path = self.save()
          saved_step = step
          if on_checkpoint is not None and self.is_chief:
            on_checkpoint(step, path)
    watch.report_end(step)
    self._finish()
    return step

  def _check_losses(self, values: dict[str, float], first: int, last: int) -> None:
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
      raise NaNLossError(
          f"{', '.join(bad)} became NaN/inf between steps {first} "
          f"and {last}; stopped without saving. The last good checkpoint is "
          f"{self.manager.latest_checkpoint or 'none (no checkpoint yet)'}.")

  def save(self) -> str:
    """Checkpoint plus sample grid at the current step; a failed write (a
    full disk) raises `CheckpointSaveError` naming what to resume from (a
    half-written checkpoint is left in a _temp folder, removed on start)."""
    good = self.manager.latest_checkpoint
    try:
      path = self.manager.save(checkpoint_number=self.step)
    except (OSError, tf.errors.OpError) as e:
      raise CheckpointSaveError(
          f"Saving the checkpoint of step {self.step} in {self._save_dir} failed "
          f"({_first_line(e)}). Free space (or fix the "
          f"directory) and rerun to resume from {good or 'step 0'}.") from e
    try:
      self.write_samples()
    except (OSError, tf.errors.OpError) as e:
      raise CheckpointSaveError(
          f"Writing the sample grid of step {self.step} failed ({e}); the "
          f"checkpoint {path} was saved. Free space and rerun to resume.") from e
    if not self.is_chief:
      shutil.rmtree(self._save_dir, ignore_errors=True)
    return path

  def _finish(self) -> None:
    path = os.path.join(self.model_dir, TRAIN_DONE)
    text = f"step {self.step}\n"
    if self.is_chief and not _has_text(path, text):
      files.write_text(path, text)
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
    batch = self.run_config.standing_batch_size or self.options.batch_size
    examples = self.run_config.num_accu_examples
    if examples is None:
      return batch, self.run_config.num_standing_batches
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
    replica; numpy [num, H, W, C]. Batches of `batch_size` (default
    options.batch_size), the last one padded (its padding dropped), so the
    sampling function is traced once; under XLA (compile_loop or
    jit_compile) it is compiled."""
    self.accumulate_standing_statistics()
    z, labels = self.sample_inputs(num, seed_offset)
    batch = batch_size or self.options.batch_size
    if labels is None:
      labels = tf.zeros([num], tf.int32)
    z, labels = (batching.pad_to_batches(t, batch) for t in (z, labels))
    return self._map_batches(self.sample_fn(), (z, labels), batch)[:num]

  def _map_batches(self, fn: Callable[..., Any], inputs: tuple[Any, ...],
                   batch: int) -> np.ndarray:
    """fn (a traced `strategy.run`) over global batches of `inputs` (whose
    length is a multiple of `batch`), split over the replicas; the results
    concatenated in order, numpy."""
    ds = tf.data.Dataset.from_tensor_slices(inputs).batch(batch, drop_remainder=True)
    outputs = []
    # One host: the replicas' results in replica order are the batch in
    # order. Several hosts need an all-gather (a collective).
    multi_host = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
    for args in self.strategy.experimental_distribute_dataset(ds):
      per_replica = fn(*args)
      if multi_host:
        outputs.append(self.strategy.gather(per_replica, axis=0).numpy())
      else:
        outputs += [t.numpy() for t in
                    self.strategy.experimental_local_results(per_replica)]
    return np.concatenate(outputs)

  def discriminator_logits(self, images: np.ndarray, labels: np.ndarray,
                           batch_size: int | None = None) -> np.ndarray:
    """D's logits [N] (float32) on reals [N, H, W, C] in the data's range
    with their labels [N] (read only by a conditional D).

    D as its step sees reals (`gan.prepare_reals`, which fades them at
    ProGAN's current level, then `gan.call_discriminator`: S3GAN's
    projection included), without DiffAugment, in inference mode as D's
    SavedModel signature calls it: spectral norm with its stored u, batch
    norm with its moving averages, so the logits do not depend on how the
    images are batched (but through ProGAN's minibatch-stddev layer, which
    reads its batch in either mode) and D is left unchanged (a training-mode call runs a
    power iteration and updates them). On every replica, in global batches
    of `batch_size` (default options.batch_size); the last batch is filled
    up with repeats of the first images (a minibatch-stddev layer sees
    real images, not zeros), which are dropped.
    """
    num = len(images)
    batch = batch_size or self.options.batch_size
    index = np.arange(num + (-num % batch)) % num
    images = np.asarray(images, np.float32)[index]
    labels = np.asarray(labels, np.int32)[index]
    return self._map_batches(self.discriminator_fn(), (images, labels), batch)[:num]

  def discriminator_fn(self) -> Callable[[Any, Any], Any]:
    """The traced D logits [B] of one (distributed) batch of reals and
    labels (see `discriminator_logits`); per replica, XLA-compiled when
    training is."""
    if self._discriminator_fn is None:
      gan, strategy = self.gan, self.strategy

      def logits(x, y):
        x = gan.prepare_reals(x)
        is_real = tf.ones(tf.shape(x)[:1], tf.bool)
        out = gan.call_discriminator(x, gan.one_hot(y), is_real, training=False)
        return tf.cast(tf.reshape(out[1], [-1]), tf.float32)

      if self.compiles:
        logits = tf.function(logits, jit_compile=True)
      self._discriminator_fn = tf.function(
          lambda x, y: strategy.run(logits, args=(x, y)))
    return self._discriminator_fn

  def sample_fn(self) -> Callable[[Any, Any], Any]:
    """The traced sampling of one (distributed) batch: labels ignored when
    unconditional; per replica, XLA-compiled when training is."""
    if self._sample_fn is None:
      gan, strategy = self.gan, self.strategy

      def sample(z, y):
        return gan.sample(z, y if gan.conditional else None)

      if self.compiles:
        sample = tf.function(sample, jit_compile=True)
      self._sample_fn = tf.function(lambda z, y: strategy.run(sample, args=(z, y)))
    return self._sample_fn

  def write_samples(self) -> str | None:
    """samples/step_<step>.png and a TensorBoard image of the same grid."""
    samples = self.generate(self.run_config.num_sample_images)
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


