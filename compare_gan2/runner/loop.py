"""The training loop: the GAN's steps in calls of `tf.function` (the host
loop) or whole loops compiled by XLA (`run_config.compile_loop`), a stop at
a step boundary on SIGINT/SIGTERM, NaN and divergence checks, one progress
line per loop, and checkpoints at their periods."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import signal
import threading
import time
from typing import Any, Callable

import tensorflow as tf

from compare_gan2.gans import make_step_inputs
from compare_gan2.runner import divergence, memory
from compare_gan2.runner.errors import (NaNLossError, TrainingInterrupted,
                                        XlaCompileError, first_line)
from compare_gan2.runner.keeper import CheckpointKeeper
from compare_gan2.runner.run_dir import RunDir
from compare_gan2.runner.settings import RunConfig

logger = logging.getLogger("compare_gan2")

# Training runs in calls of about this many seconds (at most
# iterations_per_loop steps), so that a SIGINT stops it this soon.
STOP_CHECK_SECONDS = 0.5


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


class StopOnSignal:
  """Within: SIGINT and SIGTERM set `signum` instead of stopping the process
  (training stops at the next step boundary), and give the signals back their
  previous handlers, so a second one acts at once. Main thread only (signal
  handlers cannot be set elsewhere; there it does nothing)."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __enter__(self) -> "StopOnSignal":
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


