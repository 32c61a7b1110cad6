"""The command line's promises: every user error is one line and exit code 1,
start-up is quiet and `--help` imports no TensorFlow, scoring folders is safe,
images and label files load correctly or are refused with a line."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import compare_gan2
from compare_gan2 import cli
from compare_gan2.data.image_folder import ImageFolderDataset, scan_image_folder
from compare_gan2.data.labels import FileLabels, read_label_file
from compare_gan2.cli import common
from compare_gan2.core import console
from compare_gan2.core import choices
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


def test_flag_choices_match_the_runner():
  from compare_gan2.runner.schedules import SCHEDULES
  from compare_gan2.runner.strategy import STRATEGIES
  assert choices.SCHEDULES == SCHEDULES and choices.STRATEGIES == STRATEGIES


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


def test_disk_full_in_a_subcommand_names_its_output(tmp_path, capsys):
  folder = _write_images(tmp_path / "fake", 4)
  code, lines = run_main(capsys, ["score", "--real", str(folder), "--fake", str(folder),
                                  "--resolution", "4", "--feature_extractor", "pixels",
                                  "--metrics", "kid", "--output", "/dev/full"])
  assert code == 1
  errors = [line for line in lines if ": error: " in line]
  assert errors == ["compare_gan2 score: error: OSError: [Errno 28] No space left on device"
                    " (while writing --output '/dev/full')"]


def test_one_line_collapses_gin_and_tf_messages():
  text = ("`options.batch_size` must be a positive integer. Received: batch_size=-1\n"
          "  In call to configurable 'options' (<function options at 0x7f>)\n"
          '  In file "/a/b.gin", line 3\n    options.batch_size = -1')
  assert console.one_line(text) == (
      "`options.batch_size` must be a positive integer. Received: batch_size=-1 (in "
      "configurable 'options') (in /a/b.gin, line 3: options.batch_size = -1)")


# --- --data_fake_dataset in run.json -------------------------------------------------------

def test_run_json_records_fake_data_and_a_changed_flag_is_refused(tmp_path, capsys):
  import gin
  from compare_gan2.core import config
  from compare_gan2.runner import Runner
  gin.clear_config()
  compare_gan2.parse_gin([tiny_gin(tmp_path)], [])
  model_dir = tmp_path / "run"
  Runner(str(model_dir), fake_data=True)
  info = json.loads((model_dir / "run.json").read_text())
  assert info["fake_data"] is True
  # Without checkpoints the flag may change; with one it may not.
  common.check_fake_data_flag(str(model_dir), False)
  (model_dir / "model.ckpt-2.index").write_bytes(b"")
  (model_dir / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-2"\n')
  common.check_fake_data_flag(str(model_dir), True)
  gin.clear_config()
  code, lines = run_main(capsys, ["--model_dir", str(model_dir), "--gin_config",
                                  tiny_gin(tmp_path)])
  assert_one_error_line(code, lines, "trained on random (fake) data",
                        "pass --data_fake_dataset")
  info["fake_data"] = False
  (model_dir / "run.json").write_text(json.dumps(info))
  with pytest.raises(ValueError, match="drop --data_fake_dataset"):
    common.check_fake_data_flag(str(model_dir), True)
  del info["fake_data"]  # a run.json from before the field: not checked
  (model_dir / "run.json").write_text(json.dumps(info))
  common.check_fake_data_flag(str(model_dir), True)


# --- Scoring folders -----------------------------------------------------------------------

def _write_images(folder, num, size=8, grey=False):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(num):
    shape = [size, size] if grey else [size, size, 3]
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
        folder / f"sample_{i:05d}.png")
  return folder


def test_score_skips_the_sample_grid_and_warns_on_few_samples(tmp_path, capsys):
  from compare_gan2.tools import sample
  folder = _write_images(tmp_path / "samples", 20, size=32, grey=True)
  Image.fromarray(np.zeros([64, 64], np.uint8)).save(folder / sample.GRID_FILE)
  Image.fromarray(np.zeros([64, 64], np.uint8)).save(folder / sample.INTERPOLATION_FILE)
  out = tmp_path / "scores.json"
  assert cli.main(["score", "--real", "digits", "--fake", str(folder), "--metrics", "fid",
                   "--feature_extractor", "classifier", "--output", str(out),
                   "--gin_bindings", f"eval.cache_dir = '{tmp_path / 'cache'}'"]) == 0
  result = json.loads(out.read_text())
  assert result["num_samples"] == 20
  assert sorted(os.path.basename(f) for f in result["excluded_files"]) == [
      "grid.png", "interpolation.png"]
  assert len(result["warnings"]) == 1 and "20 samples with 128" in result["warnings"][0]
  assert "Warning: FID from 20 samples" in capsys.readouterr().out


def test_pixel_features_too_large_for_memory_are_refused_before_loading(tmp_path, capsys):
  real = _write_images(tmp_path / "real", 3)
  fake = _write_images(tmp_path / "fake", 3)
  code, lines = run_main(capsys, ["score", "--real", str(real), "--fake", str(fake),
                                  "--feature_extractor", "pixels"])
  assert code == 1
  errors = [line for line in lines if ": error: " in line]
  assert len(errors) == 1 and "MemoryError" in errors[0], lines
  assert "299x299x3" in errors[0] and "268203 pixel features" in errors[0]
  assert "--resolution" in errors[0]


def test_memory_needed_counts_the_covariances():
  from compare_gan2.tools.score import memory_needed
  d = 299 * 299 * 3
  assert memory_needed(10, 299, 3, pixel_features=True, fid=True) == (
      10 * d * 5 + 10 * d * 8 + 3 * d * d * 8)
  assert memory_needed(10, 299, 3, pixel_features=False, fid=True) == 10 * d * 5
  assert memory_needed(10, 299, 3, pixel_features=True, fid=False) == 10 * d * 13


def test_scan_excludes_only_named_root_files(tmp_path):
  folder = _write_images(tmp_path / "f", 2)
  Image.fromarray(np.zeros([8, 8], np.uint8)).save(folder / "grid.png")
  assert len(scan_image_folder(str(folder))[0]) == 3
  assert len(scan_image_folder(str(folder), exclude=("grid.png",))[0]) == 2


# --- Images and label files ----------------------------------------------------------

def test_16_bit_png_loads_scaled_not_white(tmp_path):
  folder = tmp_path / "png16"
  folder.mkdir()
  values = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)  # 0 .. 63000
  Image.fromarray(values).save(folder / "a.png")
  assert Image.open(folder / "a.png").mode.startswith("I")  # really 16-bit
  images = ImageFolderDataset(str(folder), resolution=8, colors=1).arrays("train")[0]
  expected = np.floor(values / 257.0 + 0.5).astype(np.uint8)  # 65535 -> 255
  np.testing.assert_array_equal(images[0, ..., 0], expected)
  rgb = ImageFolderDataset(str(folder), resolution=8, colors=3).arrays("train")[0]
  np.testing.assert_array_equal(rgb[0], np.repeat(expected[..., None], 3, axis=-1))


def test_8_bit_png_unchanged(tmp_path):
  folder = _write_images(tmp_path / "png8", 1, grey=True)
  expected = np.asarray(Image.open(folder / "sample_00000.png"))
  images = ImageFolderDataset(str(folder), resolution=8, colors=1).arrays("train")[0]
  np.testing.assert_array_equal(images[0, ..., 0], expected)


@pytest.mark.parametrize("kind", ["text", "npy", "png", "object_npz"])
def test_a_file_that_is_not_a_label_file(tmp_path, kind):
  path = tmp_path / f"labels.{kind}"
  if kind == "text":
    path.write_text("0 1 2\n")
  elif kind == "npy":
    with open(path, "wb") as f:
      np.save(f, np.arange(3))
  elif kind == "png":
    Image.fromarray(np.zeros([4, 4], np.uint8)).save(path, format="PNG")
  else:
    with open(path, "wb") as f:
      np.savez(f, labels=np.array([{}], dtype=object), dataset="digits", num_examples=1)
  with pytest.raises(ValueError) as info:
    read_label_file(str(path))
  message = str(info.value)
  assert str(path) in message and "not a" in message and "write_label_file" in message
  assert "allow_pickle" not in message.split(";")[0] and "\n" not in message
  with pytest.raises(ValueError, match="label file"):
    FileLabels(str(path)).contents  # pylint: disable=expression-not-assigned
