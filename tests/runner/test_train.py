"""The Runner: run directory contents, resume, determinism, NaN and
incompatible-checkpoint errors, multi-replica training, eval schedules."""

import glob
import json
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.core import config
from compare_gan2.metrics import frechet_distance
from compare_gan2.core.registry import UnknownNameError
from compare_gan2.runner import (TRAIN_DONE, IncompatibleCheckpointError,
                                 NaNLossError, Runner, run_schedule)
from compare_gan2.metrics import evaluation as evaluation_lib
from compare_gan2.runner import schedules as schedules_lib
from run_cases import assert_same_checkpoints, checkpoint_values, make_runner, read_scores


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


def test_train_and_eval_writes_a_row_per_eval_step(tmp_path):
  runner = make_runner(tmp_path / "run", 6)
  run_schedule(runner, "train_and_eval", eval_every_steps=3, num_eval_averaging_runs=2)
  rows = read_scores(str(tmp_path / "run"))
  # Checkpoints at 3 (eval), 4 (save period) and 6 (both): rows for 3 and 6.
  assert [int(r["step"]) for r in rows] == [3, 6]
  # FID over raw pixels, recomputed independently: real = first 32 test images.
  runner.restore_from(str(tmp_path / "run" / "model.ckpt-6"))
  real = np.concatenate([x.numpy() for x, _ in runner.dataset.eval_input_fn(
      batch_size=32)])[:32].reshape(32, -1)
  expected = [frechet_distance(real, runner.generate(32, seed_offset=run).reshape(32, -1))
              for run in (1, 2)]
  assert float(rows[1]["fid"]) == pytest.approx(np.mean(expected), rel=1e-5)
  assert [float(v) for v in rows[1]["fid_list"].split()] == pytest.approx(expected, rel=1e-4)
  assert float(rows[1]["kid"]) > 0 and float(rows[1]["swd"]) > 0
  assert rows[1]["options.architecture"] == "dcgan_arch"
  assert rows[1]["feature_extractor"] == "pixels"
  # The protocol and the time of each evaluation, in the columns after the
  # older ones (shapes' eval split is "test": 64 examples, 32 used).
  protocol = {"eval.num_samples": "32", "eval.num_real_samples": "32",
              "eval.resize": "tfgan", "eval.split": "test",
              "eval.num_averaging_runs": "2"}
  assert {k: rows[1][k] for k in protocol} == protocol
  assert 0 < float(rows[1]["eval.seconds"]) < 600
  columns = list(rows[1])
  assert columns[-len(protocol) - 3:] == list(protocol) + [
      "eval.seconds", "compute_dtype", "train.compute_dtype"]
  # The test suite computes in float32 (conftest), trained and scored here.
  assert rows[1]["compute_dtype"] == rows[1]["train.compute_dtype"] == "float32"
  assert columns.index("DiffAugment.policy") < columns.index("eval.num_samples")
  with open(tmp_path / "run" / "scores.jsonl") as f:
    assert len(f.readlines()) == 2
  assert len(os.listdir(tmp_path / "cache" / "reference")) == 1  # computed once
  from PIL import Image
  curves = np.asarray(Image.open(tmp_path / "run" / "scores.png"))
  assert curves.shape[1] > curves.shape[0] > 100  # three panels side by side


def test_scores_rows_name_the_compute_formats(tmp_path):
  """A run trained in bfloat16 and scored by a float32 runner: each row says
  both; a run.json without the record says so."""
  make_runner(tmp_path / "run", 2, ["run_config.mixed_precision = True"]).train()
  path = str(tmp_path / "run" / "model.ckpt-2")
  scorer = make_runner(tmp_path / "run", 2, ["run_config.mixed_precision = False"])
  row = schedules_lib.evaluate_checkpoint(scorer, path, num_averaging_runs=1)
  assert (row["compute_dtype"], row["train.compute_dtype"]) == ("float32", "bfloat16")
  info = json.loads((tmp_path / "run" / "run.json").read_text())
  del info["compute_dtype"]
  (tmp_path / "run" / "run.json").write_text(json.dumps(info))
  row = schedules_lib.evaluate_checkpoint(scorer, path, num_averaging_runs=1)
  assert row["train.compute_dtype"] == "not recorded"


def test_evaluation_same_under_mirrored(tmp_path, mirrored_strategy):
  make_runner(tmp_path / "run", 2).train()
  path = str(tmp_path / "run" / "model.ckpt-2")
  rows = []
  for strategy in (None, mirrored_strategy):
    runner = make_runner(tmp_path / "run", 2, strategy=strategy)
    rows.append(schedules_lib.evaluate_checkpoint(runner, path, num_averaging_runs=1))
  for key in ("fid", "kid", "swd"):
    assert rows[0][key] == pytest.approx(rows[1][key], rel=1e-5), key


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


def test_unknown_metric_name(tmp_path):
  with pytest.raises(UnknownNameError, match="Did you mean: fid"):
    make_runner(tmp_path, 2, ['eval.metrics = ["fdi"]'])
    evaluation_lib.eval_options()


