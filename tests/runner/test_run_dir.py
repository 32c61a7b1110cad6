"""A run directory has one writer and its readers never change it: `eval` on a
finished run with a damaged newest checkpoint scores the good ones without
training, an empty `checkpoint` state file is rebuilt from the files, and a
second trainer on the same directory is refused while a killed one's lock
does not block the resume."""

import os
import shutil
import signal
import subprocess
import sys
import time

import gin
import pytest
import tensorflow as tf

from compare_gan2 import cli
from compare_gan2.core import files
from compare_gan2.tools import hub
from compare_gan2.runner import TRAIN_DONE
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner import run_lock
from run_cases import TINY_RUN, make_runner, read_scores
from test_faults import (DATA, copy_run, finished_run, snapshot,  # noqa: F401
                         truncate, warnings_of)


def train_gin(tmp_path, steps):
  path = tmp_path / "train.gin"
  path.write_text("\n".join(TINY_RUN + [f"options.training_steps = {steps}"]) + "\n")
  return str(path)


def eval_gin(tmp_path):
  path = tmp_path / "eval.gin"
  path.write_text(f"eval.cache_dir = '{tmp_path / 'cache'}'\neval.num_samples = 32\n"
                  "eval.feature_extractor = 'pixels'\neval.export_generator = False\n"
                  "eval.metrics = ['swd']\n")
  return str(path)


def run_eval(run, tmp_path, *extra):
  gin.clear_config()
  return cli.main(["eval", "--model_dir", str(run), "--num_eval_averaging_runs", "1",
                   "--gin_config", eval_gin(tmp_path), *extra])


def printed(capsys):
  out = capsys.readouterr()
  return (out.out + out.err).splitlines()


def read_only(monkeypatch, run):
  """`run` reports itself not writable (the tests run as root, for whom a
  chmod changes nothing)."""
  real = files.writable
  monkeypatch.setattr(files, "writable", lambda d: False if os.path.abspath(
      d).startswith(str(run)) else real(d))


# --- 1. Evaluation never trains or writes into the run it reads -----------------------


@pytest.mark.parametrize("writable", [True, False])
def test_eval_of_a_damaged_finished_run_scores_the_good_checkpoints(
    finished_run, tmp_path, capsys, monkeypatch, writable):
  """The newest checkpoint is truncated: eval used to train 4 -> 8 again,
  write model.ckpt-8, events and an operative config into the run, and
  report the retrained step 8 (or refuse all on a read-only run)."""
  run = copy_run(finished_run, tmp_path)
  truncate(run / ("model.ckpt-8" + DATA))
  before = snapshot(run)
  if not writable:
    read_only(monkeypatch, run)
  out = tmp_path / "out"
  assert run_eval(run, tmp_path, "--output_dir", str(out)) == 0
  assert snapshot(run) == before  # byte for byte, and no new file
  assert [int(r["step"]) for r in read_scores(str(out))] == [4]
  lines = printed(capsys)
  assert [l for l in lines if l.startswith("Skipped ")] == [
      f"Skipped {run / 'model.ckpt-8'}: truncated: a file is shorter than its index "
      "says."], lines
  assert not any(l.startswith("Training ") for l in lines), lines
  assert lines[-1].startswith("Scored 1 checkpoint(s) (step 4) into ")
  assert lines[-1].endswith("; skipped 1 (model.ckpt-8 (truncated: a file is shorter "
                            "than its index says)).")


def test_eval_without_output_dir_only_adds_its_scores(finished_run, tmp_path, capsys):
  run = copy_run(finished_run, tmp_path)
  truncate(run / ("model.ckpt-8" + DATA))
  before = snapshot(run)
  assert run_eval(run, tmp_path) == 0
  after = snapshot(run)
  assert {k: v for k, v in after.items() if k in before} == before
  added = sorted(set(after) - set(before))
  assert [n for n in added if not n.startswith("events.out.tfevents")] == [
      "scores.csv", "scores.jsonl", "scores.png"], added
  assert [int(r["step"]) for r in read_scores(str(run))] == [4]


def test_eval_of_a_read_only_run_without_output_dir_is_one_line(
    finished_run, tmp_path, capsys, monkeypatch):
  run = copy_run(finished_run, tmp_path)
  before = snapshot(run)
  read_only(monkeypatch, run)
  assert run_eval(run, tmp_path) == 1
  lines = [l for l in printed(capsys) if ": error: " in l]
  assert len(lines) == 1 and "--output_dir" in lines[0], lines
  assert snapshot(run) == before


def test_eval_of_a_run_with_no_readable_checkpoint_fails(finished_run, tmp_path, capsys):
  run = copy_run(finished_run, tmp_path)
  truncate(run / ("model.ckpt-8" + DATA))
  truncate(run / ("model.ckpt-4" + DATA))
  before = snapshot(run)
  assert run_eval(run, tmp_path, "--output_dir", str(tmp_path / "out")) == 1
  (line,) = [l for l in printed(capsys) if ": error: " in l]
  assert "model.ckpt-8 (truncated" in line and "model.ckpt-4 (truncated" in line, line
  assert snapshot(run) == before


