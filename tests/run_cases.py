"""Tiny runs shared by the Runner, CLI, fault and XLA tests: a run config that
trains in milliseconds, a Runner built from it, and readers of what it wrote."""

import csv
import os
import subprocess
import sys

import gin
import numpy as np
import tensorflow as tf

import compare_gan2
from compare_gan2.core import config
from compare_gan2.runner import TRAIN_DONE, Runner

# A DCGAN of width 4 on 16 px shapes: a step takes milliseconds.
TINY_RUN = [
    'dataset.name = "shapes"', "shapes.resolution = 16",
    "shapes.num_train_examples = 256", "shapes.num_test_examples = 64",
    'options.architecture = "dcgan_arch"', "options.batch_size = 8",
    "options.z_dim = 8", "dcgan.Generator.ch = 4", "dcgan.Discriminator.ch = 4",
    "G.batch_norm_fn = @batch_norm", "D.spectral_norm = True",
    "ModularGAN.g_use_ema = True", "ModularGAN.ema_start_step = 2",
    "ModularGAN.ema_decay = 0.9",
    "run_config.tf_random_seed = 3", "run_config.iterations_per_loop = 2",
    "run_config.save_checkpoints_steps = 4", "run_config.num_sample_images = 16",
    "eval.num_samples = 32", 'eval.feature_extractor = "pixels"',
    'eval.metrics = ["fid", "kid", "swd"]', "eval.export_generator = False",
]


def make_runner(model_dir, steps, bindings=(), strategy=None, restart=False):
  gin.clear_config()
  cache = os.path.join(os.path.dirname(str(model_dir)), "cache")
  compare_gan2.parse_gin([], TINY_RUN + [f"options.training_steps = {steps}",
                               f"eval.cache_dir = '{cache}'"] + list(bindings))
  return Runner(str(model_dir), strategy=strategy, restart=restart)


def checkpoint_values(path):
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if not k.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def assert_same_checkpoints(a, b):
  va, vb = checkpoint_values(a), checkpoint_values(b)
  assert va.keys() == vb.keys()
  for key in va:
    np.testing.assert_array_equal(va[key], vb[key], err_msg=key)


def assert_resume_equals_uninterrupted(tmp_path, bindings=()):
  """Trains one run to 8 and another to 4 then resumed to 8, and asserts the
  two step-8 checkpoints are equal. Returns (the full run's Runner, its
  step-8 checkpoint path)."""
  full_runner = make_runner(tmp_path / "full", 8, bindings)
  full_runner.train()
  make_runner(tmp_path / "split", 4, bindings).train()
  os.remove(tmp_path / "split" / TRAIN_DONE)
  assert make_runner(tmp_path / "split", 8, bindings).train() == 8
  full = str(tmp_path / "full" / "model.ckpt-8")
  assert_same_checkpoints(full, str(tmp_path / "split" / "model.ckpt-8"))
  return full_runner, full


def plain_and_compiled_loops(tmp_path, bindings, steps=3):
  """Checkpoint values after `steps` steps of the Runner's plain loop and of
  its loop XLA-compiled whole (`run_config.compile_loop`), one loop each."""
  runs = []
  loop = [f"run_config.iterations_per_loop = {steps}",
          f"run_config.save_checkpoints_steps = {steps}"]
  for compiled in (False, True):
    runner = make_runner(tmp_path / str(compiled), steps, list(bindings) + loop
                         + [f"run_config.compile_loop = {compiled}"])
    assert runner.train() == steps
    runs.append(checkpoint_values(str(tmp_path / str(compiled) / f"model.ckpt-{steps}")))
  return runs


def assert_close_values(a, b, rtol=1e-4, atol=1e-5):
  assert a.keys() == b.keys()
  for key in a:
    np.testing.assert_allclose(b[key], a[key], rtol=rtol, atol=atol, err_msg=key)


def read_scores(model_dir):
  with open(os.path.join(model_dir, "scores.csv"), newline="") as f:
    return list(csv.DictReader(f))


def run_cli(*args, env=None, timeout=300):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
  return subprocess.run([sys.executable, "-m", "compare_gan2", *args], env=env,
                        capture_output=True, text=True, timeout=timeout)