def train_inputs(gan: Any, dataset: Any, batch_size: int, seed: int,
                 start_step: int) -> tf.data.Dataset:
  """Global batches of step inputs from `start_step` on: the same stream
  whether the run started there or resumed there."""
  n = gan.disc_iters
  ds = dataset.input_fn("train", batch_size * n, skip_batches=start_step)

  def to_step_inputs(step, batch):
    images, labels = batch
    return make_step_inputs(images, labels, disc_iters=n, z_dim=gan.z_dim,
                            num_classes=dataset.num_classes, seed=seed, step=step)

  # Off the step's critical path: built in parallel, ahead of the step.
  ds = ds.enumerate(start=start_step).map(
      to_step_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return ds.with_options(options)


def _host_loop(gan: Any, strategy: tf.distribute.Strategy) -> Callable[..., Any]:
  @tf.function
  def train_loop(iterator, num_steps, **static):
    metrics = gan.distributed_train_step(strategy, next(iterator), **static)
    for _ in tf.range(num_steps - 1):
      metrics = gan.distributed_train_step(strategy, next(iterator), **static)
    return metrics

  return train_loop


def _compiled_loop(gan: Any, strategy: tf.distribute.Strategy) -> Callable[..., Any]:
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

  return train_loop


@dataclasses.dataclass
class _Position:
  """Where a training run is: its step, the last saved one, whether the
  operative config is written, and the steps per call (grown from 1, the
  tracing call, to about STOP_CHECK_SECONDS of steps)."""
  step: int
  saved: int
  wrote_config: bool = False
  chunk: int = 1


class TrainingLoop:
  """Trains a GAN on from its current step.

  Args:
    gan: the GAN (its `distributed_train_step` and `global_step`).
    strategy: the tf.distribute strategy it lives in.
    run_config: RunConfig. Loop length, checkpoint period, compile_loop,
      divergence threshold.
    batch_size: int. The global batch (`options.batch_size`).
    name: str. The model in messages ("ModularGAN (dcgan_arch)").
  """

  def __init__(self, gan: Any, strategy: tf.distribute.Strategy,
               run_config: RunConfig, *, batch_size: int, name: str):
    self.gan, self.strategy, self.run_config = gan, strategy, run_config
    self.batch_size, self.name = batch_size, name
    self._loop_fn = None

  @property
  def compiles(self) -> bool:
    """Whether training runs under XLA (the loop or the step)."""
    return self.run_config.compile_loop or self.gan.jit_compile

  def loop_fn(self, retrace: bool = False) -> Callable[..., dict[str, tf.Tensor]]:
    """train_loop(iterator, num_steps, **static): num_steps steps, the
    metrics of the last. `static`: the GAN's `static_step_kwargs` (Python
    values: one trace each). With `compile_loop`, num_steps is a Python
    int (one trace per loop length). `retrace`: build it anew (after the
    GAN's `jit_compile` changed)."""
    if self._loop_fn is None or retrace:
      make = _compiled_loop if self.run_config.compile_loop else _host_loop
      self._loop_fn = make(self.gan, self.strategy)
    return self._loop_fn

  def call(self, iterator: Any, num_steps: int, static: dict[str, Any]
           ) -> dict[str, tf.Tensor]:
    """One call of the training loop; XLA's compile errors name the op."""
    steps = num_steps if self.run_config.compile_loop else tf.constant(num_steps)
    try:
      return self.loop_fn()(iterator, steps, **static)
    except tf.errors.ResourceExhaustedError as e:
      raise memory.out_of_memory(first_line(e), self.batch_size) from e
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
      ops = xla_error_ops(e) if self.compiles else []
      if not ops:
        raise
      raise XlaCompileError(
          f"XLA cannot compile the training step of {self.name}: "
          f"{'; '.join(ops)}. That op needs an "
          "XLA-compilable replacement (or run without run_config.compile_loop "
          f"/ jit_compile). {first_line(e)}", ops) from e

  def run(self, inputs: tf.data.Dataset, start: int, total: int, *,
          keeper: CheckpointKeeper, run_dir: RunDir, save: Callable[[], str],
          on_checkpoint: Callable[[int, str], None] | None = None,
          checkpoint_every: int | None = None) -> int:
    """Trains from `start` to `total` on `inputs` (global batches of step
    inputs from `start` on; under XLA of static shapes, `check_static_spec`),
    calling `save()` at the checkpoint periods
    (run_config.save_checkpoints_steps and `checkpoint_every`) and at the
    end, then `on_checkpoint(step, path)` (chief). Returns the last step;
    raises `TrainingInterrupted` after a signal (having saved)."""
    cfg = self.run_config
    periods = [cfg.save_checkpoints_steps] + ([checkpoint_every] if checkpoint_every else [])
    iterator = iter(self.strategy.experimental_distribute_dataset(inputs))
    progress, at = Progress(start, total), _Position(step=start, saved=start)
    watch = divergence.DivergenceWatch(cfg.divergence_threshold)
    with StopOnSignal() as stop:
      while at.step < total:
        boundary = min(((at.step // p) + 1) * p for p in periods)
        loop_start = at.step
        loop_end = at.step + min(cfg.iterations_per_loop, total - at.step,
                                 boundary - at.step)
        values = self._steps(iterator, at, loop_end, stop, keeper, watch)
        if at.step > loop_start:
          self._report(at, start, values, progress, run_dir)
        if stop.signum is not None:
          raise self._interrupted(stop.signum, at, total, keeper, save)
        if any(at.step % p == 0 for p in periods) or at.step == total:
          path, at.saved = save(), at.step
          if on_checkpoint is not None and run_dir.is_chief:
            on_checkpoint(at.step, path)
    watch.report_end(at.step)
    return at.step

  def _steps(self, iterator: Any, at: _Position, loop_end: int, stop: StopOnSignal,
             keeper: CheckpointKeeper, watch: divergence.DivergenceWatch
             ) -> dict[str, float]:
    """Calls of the loop function up to `loop_end` (or a signal); the
    metrics of the last step."""
    cfg, values = self.run_config, {}
    replicas = self.strategy.num_replicas_in_sync
    while at.step < loop_end and stop.signum is None:
      num_steps = loop_end - at.step if cfg.compile_loop else min(at.chunk, loop_end - at.step)
      static = {}
      if self.compiles:  # the step's shapes as Python values, while they hold
        static, holds = self.gan.static_step_kwargs(self.batch_size // replicas, replicas)
        num_steps = min(num_steps, holds or num_steps)
      began = time.time()
      values = {k: float(v) for k, v in self.call(iterator, num_steps, static).items()}
      seconds = max(time.time() - began, 1e-6)
      at.chunk = max(1, min(cfg.iterations_per_loop,
                            int(num_steps * STOP_CHECK_SECONDS / seconds)))
      at.step = int(self.gan.global_step.numpy())
      latest = keeper.manager.latest_checkpoint
      _check_losses(values, at.step - num_steps, at.step, latest)
      watch.update(values, at.step, latest)
    return values

  @staticmethod
  def _report(at: _Position, start: int, values: dict[str, float],
              progress: Progress, run_dir: RunDir) -> None:
    """After a loop: the operative config (once the first loop has traced
    everything), the progress line and the scalars."""
    if not at.wrote_config:
      run_dir.write_operative_config(start)
      at.wrote_config = True
    rate = progress.update(at.step, values)
    run_dir.write_scalars(at.step, {**values, "steps_per_sec": rate})

  @staticmethod
  def _interrupted(signum: int, at: _Position, total: int, keeper: CheckpointKeeper,
                   save: Callable[[], str]) -> TrainingInterrupted:
    """The error that ends a run stopped by a signal, after saving."""
    path = keeper.manager.latest_checkpoint if at.saved == at.step else save()
    saved = f"saved {path}" if at.saved != at.step else (
        f"{path} holds it" if path else "nothing to save")
    return TrainingInterrupted(
        f"{signal.Signals(signum).name}: stopped at step {at.step} of "
        f"{total}, {saved}; run the same command again to resume.",
        signum, at.step, path)


def _check_losses(values: dict[str, float], first: int, last: int,
                  latest: str | None) -> None:
  bad = sorted(k for k, v in values.items() if not math.isfinite(v))
  if bad:
    raise NaNLossError(
        f"{', '.join(bad)} became NaN/inf between steps {first} "
        f"and {last}; stopped without saving. The last good checkpoint is "
        f"{latest or 'none (no checkpoint yet)'}.")
