"""Test setup: two logical CPU devices, so multi-replica strategies really run."""

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests check float32 numerics: `run_config.mixed_precision = "auto"` takes
# float32 whatever the CPU (tests of "auto" itself pass their own setting).
os.environ["COMPARE_GAN2_CPU_BFLOAT16"] = "0"

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


@pytest.fixture(autouse=True)
def reset_cli_logging():
  """`cli.main` run in-process points the compare_gan2 logger at the test's
  captured stdout and stops propagation; undo that so later tests (caplog)
  see the records and no handler writes to a closed stream."""
  logger = logging.getLogger("compare_gan2")
  handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
  yield
  logger.handlers[:] = handlers
  logger.propagate, logger.level = propagate, level


@pytest.fixture(scope="session")
def mirrored_strategy() -> tf.distribute.Strategy:
  # One instance for the whole session: separate MirroredStrategy objects on
  # the same devices can clash on collective instance keys.
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
