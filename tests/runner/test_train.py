"""The Runner: run directory contents, resume, determinism, NaN and
incompatible-checkpoint errors, multi-replica training (its eval schedules:
test_schedules.py)."""

import glob
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.core import config
from compare_gan2.core.registry import UnknownNameError
from compare_gan2.runner import (TRAIN_DONE, IncompatibleCheckpointError,
                                 NaNLossError, Runner)
from compare_gan2.metrics import evaluation as evaluation_lib
from run_cases import assert_same_checkpoints, checkpoint_values, make_runner


def test_run_directory_holds_everything(tmp_path):
  runner = make_runner(tmp_path, 8, ["run_config.keep_checkpoint_max = 1"])
  assert runner.train() == 8
  latest = tf.train.latest_checkpoint(str(tmp_path))
  assert latest.endswith("model.ckpt-8")
  assert not glob.glob(str(tmp_path / "model.ckpt-4*"))  # keep_checkpoint_max
  assert os.path.exists(tmp_path / TRAIN_DONE)
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000004.png",
                                                      "step_0000008.png"]
  from PIL import Image
  grid = np.asarray(Image.open(tmp_path / "samples" / "step_0000008.png"))
  # 16 images of 16 px, enlarged 4x to 64 px, 1 px borders.
  assert grid.shape == (4 * 65 + 1, 4 * 65 + 1, 3)
  operative = (tmp_path / "operative_config-0.gin").read_text()
  assert "options.architecture = 'dcgan_arch'" in operative
  assert "loss.fn" in operative and "dcgan.Generator.ch = 4" in operative
  tags = set()
  for event_file in glob.glob(str(tmp_path / "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(event_file):
      tags |= {v.tag for v in event.summary.value}
  assert {"d_loss", "g_loss", "steps_per_sec", "samples"} <= tags


def test_progress_line(tmp_path, caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  make_runner(tmp_path, 4).train()
  lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
  assert len(lines) == 2
  assert lines[-1].startswith("step 4/4 (100%)")
  assert "d_loss" in lines[-1] and "steps/s" in lines[-1] and "ETA" in lines[-1]


def test_same_seed_same_checkpoints(tmp_path):
  make_runner(tmp_path / "a", 50, ["run_config.save_checkpoints_steps = 50",
                                   "run_config.iterations_per_loop = 25"]).train()
  make_runner(tmp_path / "b", 50, ["run_config.save_checkpoints_steps = 50",
                                   "run_config.iterations_per_loop = 25"]).train()
  assert_same_checkpoints(str(tmp_path / "a" / "model.ckpt-50"),
                          str(tmp_path / "b" / "model.ckpt-50"))


def test_resume_equals_uninterrupted(tmp_path):
  """Stop at 4, resume to 8: the same weights, optimizer slots, EMA, step and
  data position as one run to 8."""
  make_runner(tmp_path / "full", 8).train()
  make_runner(tmp_path / "split", 4).train()
  os.remove(tmp_path / "split" / TRAIN_DONE)
  runner = make_runner(tmp_path / "split", 8)
  assert runner.train() == 8
  assert runner.step == 8
  assert_same_checkpoints(str(tmp_path / "full" / "model.ckpt-8"),
                          str(tmp_path / "split" / "model.ckpt-8"))


def test_other_seed_other_weights(tmp_path):
  make_runner(tmp_path / "a", 4).train()
  make_runner(tmp_path / "b", 4, ["run_config.tf_random_seed = 4"]).train()
  va = checkpoint_values(str(tmp_path / "a" / "model.ckpt-4"))
  vb = checkpoint_values(str(tmp_path / "b" / "model.ckpt-4"))
  assert any(not np.array_equal(va[k], vb[k]) for k in va if va[k].dtype.kind == "f")


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path):
  make_runner(tmp_path, 4).train()
  os.remove(tmp_path / TRAIN_DONE)
  before = checkpoint_values(str(tmp_path / "model.ckpt-4"))
  # An infinite penalty weight makes d_loss infinite at the first step.
  runner = make_runner(tmp_path, 8, ["penalty.fn = @l2_penalty", "options.lamba = 1e400"])
  with pytest.raises(NaNLossError, match=r"d_loss.*steps 4 and 5.*model.ckpt-4"):
    runner.train()
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-4")
  after = checkpoint_values(str(tmp_path / "model.ckpt-4"))
  for key in before:
    np.testing.assert_array_equal(before[key], after[key])
  assert not os.path.exists(tmp_path / TRAIN_DONE)


def test_checkpoint_of_another_architecture(tmp_path):
  make_runner(tmp_path, 4).train()
  files = {p: os.path.getmtime(p) for p in glob.glob(str(tmp_path / "model.ckpt-*"))}
  with pytest.raises(IncompatibleCheckpointError, match="dcgan_arch.*sndcgan_arch"):
    make_runner(tmp_path, 8, ['options.architecture = "sndcgan_arch"',
                              "sndcgan.Generator.ch = 4", "sndcgan.Discriminator.ch = 4"])
  # Same architecture, other widths: run.json agrees, the checkpoint does not.
  runner = make_runner(tmp_path, 8, ["dcgan.Generator.ch = 8"])
  with pytest.raises(IncompatibleCheckpointError, match="does not match this model"):
    runner.train()
  assert files == {p: os.path.getmtime(p) for p in glob.glob(str(tmp_path / "model.ckpt-*"))}


def test_config_errors_name_the_problem(tmp_path):
  with pytest.raises(UnknownNameError, match="Did you mean: shapes"):
    make_runner(tmp_path, 4, ['dataset.name = "shape"'])
  with pytest.raises(UnknownNameError, match="dcgan_arch"):
    make_runner(tmp_path, 4, ['options.architecture = "dcgan"'])
  with pytest.raises(ValueError, match="configurable 'optons'.*Did you mean 'options'"):
    make_runner(tmp_path, 4, ["optons.batch_size = 4"])
  with pytest.raises(ValueError, match="iterations_per_loop"):
    make_runner(tmp_path, 4, ["run_config.iterations_per_loop = 0"])


def test_mirrored_training(tmp_path, mirrored_strategy):
  runner = make_runner(tmp_path, 4, strategy=mirrored_strategy)
  assert runner.train() == 4
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-4")
  samples = runner.generate(10)  # split over the replicas, gathered
  assert samples.shape == (10, 16, 16, 3)
  assert np.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1


def test_batch_must_split_over_replicas(tmp_path, mirrored_strategy):
  with pytest.raises(ValueError, match="divide evenly over the 2 replicas"):
    make_runner(tmp_path, 4, ["options.batch_size = 7"], strategy=mirrored_strategy)


def test_run_options_are_typed(tmp_path):
  """options, run_config and eval options are frozen dataclasses; options
  still read like the dict they were."""
  import dataclasses
  from compare_gan2.metrics.evaluation import EvalOptions
  from compare_gan2.runner.settings import RunConfig
  runner = make_runner(tmp_path, 2)
  assert isinstance(runner.options, config.RunOptions)
  assert runner.options.batch_size == runner.options["batch_size"] == 8
  assert runner.options.as_dict()["z_dim"] == 8
  with pytest.raises(KeyError, match="No run option 'batch'"):
    runner.options["batch"]  # pylint: disable=pointless-statement
  assert isinstance(runner.run_config, RunConfig)
  assert runner.run_config.save_checkpoints_steps == 4
  opts = evaluation_lib.eval_options()
  assert isinstance(opts, EvalOptions) and opts.metrics == ("fid", "kid", "swd")
  for value in (runner.options, runner.run_config, opts):
    with pytest.raises(dataclasses.FrozenInstanceError):
      value.batch_size = 1


def test_from_run_dir_reads_without_writing(tmp_path):
  """Runner.from_run_dir rebuilds a run from its operative config; it writes
  nothing there (not even a missing run.json) and refuses to train."""
  from compare_gan2.runner import ReadOnlyRunError
  run = tmp_path / "run"
  trained = make_runner(run, 4)
  trained.train()
  expected = trained.generate(4)
  os.remove(run / "run.json")
  before = sorted(os.listdir(run))
  gin.clear_config()
  runner = Runner.from_run_dir(str(run))
  assert runner.info["z_dim"] == 8 and runner.options.training_steps == 4
  assert runner.restore() == 4
  np.testing.assert_allclose(runner.generate(4), expected, atol=1e-6)
  assert sorted(os.listdir(run)) == before
  with gin.unlock_config():
    gin.bind_parameter("options.training_steps", 6)
  with pytest.raises(ReadOnlyRunError, match="not writable"):
    Runner(str(run), read_only=True).train()
  assert sorted(os.listdir(run)) == before
  with pytest.raises(FileNotFoundError, match="no operative_config"):
    Runner.from_run_dir(str(tmp_path))


def test_mixed_precision_from_run_config(tmp_path):
  """`run_config.mixed_precision` builds bfloat16 networks; the run trains."""
  runner = make_runner(tmp_path / "run", 2, ["run_config.mixed_precision = True"])
  dtypes = {l.compute_dtype for l in runner.gan.discriminator._flatten_layers() if l.weights}
  assert dtypes == {"bfloat16"}
  assert runner.train() == 2
  assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("-2")


@pytest.mark.parametrize("native", ["1", "0"])
def test_auto_precision_follows_the_cpu(tmp_path, monkeypatch, caplog, native):
  """The default "auto": bfloat16 networks on a CPU with native bfloat16
  (float32 otherwise), said in the start-up line and recorded in run.json."""
  monkeypatch.setenv("COMPARE_GAN2_CPU_BFLOAT16", native)
  runner = make_runner(tmp_path / "run", 1)
  expected = "bfloat16" if native == "1" else "float32"
  assert runner.compute_dtype == expected
  dtypes = {l.compute_dtype for l in runner.gan.generator._flatten_layers() if l.weights}
  assert dtypes == {expected}
  caplog.set_level("INFO", logger="compare_gan2")
  assert runner.train() == 1
  line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Training"))
  assert f"{expected} compute" in line and '"auto"' in line
  import json
  with open(tmp_path / "run" / "run.json") as f:
    assert json.load(f)["compute_dtype"] == expected
