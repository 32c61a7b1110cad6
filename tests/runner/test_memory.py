"""Out of memory: a batch that cannot fit is refused in one line before the
first step (it grew until the kernel killed the process, exit 137), and
TensorFlow's ResourceExhaustedError during a step is one line naming the
batch size."""

import gin
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import cli
from compare_gan2.core import config
from compare_gan2.runner import Runner, memory
from compare_gan2.runner.loop import TrainingLoop
from run_cases import TINY_RUN


def run_main(capsys, tmp_path, *bindings):
  path = tmp_path / "tiny.gin"
  path.write_text("\n".join(TINY_RUN + ["options.training_steps = 2"]) + "\n")
  argv = ["--model_dir", str(tmp_path / "run"), "--gin_config", str(path)]
  for binding in bindings:
    argv += ["--gin_bindings", binding]
  gin.clear_config()  # each command is its own process on the command line
  code = cli.main(argv)
  out = capsys.readouterr()
  return code, out.out.splitlines() + out.err.splitlines()


def errors(lines):
  return [line for line in lines if ": error: " in line]


def test_a_batch_no_machine_holds_is_refused_before_the_step(tmp_path, capsys,
                                                             monkeypatch):
  monkeypatch.delenv(memory.ENV, raising=False)
  code, lines = run_main(capsys, tmp_path, "options.batch_size = 100000000")
  assert code == 1
  assert len(errors(lines)) == 1 and not any("step 1/" in line for line in lines), lines
  line = errors(lines)[0]
  assert "MemoryError: options.batch_size = 100000000 needs up to about " in line
  assert "GB is available" in line and memory.ENV in line


def test_the_knob_sets_the_memory_or_turns_the_check_off(tmp_path, capsys, monkeypatch):
  monkeypatch.setenv(memory.ENV, "100K")
  code, lines = run_main(capsys, tmp_path, "options.batch_size = 8")
  assert code == 1 and "0.0 GB is available (COMPARE_GAN2_MEMORY_AVAILABLE)" in (
      errors(lines)[0]), lines
  monkeypatch.setenv(memory.ENV, "off")
  code, lines = run_main(capsys, tmp_path, "options.batch_size = 8")
  assert code == 0 and lines[-1].startswith("Done: "), lines


def test_resource_exhausted_in_a_step_is_one_line(tmp_path, capsys, monkeypatch):
  def out_of_memory(self, retrace=False):
    def loop(*args, **kwargs):
      raise tf.errors.ResourceExhaustedError(
          None, None, "OOM when allocating tensor with shape[8,4,16,16] and type float")
    return loop

  monkeypatch.setattr(TrainingLoop, "loop_fn", out_of_memory)
  code, lines = run_main(capsys, tmp_path, "options.batch_size = 8")
  assert code == 1 and len(errors(lines)) == 1, lines
  assert ("MemoryError: Out of memory in the training step at options.batch_size = 8; "
          "lower options.batch_size (OOM when allocating tensor") in errors(lines)[0]


def test_forward_bytes_of_a_hand_made_step():
  """x [b, 4] (the input), y = 2x [b, 4], both concatenated [2b, 4]; the
  sum, the gradient and the returned Identity (an alias) are not counted:
  16 floats, 64 bytes per example."""
  b = memory.TRACE_BATCH

  def step(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = 2.0 * x
      loss = tf.reduce_sum(tf.concat([y, y], axis=0))
    return tape.gradient(loss, x)

  graph = tf.function(step).get_concrete_function(tf.TensorSpec([b, 4])).graph
  assert memory._forward_bytes(graph, b) == (4 + 4 + 8) * 4


def _runner(tmp_path, bindings):
  gin.clear_config()
  compare_gan2.parse_gin([], bindings + ["run_config.mixed_precision = False"])
  return Runner(str(tmp_path / "run"), fake_data=True)


@pytest.mark.parametrize("bindings", [
    TINY_RUN, ['dataset.name = "mog_grid"', 'options.architecture = "mlp_arch"'],
])
def test_the_cheap_bound_holds_the_traced_estimate(tmp_path, bindings):
  """The trace is skipped when the weights' bound fits: it must not be below
  the estimate (all the architectures: test_every_architecture...)."""
  runner = _runner(tmp_path, bindings)
  shape = (runner.dataset.resolution,) * 2 + (runner.dataset.colors,)
  traced = memory.step_bytes_per_example(runner.gan, shape)
  assert 0 < traced <= memory.cheap_bound_per_example(runner.gan, shape)


@pytest.mark.slow
@pytest.mark.parametrize("arch,resolution", [
    ("biggan_cifar_arch", 32), ("dcgan_arch", 32), ("infogan_arch", 32),
    ("progan_arch", 32), ("resnet30_arch", 128), ("resnet5_arch", 32),
    ("resnet5_biggan_arch", 32), ("resnet_biggan_arch", 32),
    ("resnet_biggan_deep_arch", 128), ("resnet_cifar_arch", 32), ("resnet_stl_arch", 48),
    ("sndcgan_arch", 32)])
def test_every_architecture_keeps_under_the_cheap_bound(tmp_path, arch, resolution):
  runner = _runner(tmp_path, ['dataset.name = "shapes"', f"shapes.resolution = {resolution}",
                              f'options.architecture = "{arch}"'])
  shape = (resolution, resolution, 3)
  traced = memory.step_bytes_per_example(runner.gan, shape)
  assert 0 < traced <= memory.cheap_bound_per_example(runner.gan, shape)


def test_sizes_and_the_memory_available(monkeypatch):
  assert memory.parse_bytes("64G") == 64 * 2**30
  assert memory.parse_bytes("1.5M") == int(1.5 * 2**20) and memory.parse_bytes("4096") == 4096
  with pytest.raises(ValueError, match=memory.ENV):
    memory.parse_bytes("lots")
  monkeypatch.setenv(memory.ENV, "off")
  assert memory.available_bytes() == (None, memory.ENV)
  monkeypatch.delenv(memory.ENV)
  with open("/proc/meminfo") as f:
    mem_available = int(next(l for l in f if l.startswith("MemAvailable:")).split()[1]) * 1024
  available, _ = memory.available_bytes()
  assert 0 < available <= mem_available * 1.1  # MemAvailable moves between the reads