def test_continuous_eval_scores_new_checkpoints_until_done(tmp_path):
  make_runner(tmp_path, 4).train()
  runner = make_runner(tmp_path, 4)
  run_schedule(runner, "continuous_eval", num_eval_averaging_runs=1, poll_seconds=0.1)
  assert [int(r["step"]) for r in read_scores(str(tmp_path))] == [4]
  # eval_after_train scores the kept checkpoints not scored yet.
  run_schedule(runner, "eval_after_train", num_eval_averaging_runs=1)
  assert [int(r["step"]) for r in read_scores(str(tmp_path))] == [4]
  runner = make_runner(tmp_path / "other", 8)
  run_schedule(runner, "eval_after_train", num_eval_averaging_runs=1)
  assert [int(r["step"]) for r in read_scores(str(tmp_path / "other"))] == [4, 8]


def test_eval_rejects_nan_samples(tmp_path):
  runner = make_runner(tmp_path, 2)
  runner.train()
  for w in runner.gan.sampling_generator.weights:
    if w.trainable:
      w.assign(tf.fill(w.shape, np.nan))
  runner.restore_from = lambda path: None  # keep the broken weights
  with pytest.raises(evaluation_lib.NaNSamplesError, match="NaN.*model.ckpt-2"):
    schedules_lib.evaluate_checkpoint(runner, str(tmp_path / "model.ckpt-2"),
                                     num_averaging_runs=1)


def test_class_accuracy_of_a_conditional_generator(tmp_path):
  """`class_accuracy` with the shipped digits classifier equals the argmax
  agreement of that classifier on the same samples and requested labels."""
  from compare_gan2.metrics import classifiers
  runner = make_runner(tmp_path / "run", 2, [
      'dataset.name = "digits"', "ModularGAN.conditional = True",
      "G.batch_norm_fn = @conditional_batch_norm",
      'eval.feature_extractor = "auto"', 'eval.metrics = ["fid", "class_accuracy"]'])
  runner.train()
  row = schedules_lib.evaluate_checkpoint(runner, str(tmp_path / "run" / "model.ckpt-2"),
                                         num_averaging_runs=1)
  assert row["feature_extractor"] == "classifier"
  images = runner.generate(32, seed_offset=1)
  labels = runner.sample_inputs(32, 1)[1].numpy()
  logits = classifiers.load_classifier("digits")(images)["logits"]
  assert row["class_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == labels))
  assert row["fid"] > 0


def test_standing_statistics_before_sampling(tmp_path):
  """With standardize_batch.use_moving_averages = False, sampling first
  averages G's batch moments over num_standing_batches batches, once per
  step; the samples use them (zeroed statistics give other images)."""
  runner = make_runner(tmp_path, 2, ["standardize_batch.use_moving_averages = False",
                                     "run_config.num_standing_batches = 3"])
  runner.train()
  counters = [w for w in runner.gan.sampling_generator.weights
              if w.path.endswith("accu_counter")]
  assert counters and all(float(c.numpy()) == 3.0 for c in counters)
  samples = runner.generate(8)
  assert all(float(c.numpy()) == 3.0 for c in counters)  # not accumulated again
  means = [w.numpy() for w in runner.gan.sampling_generator.weights
           if w.path.endswith("accu_mean")]
  assert all(np.isfinite(m).all() and np.abs(m).sum() > 0 for m in means)
  runner.restore_from(str(tmp_path / "model.ckpt-2"))
  np.testing.assert_allclose(runner.generate(8), samples, rtol=1e-5, atol=1e-6)
  for w in runner.gan.sampling_generator.weights:
    if w.path.rsplit("/", 1)[-1] in ("accu_mean", "accu_variance", "accu_counter"):
      w.assign(tf.zeros_like(w))
  z, _ = runner.sample_inputs(8)
  assert not np.allclose(runner.gan.sample(z).numpy(), samples, atol=1e-3)


def test_mixed_precision_from_run_config(tmp_path):
  """`run_config.mixed_precision` builds bfloat16 networks; the run trains."""
  runner = make_runner(tmp_path / "run", 2, ["run_config.mixed_precision = True"])
  dtypes = {l.compute_dtype for l in runner.gan.discriminator._flatten_layers() if l.weights}
  assert dtypes == {"bfloat16"}
  assert runner.train() == 2
  assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("-2")


@pytest.mark.parametrize("mirrored", [False, True])
def test_each_scored_checkpoint_exports_its_generator(tmp_path, mirrored, mirrored_strategy):
  """eval.export_generator: generators/step_<N> per scored checkpoint, the
  generator of that checkpoint (sampled equal to the Runner's), also from a
  mirrored run."""
  from compare_gan2.tools import hub
  from compare_gan2.runner import run_schedule
  runner = make_runner(tmp_path / "run", 8, ["eval.export_generator = True",
                                             "eval.metrics = ['swd']"],
                       strategy=mirrored_strategy if mirrored else None)
  run_schedule(runner, "eval_after_train", num_eval_averaging_runs=1)
  exported = sorted(os.listdir(tmp_path / "run" / "generators"))
  assert exported == ["step_0000004", "step_0000008"]
  gen = hub.load_generator(str(tmp_path / "run" / "generators" / "step_0000004"))
  runner.restore_from(str(tmp_path / "run" / "model.ckpt-4"))
  z = tf.random.stateless_uniform([3, gen.z_dim], [0, 4], -1, 1)
  np.testing.assert_allclose(gen(z), runner.gan.sample(z), atol=1e-5)


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
