"""The command line's promises: every user error is one line and exit code 1,
start-up is quiet and `--help` imports no TensorFlow. Those of one module are in
its own test file: scoring folders in test_score.py, images and label files in
tests/data/ (test_image_folder.py, test_labels.py), the shared checks in
test_common.py."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from compare_gan2 import cli
from run_cases import TINY_RUN


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tiny_gin(tmp_path, extra=()):
  path = tmp_path / "tiny.gin"
  path.write_text("\n".join(TINY_RUN + ["options.training_steps = 2", *extra]) + "\n")
  return str(path)


def run_main(capsys, argv):
  """cli.main in-process: (exit code, every line it printed)."""
  code = cli.main(argv)
  out = capsys.readouterr()
  return code, out.out.splitlines() + out.err.splitlines()


def assert_one_error_line(code, lines, *needles):
  assert code == 1
  assert len(lines) == 1, lines
  assert lines[0].startswith("compare_gan2") and ": error: " in lines[0], lines
  for needle in needles:
    assert needle in lines[0], lines[0]


def env_without_tf_log_level():
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = os.pathsep.join([REPO] + env.get("PYTHONPATH", "").split(os.pathsep))
  return env


# --- Help and start-up ---------------------------------------------------------------

def test_help_lists_every_command_without_importing_tensorflow():
  code = ("import sys\nfrom compare_gan2 import cli\ntry:\n  cli.main(['--help'])\n"
          "except SystemExit as e:\n  assert e.code == 0\n"
          "print('TF LOADED' if 'tensorflow' in sys.modules else 'NO TF')")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env_without_tf_log_level(), timeout=60)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().endswith("NO TF") and result.stderr == ""
  commands = [line.split()[0] for line in result.stdout.split("commands (")[1].splitlines()[1:]
              if line.startswith("  ")]
  assert commands == ["train", "eval", "score", "export", "sample", "sweep", "pretrain",
                      "infer-labels", "list"]
  assert "--model_dir" in result.stdout  # the flag-only training call is still there


def test_a_command_that_loads_tensorflow_prints_only_its_own_line(tmp_path):
  """No oneDNN banner, no cuInit failure, no remapper note on stderr (a value
  that only the run checks: TensorFlow has loaded)."""
  bad = tmp_path / "bad.gin"
  bad.write_text("options.batch_size = -4\n")
  result = subprocess.run(
      [sys.executable, "-m", "compare_gan2", "--model_dir", str(tmp_path / "run"),
       "--gin_config", str(bad)], capture_output=True, text=True,
      env=env_without_tf_log_level(), timeout=300)
  assert result.returncode == 1
  assert result.stderr == ""
  assert result.stdout.splitlines() == [
      "compare_gan2: error: ValueError: `options.batch_size` must be a positive integer. "
      "Received: batch_size=-4 (in configurable 'options')"]


@pytest.mark.parametrize("delay", [0.5, 2.0])
def test_ctrl_c_while_starting_is_one_line(tmp_path, delay):
  """SIGINT while TensorFlow loads or the run is built: one line, exit 130
  (was a 20-70 line traceback and death by the signal)."""
  process = subprocess.Popen(
      [sys.executable, "-m", "compare_gan2", "--model_dir", str(tmp_path / "run"),
       "--gin_config", tiny_gin(tmp_path, ["options.training_steps = 100000"])],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=env_without_tf_log_level())
  try:
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
  finally:
    process.kill()  # a failed test must not leave a 100000-step run behind
    process.wait()
  assert "step 1/" not in out, "training had started: the test needs a shorter delay"
  assert process.returncode == 130, err
  assert err.splitlines() == [
      "compare_gan2: interrupted (SIGINT) outside training; nothing saved."]


def test_unknown_command_and_bad_flags_are_one_line(capsys):
  for argv, needle in ((["scroe"], "did you mean 'score'"),
                       (["--model_dir"], "expected one argument")):
    with pytest.raises(SystemExit) as info:
      cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_a_run_that_diverges_without_nan_ends_with_the_warning(tmp_path, capsys):
  """Learning rate 1e6: losses around 1e6 to the end, no NaN; the last lines
  repeat the warning and name --restart before `Done:` (was a plain Done)."""
  code, lines = run_main(capsys, [
      "--model_dir", str(tmp_path / "run"), "--gin_config", tiny_gin(tmp_path),
      "--gin_bindings", "options.training_steps = 8",
      "--gin_bindings", "ModularGAN.g_lr = 1e6", "--gin_bindings", "ModularGAN.d_lr = 1e6"])
  assert code == 0
  assert lines[-1].startswith("Done: ")
  assert lines[-2].startswith("Training ended diverged: at step 8 "), lines[-3:]
  assert "--restart" in lines[-2] and "divergence_threshold = 10000" in lines[-2]


# --- User errors ---------------------------------------------------------------------

@pytest.mark.parametrize("text,needles", [
    ("options.batch_size = 4\noptions.z_dim = = 3\n", ["line 2", "'options.z_dim = = 3'"]),
    ("options.batch_size = 4\noptions.z_dim = (3\n", ["EOF in multi-line statement"]),
    ('include "no_such_base.gin"\n', ["'no_such_base.gin' not found", "line 1"]),
    ("optons.batch_size = 4\n", ["optons", "line 1"]),
])
def test_gin_errors_name_the_file_and_line(tmp_path, capsys, text, needles):
  path = tmp_path / "broken.gin"
  path.write_text(text)
  code, lines = run_main(capsys, ["--model_dir", str(tmp_path / "run"), "--gin_config",
                                  str(path)])
  assert_one_error_line(code, lines, str(path), *needles)


def test_gin_binding_syntax_error(tmp_path, capsys):
  code, lines = run_main(capsys, ["--model_dir", str(tmp_path / "run"), "--gin_config",
                                  tiny_gin(tmp_path), "--gin_bindings", "options.z_dim = = 3"])
  assert_one_error_line(code, lines, "--gin_bindings, line 1")


def test_model_dir_that_is_a_file_or_under_a_file(tmp_path, capsys):
  afile = tmp_path / "afile"
  afile.write_text("x")
  code, lines = run_main(capsys, ["--model_dir", str(afile)])
  assert_one_error_line(code, lines, f"'{afile}' is a file")
  code, lines = run_main(capsys, ["--model_dir", str(afile / "run")])
  assert_one_error_line(code, lines, "cannot be created", f"'{afile}' is a file")


def test_model_dir_without_write_permission(tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(cli.os, "access", lambda path, mode: False)  # root may write anywhere
  code, lines = run_main(capsys, ["--model_dir", str(tmp_path / "locked" / "run")])
  assert_one_error_line(code, lines, "no write permission", f"'{tmp_path}'")


def _runner_raising(error):
  def runner(*args, **kwargs):
    raise error
  return runner


@pytest.mark.parametrize("error,needles", [
    (OSError(errno.ENOSPC, "No space left on device"),
     ["OSError: [Errno 28] No space left on device (while writing --model_dir"]),
    (OSError(errno.ENOSPC, "No space left on device", "/x/model.ckpt-4.index"),
     ["/x/model.ckpt-4.index"]),
    (tf.errors.DataLossError(None, None, "{{function_node __wrapped__RestoreV2}} TensorBundle "
                             "at /x/model.ckpt-4 shard 0: Checksum does not match\n"
                             "  stored 1 vs. calculated 2 [Op:RestoreV2]"),
     ["DataLossError: TensorBundle at /x/model.ckpt-4 shard 0: Checksum does not match "
      "stored 1 vs. calculated 2"]),
    (tf.errors.InvalidArgumentError(None, None, "Unsuccessful TensorSliceReader constructor:"
                                    " /x/model.ckpt-4: not an sstable (bad magic number)"),
     ["/x/model.ckpt-4: not an sstable"]),
])
def test_disk_full_and_unreadable_checkpoints(tmp_path, capsys, monkeypatch, error, needles):
  import compare_gan2.runner
  monkeypatch.setattr(compare_gan2.runner, "Runner", _runner_raising(error))
  model_dir = str(tmp_path / "run")
  code, lines = run_main(capsys, ["--model_dir", model_dir, "--gin_config", tiny_gin(tmp_path)])
  assert_one_error_line(code, lines, *needles)
  if error.__class__ is OSError and not error.filename:
    assert model_dir in lines[0]


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
  import compare_gan2.runner
  monkeypatch.setattr(compare_gan2.runner, "Runner", _runner_raising(TypeError("bug")))
  with pytest.raises(TypeError):
    cli.main(["--model_dir", str(tmp_path / "run"), "--gin_config", tiny_gin(tmp_path)])


def test_traceback_on_request(tmp_path, monkeypatch):
  monkeypatch.setenv("COMPARE_GAN2_TRACEBACK", "1")
  afile = tmp_path / "afile"
  afile.write_text("x")
  with pytest.raises(NotADirectoryError):
    cli.main(["--model_dir", str(afile)])