# --- 2. An empty `checkpoint` state file ---------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\n", b"\x00" * 64])
def test_empty_state_file_is_recovered_by_train_eval_and_export(
    finished_run, tmp_path, capsys, content):
  """A 0-byte `checkpoint` (a crash or a full disk) made every command fail
  with "Invalid checkpoint state" although the checkpoints were intact."""
  run = copy_run(finished_run, tmp_path)
  (run / "checkpoint").write_bytes(content)
  assert ckpt_lib.state_problem(str(run)) == "empty"
  assert [os.path.basename(p) for p in ckpt_lib.list_checkpoints(str(run))] == [
      "model.ckpt-8", "model.ckpt-4"]
  # Reading: export and eval use the files, and leave the run as it is.
  before = snapshot(run)
  assert cli.main(["export", "--model_dir", str(run), "--out", str(tmp_path / "gen")]) == 0
  assert int(hub.load_generator(str(tmp_path / "gen")).step) == 8
  assert run_eval(run, tmp_path, "--output_dir", str(tmp_path / "out")) == 0
  assert [int(r["step"]) for r in read_scores(str(tmp_path / "out"))] == [4, 8]
  assert snapshot(run) == before
  printed(capsys)
  # Training: rewrites the state file from the files and resumes from step 8.
  os.remove(run / TRAIN_DONE)
  gin.clear_config()
  assert cli.main(["--model_dir", str(run), "--gin_config", train_gin(tmp_path, 12)]) == 0
  lines = printed(capsys)
  assert lines[0] == ("The `checkpoint` state file was empty (a crash or a full disk?); "
                      "rebuilt it from the 2 checkpoint(s) on disk."), lines
  assert lines[1] == f"Resumed from {run / 'model.ckpt-8'} (step 8).", lines
  state = tf.train.get_checkpoint_state(str(run))
  # All three, as with an intact state file (keep_checkpoint_max is larger).
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
      "model.ckpt-4", "model.ckpt-8", "model.ckpt-12"]


def test_damaged_state_file_is_rebuilt_with_every_checkpoint(finished_run, tmp_path):
  """A garbage state file was ignored, so the rotation forgot the older
  checkpoints (they were never deleted, nor counted)."""
  run = copy_run(finished_run, tmp_path)
  (run / "checkpoint").write_text("model_checkpoint_path: \"model.ckpt-8\"\n%garbage")
  assert ckpt_lib.state_problem(str(run)) == "damaged"
  os.remove(run / TRAIN_DONE)
  make_runner(run, 12).train()
  assert ckpt_lib.state_problem(str(run)) is None
  assert [os.path.basename(p) for p in ckpt_lib.read_state(str(run)).paths] == [
      "model.ckpt-4", "model.ckpt-8", "model.ckpt-12"]


# --- 3. One trainer per run directory --------------------------------------------------


@pytest.mark.slow
def test_a_second_trainer_is_refused_with_one_line(tmp_path):
  """The same command twice: the second exits 1 with one line naming the
  first's pid; the first goes on and stops cleanly."""
  path = tmp_path / "tiny.gin"
  path.write_text("\n".join(TINY_RUN + [
      "options.training_steps = 1000000", "run_config.iterations_per_loop = 1000",
      "run_config.save_checkpoints_steps = 1000"]))
  model_dir = tmp_path / "run"
  argv = [sys.executable, "-m", "compare_gan2", "--model_dir", str(model_dir),
          "--gin_config", str(path)]
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  try:
    end = time.time() + 240
    while not os.path.exists(model_dir / "model.ckpt-1000.index") and time.time() < end:
      time.sleep(0.1)
    assert first.poll() is None
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1, second.stdout + second.stderr
    text = second.stdout + second.stderr
    lines = [l for l in text.splitlines() if l.startswith("compare_gan2")]
    assert len(lines) == 1 and "Traceback" not in text, text
    assert lines[0].startswith("compare_gan2: error: ")
    assert f"pid {first.pid}" in lines[0] and "one trainer per run directory" in lines[0]
  finally:
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
  assert first.returncode == 130, err


def test_two_runners_in_one_process_share_the_lock(finished_run, tmp_path):
  """Tests and notebooks build several Runners on one directory in one
  process; the lock is the process's, taken while training."""
  run = copy_run(finished_run, tmp_path)
  os.remove(run / TRAIN_DONE)
  a = make_runner(run, 10)
  with run_lock.RunLock.acquire(str(run)):
    assert a.train() == 10
  assert run_lock.holder(str(run)) is None  # released and removed
  assert make_runner(run, 12).train() == 12
  assert run_lock.holder(str(run)) is None


def test_continuous_eval_and_export_take_no_lock(finished_run, tmp_path):
  run = copy_run(finished_run, tmp_path)
  with run_lock.RunLock.acquire(str(run)):
    code = ("import sys\nfrom compare_gan2.tools import hub\n"
            "hub.export_generator(sys.argv[1], sys.argv[2])\n")
    result = subprocess.run([sys.executable, "-c", code, str(run), str(tmp_path / "gen")],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr
