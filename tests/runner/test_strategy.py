"""The TPU branch of the strategy factory, as far as a machine without a TPU
allows: where it looks (--tpu, $TPU_NAME, $COLAB_TPU_ADDR, local), what
`--strategy auto` picks, and that no TPU gives one clear line (in-process with
TensorFlow's failures faked, and through the command line for real)."""

import socket

import pytest
import tensorflow as tf

from compare_gan2.runner import strategy as strategy_lib
from run_cases import run_cli

NO_TPU_ENV = {"TPU_NAME": "", "COLAB_TPU_ADDR": ""}


@pytest.mark.parametrize("tpu, env, expected", [
    ("my-tpu", {"TPU_NAME": "other", "COLAB_TPU_ADDR": "1.2.3.4:8470"}, "my-tpu"),
    (None, {"TPU_NAME": "other", "COLAB_TPU_ADDR": "1.2.3.4:8470"}, "other"),
    (None, {"COLAB_TPU_ADDR": "1.2.3.4:8470"}, "grpc://1.2.3.4:8470"),
    ("", {}, "local"),
    (None, {}, "local"),
])
def test_tpu_address(tpu, env, expected):
  assert strategy_lib.tpu_address(tpu, env) == expected


def test_detect_strategy(tmp_path, monkeypatch):
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
  dev = str(tmp_path)
  assert strategy_lib.detect_strategy({}, dev) == ("default", None)
  assert strategy_lib.detect_strategy({"TPU_NAME": "t1"}, dev) == ("tpu", "t1")
  assert strategy_lib.detect_strategy({"COLAB_TPU_ADDR": "10.0.0.2:8470"}, dev) == (
      "tpu", "grpc://10.0.0.2:8470")
  (tmp_path / "accel0").touch()  # the chips of a TPU VM
  assert strategy_lib.detect_strategy({}, dev) == ("tpu", "local")
  (tmp_path / "accel0").unlink()
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: ["gpu0", "gpu1"] if kind == "GPU" else [])
  assert strategy_lib.detect_strategy({}, dev) == ("mirrored", None)


def test_auto_on_this_machine_is_the_default_strategy(monkeypatch):
  for key in NO_TPU_ENV:
    monkeypatch.delenv(key, raising=False)
  if strategy_lib.has_tpu() or tf.config.list_physical_devices("GPU"):
    pytest.skip("this machine has an accelerator")
  strategy = strategy_lib.make_strategy("auto")
  assert strategy is tf.distribute.get_strategy()
  assert strategy_lib.describe(strategy) == "CPU"


def test_auto_with_tpu_flag_connects_to_it(monkeypatch):
  tried = []

  def connect_tpu(tpu=None, **kwargs):
    tried.append(tpu)
    raise strategy_lib.TPUNotFoundError("none")

  monkeypatch.setattr(strategy_lib, "connect_tpu", connect_tpu)
  with pytest.raises(strategy_lib.TPUNotFoundError):
    strategy_lib.make_strategy("auto", tpu="my-tpu")
  assert tried == ["my-tpu"]


def test_describe_mirrored(mirrored_strategy):
  assert strategy_lib.describe(mirrored_strategy) == "2 CPUs (MirroredStrategy)"


def _closed_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _assert_one_clear_line(message, address):
  assert "\n" not in message
  assert f"no TPU found at '{address}'" in message
  assert "Runtime > Change runtime type > TPU" in message and "--tpu NAME" in message


def test_unreachable_grpc_address_fails_fast(monkeypatch):
  """TensorFlow would wait forever; the factory gives up after a TCP try."""
  connected = []
  monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", connected.append)
  address = f"grpc://127.0.0.1:{_closed_port()}"
  with pytest.raises(strategy_lib.TPUNotFoundError) as e:
    strategy_lib.make_strategy("tpu", tpu=address)
  _assert_one_clear_line(str(e.value), address)
  assert "cannot connect" in str(e.value) and not connected


@pytest.mark.parametrize("error", [
    tf.errors.NotFoundError(None, None, "TPUs not found in the cluster. Failed in "
                            "initialization: No OpKernel was registered\n[[node]]"),
    OSError("<urlopen error [Errno -2] Name or service not known>"),  # a name nobody knows
    ValueError("Please provide a TPU Name to connect to."),
])
def test_tensorflow_failures_become_one_line(error, monkeypatch):
  """TensorFlow's errors (faked: connecting to a real address here could
  change this process's devices) keep their first sentence."""
  monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: None)

  def fail(resolver):
    raise error

  monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", fail)
  with pytest.raises(strategy_lib.TPUNotFoundError) as e:
    strategy_lib.make_strategy("tpu", tpu="local")
  _assert_one_clear_line(str(e.value), "local")
  assert type(error).__name__ in str(e.value) and "OpKernel" not in str(e.value)
  assert isinstance(e.value, ValueError)  # a user error for the command line


def test_connected_but_no_tpu_devices(monkeypatch):
  monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: None)
  monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: None)
  with pytest.raises(strategy_lib.TPUNotFoundError, match="no TPU devices"):
    strategy_lib.connect_tpu(None, environ={})


def test_cli_strategy_tpu_without_a_tpu_is_one_line(tmp_path):
  if strategy_lib.has_tpu():
    pytest.skip("this machine has a TPU")
  result = run_cli("--model_dir", str(tmp_path / "run"), "--strategy", "tpu",
                   "--data_fake_dataset", env=NO_TPU_ENV)
  assert result.returncode == 1
  assert "Traceback" not in result.stdout + result.stderr
  lines = [l for l in result.stdout.splitlines() if "error" in l]
  assert len(lines) == 1, result.stdout
  _assert_one_clear_line(lines[0], "local")
  assert "TPUNotFoundError" in lines[0]
