"""The command line, run as a user runs it: real subprocesses, SIGKILL in the
middle of training, two local multi-worker processes, the shipped configs."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.core import config
from compare_gan2.runner import TRAIN_DONE, Runner
from compare_gan2.core import config_files
from run_cases import TINY_RUN, assert_same_checkpoints, run_cli


SHIPPED = sorted(f[:-4] for f in os.listdir(config_files.CONFIG_DIR) if f.endswith(".gin"))
EXAMPLES = ["biggan_imagenet128", "dcgan_celeba64", "resnet_cifar10",
            "resnet_lsun-bedroom128", "sndcgan_celebahq128"]


def tiny_gin(tmp_path, steps, extra=()):
  path = tmp_path / "tiny.gin"
  path.write_text("\n".join(TINY_RUN + [f"options.training_steps = {steps}", *extra]))
  return str(path)


def test_cli_trains_and_leaves_a_complete_run_directory(tmp_path):
  model_dir = tmp_path / "run"
  result = run_cli("--model_dir", str(model_dir), "--gin_config", tiny_gin(tmp_path, 4),
                   "--gin_bindings", "run_config.save_checkpoints_steps = 2")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "step 4/4 (100%)" in result.stdout and "ETA" in result.stdout
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("model.ckpt-4")
  assert os.path.exists(model_dir / TRAIN_DONE)
  assert os.path.exists(model_dir / "operative_config-0.gin")
  assert sorted(os.listdir(model_dir / "samples")) == ["step_0000002.png", "step_0000004.png"]
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(model_dir))


def test_cli_errors_are_one_clear_line(tmp_path):
  gin_file = tiny_gin(tmp_path, 4)
  result = run_cli("--model_dir", str(tmp_path / "a"), "--gin_config", gin_file,
                   "--gin_bindings", "optons.batch_size = 4")
  assert result.returncode == 1
  assert "error" in result.stdout and "optons" in result.stdout
  assert "Traceback" not in result.stdout + result.stderr
  result = run_cli("--model_dir", str(tmp_path / "b"), "--gin_config", "resnet_cifar")
  assert result.returncode == 1
  assert "resnet_cifar10" in result.stdout  # the shipped configs are listed
  result = run_cli("--model_dir", str(tmp_path / "c"), "--gin_config", "resnet_cifar10",
                   "--tfds_data_dir", str(tmp_path / "no_data"))
  assert result.returncode == 1
  assert "cifar10" in result.stdout and str(tmp_path / "no_data") in result.stdout
  assert "download_and_prepare" in result.stdout


def test_cli_mirrored_on_logical_cpus(tmp_path):
  model_dir = tmp_path / "run"
  result = run_cli("--model_dir", str(model_dir), "--gin_config", tiny_gin(tmp_path, 4),
                   "--strategy", "mirrored", "--num_cpu_devices", "2")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "2 replica(s)" in result.stdout
  with open(model_dir / "run.json") as f:
    assert json.load(f)["num_replicas"] == 2
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("model.ckpt-4")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_parse(name):
  compare_gan2.parse_gin([config_files.resolve_config(name)], [])
  opts = config.options()
  assert opts["training_steps"] > 0 and opts["batch_size"] > 0
  from compare_gan2.architectures import ARCHITECTURES
  assert opts["architecture"] in ARCHITECTURES


def test_includes_of_shipped_configs_log_no_errors(caplog):
  """gin's misses on the way to a shipped include are not errors."""
  compare_gan2.parse_gin([config_files.resolve_config("diffaugment_digits")], [])
  assert gin.query_parameter("dataset.name") == "digits"  # from the include
  assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("name,policy,fraction", [
    ("diffaugment_biggan_cifar10", "translation,cutout", None),
    ("diffaugment_biggan_cifar10_20pct", "translation,cutout", 0.2),
    ("diffaugment_biggan_cifar10_10pct", "translation,cutout", 0.1),
    ("diffaugment_biggan_imagenet128", "translation", None),
    ("diffaugment_biggan_imagenet128_50pct", "translation", None),
    ("diffaugment_biggan_imagenet128_25pct", "translation", None),
    ("diffaugment_biggan_imagenet128_20pct", "translation", 0.2),
    ("diffaugment_biggan_imagenet128_10pct", "translation", 0.1),
    ("diffaugment_lowshot", "color,translation,cutout", None),
    ("diffaugment_digits", "translation,cutout", 0.1),
    ("diffaugment_shapes", "color,translation,cutout", 0.1)])
def test_data_efficient_configs(name, policy, fraction):
  """The included base config plus the policy and the data fraction."""
  from compare_gan2.augment.diffaugment import DiffAugment
  from compare_gan2.data.factory import get_dataset
  compare_gan2.parse_gin([config_files.resolve_config(name)], [])
  assert DiffAugment().policy == policy
  assert gin.query_parameter("dataset.train_fraction") == fraction if fraction else True
  if "imagenet" in name:  # the BigGAN settings came through the include
    assert gin.query_parameter("options.batch_size") == 2048
  if name in ("diffaugment_digits", "diffaugment_shapes"):
    assert get_dataset().num_train_examples == (150 if "digits" in name else 1000)


