"""Runs never lose progress: damaged or deleted checkpoints, --restart,
hyperparameters changed on resume, read-only runs, SIGINT, folders of
interrupted saves (a diverging run: test_divergence.py)."""

import glob
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.core import files
from compare_gan2.tools import hub
from compare_gan2.runner import (TRAIN_DONE, CorruptCheckpointError,
                                 IncompatibleCheckpointError, ReadOnlyRunError,
                                 run_schedule)
from compare_gan2.runner import checkpoints as ckpt_lib
from run_cases import TINY_RUN, make_runner, read_scores


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  """A tiny run trained to step 8: checkpoints 4 and 8, TRAIN_DONE."""
  model_dir = tmp_path_factory.mktemp("finished") / "run"
  import gin
  make_runner(model_dir, 8).train()
  gin.clear_config()
  return model_dir


def copy_run(finished_run, tmp_path, name="run"):
  target = tmp_path / name
  shutil.copytree(finished_run, target)
  return target


def truncate(path, size=1000):
  with open(path, "r+b") as f:
    f.truncate(size)


def snapshot(directory):
  """{relative path: (size, mtime_ns, sha1)} of every file under directory."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()
      stat = os.stat(path)
      found[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime_ns, digest)
  return found


def warnings_of(caplog):
  return [r.getMessage() for r in caplog.records
          if r.levelno >= logging.WARNING and r.name == "compare_gan2"]


def listed(model_dir):
  state = tf.train.get_checkpoint_state(str(model_dir))
  return [os.path.basename(p) for p in state.all_model_checkpoint_paths]


DATA = ".data-00000-of-00001"


# --- 1. Missing or damaged checkpoints ----------------------------------------------


def test_deleted_newest_checkpoint_resumes_from_the_older_one(finished_run, tmp_path,
                                                              caplog):
  """Deleting the newest checkpoint's files used to restart from step 0."""
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  os.remove(run / TRAIN_DONE)
  for path in glob.glob(str(run / "model.ckpt-8.*")):
    os.remove(path)
  runner = make_runner(run, 8, ["run_config.keep_checkpoint_max = 2"])
  assert runner.restore() == 4
  (line,) = warnings_of(caplog)
  assert "model.ckpt-8 (its files are missing)" in line and "model.ckpt-4 (step 4)" in line
  assert listed(run) == ["model.ckpt-4"]
  assert runner.train() == 8
  assert listed(run) == ["model.ckpt-4", "model.ckpt-8"]


