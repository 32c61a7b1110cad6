"""Run-level settings (`run_config.*`): how a run trains, saves and samples,
whatever it trains."""

from __future__ import annotations

import dataclasses

import gin

from compare_gan2.core import hardware
from compare_gan2.core.checks import is_int

_POSITIVE = ("iterations_per_loop", "save_checkpoints_steps", "keep_checkpoint_max",
             "num_sample_images", "num_standing_batches")
_POSITIVE_OR_NONE = ("num_accu_examples", "standing_batch_size")


# The selector's module stays where the configurable was first declared.
@gin.configurable("run_config", module="compare_gan2.runner.train")
@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Run-level settings of the original (`run_config.*`), configured by
  gin and checked once here; `run_config()` (this class) builds them.

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

  def __post_init__(self) -> None:
    for key in _POSITIVE + _POSITIVE_OR_NONE:
      value = getattr(self, key)
      if value is None and key in _POSITIVE_OR_NONE:
        continue
      if not is_int(value, 1):
        what = "a positive integer or None" if key in _POSITIVE_OR_NONE else (
            "a positive integer")
        raise ValueError(f"`run_config.{key}` must be {what}. "
                         f"Received: {key}={value!r}")
    threshold = self.divergence_threshold
    if threshold is not None and not threshold > 0:
      raise ValueError("`run_config.divergence_threshold` must be > 0 or None. "
                       f"Received: {threshold!r}")
    seed = self.tf_random_seed
    if seed is not None and not 0 <= seed < 2**31:
      raise ValueError("`run_config.tf_random_seed` must be in [0, 2**31). "
                       f"Received: {seed!r}")
    hardware.check_mixed_precision(self.mixed_precision)
    if not isinstance(self.compile_loop, bool):
      raise ValueError("`run_config.compile_loop` must be True or False. "
                       f"Received: {self.compile_loop!r}")


# `run_config()`: the run's settings from gin (the gin name `run_config`).
run_config = RunConfig