# The fork's DiffAugment_configs/DiffAugment-biggan-imagenet128{,-0.5,-0.25}.gin
# and datasets.py (imagenet_128_0.5 / _0.25 take 640583 / 320291 examples).
@pytest.mark.parametrize("name,examples,steps,d_lr", [
    ("diffaugment_biggan_imagenet128", None, 250000, 4e-4),
    ("diffaugment_biggan_imagenet128_50pct", 640583, 150000, 2e-4),
    ("diffaugment_biggan_imagenet128_25pct", 320291, 60000, 2e-4)])
def test_diffaugment_imagenet_configs_pin_the_fork(name, examples, steps, d_lr):
  compare_gan2.parse_gin([config_files.resolve_config(name)], [])
  q = gin.query_parameter
  assert q("dataset.train_examples") == examples if examples else True
  assert q("options.training_steps") == steps and q("ModularGAN.d_lr") == d_lr
  assert q("train_imagenet_transform.crop_method") == "zoomed"
  assert q("DiffAugment.map_to_symmetric") is False
  assert q("options.architecture") == "resnet_biggan_arch"
  assert (q("options.batch_size"), q("options.disc_iters"), q("options.z_dim"),
          q("ModularGAN.g_lr")) == (2048, 2, 120, 1e-4)
  assert q("resnet_biggan.Generator.hierarchical_z") is True