def test_truncated_newest_checkpoint_is_renamed_and_rotation_keeps_good_ones(
    finished_run, tmp_path, caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  os.remove(run / TRAIN_DONE)
  truncate(run / ("model.ckpt-8" + DATA))
  runner = make_runner(run, 8, ["run_config.keep_checkpoint_max = 2"])
  assert runner.train() == 8
  lines = warnings_of(caplog)
  assert len(lines) == 1, lines
  assert "Skipped model.ckpt-8 (truncated" in lines[0]
  assert "resumed from model.ckpt-4 (step 4)" in lines[0]
  assert "model.ckpt-<N>.corrupt.*" in lines[0]
  # The damaged files are kept aside; the state lists good checkpoints only.
  assert {"model.ckpt-8.corrupt.data-00000-of-00001",
          "model.ckpt-8.corrupt.index"} <= set(os.listdir(run))
  assert listed(run) == ["model.ckpt-4", "model.ckpt-8"]
  for name in listed(run):
    assert ckpt_lib.checkpoint_problem(str(run / name)) is None


def test_no_restorable_checkpoint_refuses_then_restart(finished_run, tmp_path, caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  os.remove(run / TRAIN_DONE)
  truncate(run / ("model.ckpt-8" + DATA))
  truncate(run / ("model.ckpt-4.index"), 100)
  before = snapshot(run)
  runner = make_runner(run, 8)
  with pytest.raises(CorruptCheckpointError,
                     match=r"No checkpoint .* restores: model.ckpt-8 \(truncated.*"
                           r"model.ckpt-4 \(unreadable.*--restart"):
    runner.train()
  assert snapshot(run) == before  # nothing moved without --restart
  runner = make_runner(run, 2, restart=True)
  (line,) = warnings_of(caplog)
  assert "Training from step 0 (restart)" in line and "restarted-" in line
  assert runner.train() == 2
  (old,) = glob.glob(str(run / "restarted-*"))
  assert snapshot(old) == before  # the earlier run, intact
  assert listed(run) == ["model.ckpt-2"]


def test_eval_after_train_skips_an_unreadable_checkpoint(finished_run, tmp_path, caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  truncate(run / ("model.ckpt-4" + DATA))
  runner = make_runner(run, 8)
  run_schedule(runner, "eval_after_train", num_eval_averaging_runs=1)
  assert [int(r["step"]) for r in read_scores(str(run))] == [8]
  (line,) = warnings_of(caplog)
  assert line.startswith("Skipped ") and "model.ckpt-4: truncated" in line


def test_export_falls_back_from_a_damaged_newest_checkpoint(finished_run, tmp_path,
                                                            caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  truncate(run / ("model.ckpt-8" + DATA))
  with pytest.raises(CorruptCheckpointError,
                     match=r"model.ckpt-8 cannot be exported: truncated.*another --step"):
    hub.export_generator(str(run), tmp_path / "gen8", step=8)
  hub.export_generator(str(run), tmp_path / "gen")
  (line,) = warnings_of(caplog)
  assert "Skipped model.ckpt-8 (truncated" in line and "exporting model.ckpt-4" in line
  assert int(hub.load_generator(str(tmp_path / "gen")).step) == 4


def test_interrupted_save_folders_are_removed_on_start(finished_run, tmp_path, caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  os.makedirs(run / "model.ckpt-12_temp")
  (run / "model.ckpt-12_temp" / ("part-00000-of-00001" + DATA)).write_bytes(b"x")
  assert ckpt_lib.temp_folders(str(run)) == [str(run / "model.ckpt-12_temp")]
  make_runner(run, 8).train()
  assert not os.path.exists(run / "model.ckpt-12_temp")
  assert any("Removed model.ckpt-12_temp/" in w for w in warnings_of(caplog))


# --- 2. Hyperparameters changed on resume ---------------------------------------


def trainable(runner):
  return [w.numpy() for w in runner.gan.generator.trainable_variables +
          runner.gan.d_variables]


def test_resume_with_zero_learning_rate_keeps_the_weights(finished_run, tmp_path, caplog):
  """The restored optimizer used to bring back the checkpoint's rate."""
  caplog.set_level("INFO", logger="compare_gan2")
  run = copy_run(finished_run, tmp_path)
  os.remove(run / TRAIN_DONE)
  runner = make_runner(run, 10, ["ModularGAN.g_lr = 0.0", "ModularGAN.d_lr = 0.0"])
  runner.restore()
  before = trainable(runner)
  assert float(runner.gan.g_optimizer.learning_rate.numpy()) == 0.0
  assert runner.train() == 10
  for a, b in zip(before, trainable(runner)):
    np.testing.assert_array_equal(a, b)
  messages = [r.getMessage() for r in caplog.records]
  assert any("G learning rate: 0.0002 in the checkpoint, 0 in the config" in m
             for m in messages)


def test_resume_with_new_rate_and_beta_takes_that_adam_step(finished_run, tmp_path):
  """The first G step after resuming with another learning rate and beta1 is
  Adam's update with the new values, from the restored moments and count."""
  run = copy_run(finished_run, tmp_path)
  os.remove(run / TRAIN_DONE)
  lr, beta1, beta2, epsilon = 0.01, 0.5, 0.999, 1e-8  # the config's, written out
  runner = make_runner(run, 9, [f"ModularGAN.g_lr = {lr}",
                                f"tf.train.AdamOptimizer.beta1 = {beta1}"])
  assert runner.restore() == 8
  opt, w = runner.gan.g_optimizer, runner.gan.generator.trainable_variables[0]
  index = opt._get_variable_index(w)  # pylint: disable=protected-access
  m_var, v_var = opt._momentums[index], opt._velocities[index]  # pylint: disable=protected-access
  w0, m0, v0 = w.numpy(), m_var.numpy(), v_var.numpy()
  t0 = int(opt.iterations.numpy())
  assert t0 == 8 and np.abs(m0).sum() > 0  # restored, not fresh
  assert runner.train() == 9
  w1, m1, v1 = w.numpy(), m_var.numpy(), v_var.numpy()
  grad = (m1 - beta1 * m0) / (1 - beta1)  # the gradient the step used
  np.testing.assert_allclose(v1, beta2 * v0 + (1 - beta2) * grad**2, rtol=1e-4, atol=1e-12)
  t = t0 + 1
  alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
  expected = w0 - alpha * m1 / (np.sqrt(v1) + epsilon)
  np.testing.assert_allclose(w1, expected, rtol=1e-3, atol=1e-6)  # float32
  old = w0 - 2e-4 * np.sqrt(1 - beta2**t) / (1 - beta1**t) * m1 / (np.sqrt(v1) + epsilon)
  assert not np.allclose(w1, old, rtol=1e-3)  # the checkpoint's rate would differ


def test_settings_that_cannot_change_on_resume_are_refused(finished_run, tmp_path):
  run = copy_run(finished_run, tmp_path)
  with pytest.raises(IncompatibleCheckpointError,
                     match=r"z_dim: 8 there, 16 now\); z_dim cannot change on resume"):
    make_runner(run, 12, ["options.z_dim = 16"])


# --- 3. Reading a run never writes it ---------------------------------------------


def test_reading_a_run_writes_nothing_into_it(finished_run, tmp_path, monkeypatch):
  """eval_after_train (outputs to output_dir), export, sample and score on a
  run directory that reports itself not writable: no file there changes."""
  from compare_gan2 import cli
  run = copy_run(finished_run, tmp_path)
  before = snapshot(run)
  real_writable = files.writable
  monkeypatch.setattr(files, "writable",
                      lambda d: False if os.path.abspath(d).startswith(str(run))
                      else real_writable(d))
  runner = make_runner(run, 8, ["eval.export_generator = True", "eval.metrics = ['swd']"])
  with pytest.raises(ReadOnlyRunError, match="not writable.*--output_dir"):
    run_schedule(runner, "eval_after_train", num_eval_averaging_runs=1)
  out = tmp_path / "eval_out"
  run_schedule(runner, "eval_after_train", num_eval_averaging_runs=1,
               output_dir=str(out))
  assert [int(r["step"]) for r in read_scores(str(out))] == [4, 8]
  assert sorted(os.listdir(out / "generators")) == ["step_0000004", "step_0000008"]
  assert cli.main(["export", "--model_dir", str(run), "--out", str(tmp_path / "gen")]) == 0
  assert cli.main(["sample", "--generator", str(out / "generators" / "step_0000008"),
                   "--num", "4", "--out", str(tmp_path / "samples")]) == 0
  import gin
  gin.clear_config()  # each command is its own process on the command line
  assert cli.main(["score", "--real", str(run / "samples"), "--fake",
                   str(tmp_path / "samples"), "--metrics", "swd", "--feature_extractor",
                   "pixels", "--resolution", "16"]) == 0
  assert snapshot(run) == before


def test_training_a_read_only_run_is_one_clear_error(finished_run, tmp_path, monkeypatch):
  run = copy_run(finished_run, tmp_path)
  monkeypatch.setattr(files, "writable", lambda d: False)
  with pytest.raises(ReadOnlyRunError, match=r"not writable, and training \(step 8 of 12\)"):
    make_runner(run, 12).train()


# --- 4. SIGINT ---------------------------------------------------------------------

SIGINT_SECONDS = 30  # stop (<= STOP_CHECK_SECONDS) + save + exit, on a loaded CPU


@pytest.mark.slow
def test_sigint_stops_at_a_step_saves_and_exits_130(tmp_path):
  path = tmp_path / "tiny.gin"
  path.write_text("\n".join(TINY_RUN + [
      "options.training_steps = 1000000", "run_config.iterations_per_loop = 1000",
      "run_config.save_checkpoints_steps = 20"]))
  model_dir = tmp_path / "run"
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  proc = subprocess.Popen([sys.executable, "-m", "compare_gan2", "--model_dir",
                           str(model_dir), "--gin_config", str(path)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  end = time.time() + 180
  while not os.path.exists(model_dir / "model.ckpt-20.index") and time.time() < end:
    time.sleep(0.05)
  time.sleep(0.5)
  sent = time.time()
  proc.send_signal(signal.SIGINT)
  out, err = proc.communicate(timeout=120)
  elapsed = time.time() - sent
  assert proc.returncode == 130, out + err
  assert elapsed < SIGINT_SECONDS, elapsed
  lines = [l for l in err.splitlines() if l.startswith("compare_gan2:")]
  assert len(lines) == 1 and "Traceback" not in err, err
  step = int(lines[0].split("stopped at step ")[1].split()[0])
  assert step >= 20  # on a loaded CPU the signal can land before step 21
  # "saved PATH", or "PATH holds it" when the stop fell on a save step.
  assert str(model_dir / f"model.ckpt-{step}") in lines[0]
  assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"model.ckpt-{step}")
  assert not os.path.exists(model_dir / TRAIN_DONE)
