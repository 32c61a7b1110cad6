"""The training loop's XLA checks: which ops an XLA error names, static input
shapes (the compiled loop itself: test_xla.py)."""

import pytest
import tensorflow as tf

from compare_gan2.runner import loop as loop_lib


def test_xla_error_ops_parses_both_kinds():
  unsupported = RuntimeError(
      "Detected unsupported operations when trying to compile graph f on "
      "XLA_CPU_JIT: PyFunc (No registered 'PyFunc' OpKernel for XLA_CPU_JIT "
      "devices compatible with node {{node PyFunc}}){{node PyFunc}}")
  dynamic = RuntimeError("Input 1 to node `g/Reshape_1` with op Reshape must be a "
                         "compile-time constant.")
  assert loop_lib.xla_error_ops(unsupported) == ["PyFunc (node PyFunc)"]
  assert loop_lib.xla_error_ops(dynamic) == [
      "Reshape (node g/Reshape_1: a shape known only at run time)"]
  assert loop_lib.xla_error_ops(RuntimeError("out of memory")) == []


def test_static_spec_check_names_the_component():
  spec = {"images": tf.TensorSpec([None, 4, 4, 3]), "labels": tf.TensorSpec([8])}
  with pytest.raises(ValueError, match=r"`images` has the shape \(None, 4, 4, 3\)"):
    loop_lib.check_static_spec(spec, "inputs")
  loop_lib.check_static_spec({"labels": tf.TensorSpec([8])}, "inputs")


def test_a_ctrl_c_lost_during_start_up_stops_before_training():
  """A SIGINT whose KeyboardInterrupt was swallowed on the way (in a
  finalizer, say) still stops the run when training would start: the
  heavily loaded start-up that otherwise trained on."""
  import os  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  import signal  # pylint: disable=g-import-not-at-top
  from compare_gan2.core import console  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner.loop import StopOnSignal  # pylint: disable=g-import-not-at-top
  previous = signal.getsignal(signal.SIGINT)
  try:
    console.catch_interrupts()
    with StopOnSignal() as stop:  # nothing pending: training starts
      assert stop.signum is None
    try:
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(0.1)  # the handler runs at the next bytecode boundary
    except KeyboardInterrupt:
      pass  # swallowed, as "Exception ignored in ..." does
    with pytest.raises(KeyboardInterrupt):
      with StopOnSignal():
        pass
    console.catch_interrupts()  # the next command starts clean
    with StopOnSignal() as stop:
      assert stop.signum is None
  finally:
    signal.signal(signal.SIGINT, previous)
