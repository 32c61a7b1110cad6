"""The eval schedules over a Runner's checkpoints: a scores row per evaluated step
against FID recomputed, continuous and after-training evaluation, NaN samples
refused, each scored checkpoint's generator exported."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.metrics import frechet_distance
from compare_gan2.runner import run_schedule
from compare_gan2.metrics import evaluation as evaluation_lib
from compare_gan2.runner import schedules as schedules_lib
from run_cases import make_runner, read_scores


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
