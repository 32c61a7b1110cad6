"""Test setup: two logical CPU devices, so multi-replica strategies really run."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

NUM_CPU_DEVICES = 2
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_CPU_DEVICES)


@pytest.fixture(autouse=True)
def clear_gin():
  """Every test starts and ends with no gin bindings."""
  gin.clear_config()
  yield
  gin.clear_config()


@pytest.fixture(scope="session")
def mirrored_strategy() -> tf.distribute.Strategy:
  # One instance for the whole session: separate MirroredStrategy objects on
  # the same devices can clash on collective instance keys.
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