# DiffAugment-biggan-cifar/scripts/DiffAugment-biggan-cifar10{,-0.2,-0.1}.sh:
# iterations = epochs * examples / (batch 50 * 4 D steps).
@pytest.mark.parametrize("name,steps", [
    ("diffaugment_biggan_cifar10", 1000 * 50000 // 200),
    ("diffaugment_biggan_cifar10_20pct", 5000 * 10000 // 200),
    ("diffaugment_biggan_cifar10_10pct", 5000 * 5000 // 200)])
def test_diffaugment_cifar_configs_pin_the_pytorch_runs(name, steps):
  compare_gan2.parse_gin([config_files.resolve_config(name)], [])
  q = gin.query_parameter
  assert q("options.training_steps") == steps
  assert q("options.architecture") == "biggan_cifar_arch"
  assert (q("options.batch_size"), q("options.disc_iters"), q("options.z_dim"),
          q("ModularGAN.g_lr"), q("ModularGAN.d_lr")) == (50, 4, 128, 2e-4, 2e-4)
  assert (q("biggan_cifar.Generator.ch"), q("biggan_cifar.Discriminator.ch")) == (64, 64)
  assert q("DiffAugment.map_to_symmetric") is True
  assert (q("ModularGAN.ema_decay"), q("ModularGAN.ema_start_step")) == (0.9999, 1000)
  assert q("weights.initializer") == "normal" and q("dataset.random_flip") is True


def test_the_five_original_example_configs_ship():
  assert set(EXAMPLES) <= set(SHIPPED) and "quickstart" in SHIPPED


# --- Slow: end to end ---------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_config_trains_one_step_on_fake_data(tmp_path, name):
  """The configs at their full size, one step; in a process of their own,
  whose memory (4.8 GB for BigGAN 128) goes back when it ends: a test
  process keeps the high-water mark of every test it ran."""
  disc_iters = 5 if name in ("resnet_cifar10", "resnet_lsun-bedroom128") else 1
  # BigGAN's standing statistics as the original (3200 batches) are too slow
  # for a CPU test: two batches of two here.
  code = f"""
import compare_gan2
from compare_gan2.core import config_files
from compare_gan2.runner import Runner
compare_gan2.parse_gin([config_files.resolve_config({name!r})],
                       ["options.batch_size = 2", "options.training_steps = 1",
                        "run_config.num_sample_images = 4",
                        "run_config.standing_batch_size = 2",
                        "run_config.num_accu_examples = 4"])
runner = Runner({str(tmp_path)!r}, fake_data=True)
print("disc_iters", runner.gan.disc_iters, "steps", runner.train())
"""
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=900)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  want = 2 if name == "biggan_imagenet128" else disc_iters
  assert f"disc_iters {want} steps 1" in result.stdout, result.stdout[-3000:]
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["diffaugment_biggan_cifar10_10pct", "diffaugment_lowshot"])
def test_diffaugment_config_trains_one_step(tmp_path, name):
  from PIL import Image
  folder = tmp_path / "images"
  folder.mkdir()
  for i in range(4):
    Image.fromarray(np.full([70, 80, 3], 60 * i, np.uint8)).save(folder / f"{i}.png")
  gin.clear_config()
  compare_gan2.parse_gin([config_files.resolve_config(name)],
               ["options.batch_size = 2", "options.training_steps = 1",
                "run_config.num_sample_images = 4", f"image_folder.path = '{folder}'",
                # Narrow and small: the configs' wiring is under test, not their size.
                "resnet_biggan.Generator.ch = 8", "resnet_biggan.Discriminator.ch = 8",
                "biggan_cifar.Generator.ch = 2", "biggan_cifar.Discriminator.ch = 2",
                "image_folder.resolution = 32", "options.disc_iters = 1"])
  runner = Runner(str(tmp_path / "run"), fake_data="cifar" in name)
  assert runner.gan.augmentation.policy
  assert runner.train() == 1


@pytest.mark.slow
def test_quickstart_under_mirrored_strategy(tmp_path):
  result = run_cli("--model_dir", str(tmp_path), "--strategy", "mirrored",
                   "--num_cpu_devices", "2", "--gin_bindings", "options.training_steps = 100",
                   "--gin_bindings", "run_config.save_checkpoints_steps = 100")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "on digits" in result.stdout and "2 replica(s)" in result.stdout
  assert os.path.exists(tmp_path / "samples" / "step_0000100.png")


def _wait_for(predicate, timeout):
  end = time.time() + timeout
  while time.time() < end:
    if predicate():
      return True
    time.sleep(0.05)
  return False


@pytest.mark.slow
def test_sigkill_at_any_point_then_rerun_finishes_the_same_run(tmp_path):
  """Kill training at random moments (mid-loop, mid-save); each rerun resumes
  from the newest checkpoint, all checkpoints stay readable, and the end
  result is the checkpoint of an uninterrupted run."""
  steps = 200
  gin_file = tiny_gin(tmp_path, steps, ["run_config.save_checkpoints_steps = 4",
                                        "run_config.iterations_per_loop = 1"])
  model_dir = str(tmp_path / "killed")
  done = os.path.join(model_dir, TRAIN_DONE)
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  rng = np.random.RandomState(0)
  kills = 0
  for _ in range(4):
    proc = subprocess.Popen([sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
                             "--gin_config", gin_file], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = tf.train.latest_checkpoint(model_dir)
    started = _wait_for(lambda: tf.train.latest_checkpoint(model_dir) != before, 120)
    time.sleep(rng.uniform(0.0, 1.5))
    if proc.poll() is None and started and not os.path.exists(done):
      proc.send_signal(signal.SIGKILL)
      kills += 1
    proc.wait()
    state = tf.train.get_checkpoint_state(model_dir)
    for path in state.all_model_checkpoint_paths:  # every listed checkpoint loads
      tf.train.load_checkpoint(path).get_variable_to_shape_map()
    if os.path.exists(done):  # TRAIN_DONE only once the last step is saved
      assert tf.train.latest_checkpoint(model_dir).endswith(f"model.ckpt-{steps}")
  assert kills >= 2
  result = run_cli("--model_dir", model_dir, "--gin_config", gin_file)
  assert result.returncode == 0, result.stdout + result.stderr
  assert "Resumed from" in result.stdout
  assert tf.train.latest_checkpoint(model_dir).endswith(f"model.ckpt-{steps}")
  uninterrupted = str(tmp_path / "uninterrupted")
  result = run_cli("--model_dir", uninterrupted, "--gin_config", gin_file)
  assert result.returncode == 0
  assert_same_checkpoints(os.path.join(model_dir, f"model.ckpt-{steps}"),
                          os.path.join(uninterrupted, f"model.ckpt-{steps}"))


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
def test_multi_worker_two_local_processes(tmp_path):
  ports = _free_ports(2)
  cluster = {"worker": [f"localhost:{p}" for p in ports]}
  gin_file = tiny_gin(tmp_path, 4)
  model_dir = str(tmp_path / "run")
  procs = []
  for index in range(2):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_CONFIG": json.dumps({"cluster": cluster,
                                    "task": {"type": "worker", "index": index}})}
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
         "--gin_config", gin_file, "--strategy", "multi_worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outputs = [p.communicate(timeout=300)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), outputs
  assert "2 replica(s)" in outputs[0]
  assert tf.train.latest_checkpoint(model_dir).endswith("model.ckpt-4")
  assert os.path.exists(os.path.join(model_dir, TRAIN_DONE))
  assert not any(name.startswith(".worker") for name in os.listdir(model_dir))


@pytest.mark.slow
def test_continuous_eval_follows_a_training_process(tmp_path):
  """continuous_eval scores checkpoints while another process writes them,
  and stops once TRAIN_DONE is there and the last checkpoint is scored."""
  gin_file = tiny_gin(tmp_path, 60, ["run_config.save_checkpoints_steps = 4",
                                     "run_config.iterations_per_loop = 1",
                                     f"eval.cache_dir = '{tmp_path / 'cache'}'"])
  model_dir = str(tmp_path / "run")
  trainer = subprocess.Popen(
      [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir, "--gin_config",
       gin_file], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    assert _wait_for(lambda: os.path.exists(os.path.join(model_dir, "run.json")), 120)
    result = run_cli("--model_dir", model_dir, "--gin_config", gin_file, "--schedule",
                     "continuous_eval", "--num_eval_averaging_runs", "1",
                     "--eval_poll_seconds", "0.2", timeout=600)
  finally:
    trainer.wait(timeout=600)
  assert result.returncode == 0, result.stdout + result.stderr
  with open(os.path.join(model_dir, "scores.csv")) as f:
    steps = [int(line.split(",")[0]) for line in f.readlines()[1:]]
  assert len(steps) >= 2 and steps == sorted(steps) and steps[-1] == 60
