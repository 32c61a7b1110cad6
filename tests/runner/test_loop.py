"""Tests of compare_gan2.runner.loop: the host loop's tracing."""

import tensorflow as tf

from run_cases import make_runner


def test_host_loop_traces_the_step_once(tmp_path):
  """The uncompiled loop runs one step before its while loop (for the
  metrics' structure) and the rest in it: one trace of the step serves both
  (the trace is most of a small model's start-up)."""
  runner = make_runner(tmp_path / "run", 4)
  gan, calls = runner.gan, []
  traced = gan.distributed_train_step

  def counting(*args, **kwargs):
    calls.append(1)
    return traced(*args, **kwargs)

  gan.distributed_train_step = counting
  iterator = iter(runner.strategy.experimental_distribute_dataset(runner.train_inputs(0)))
  metrics = runner.loop.call(iterator, 3, {})
  assert len(calls) == 1
  assert int(gan.global_step.numpy()) == 3 and tf.math.is_finite(metrics["d_loss"])
  runner.loop.call(iterator, 2, {})  # Another length: no retrace.
  assert len(calls) == 1 and int(gan.global_step.numpy()) == 5
