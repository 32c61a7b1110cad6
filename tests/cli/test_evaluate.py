"""`compare_gan2 eval`: scores a finished run without training it, refuses what is
no finished run."""

import csv
import os

import gin
import tensorflow as tf

from compare_gan2 import cli
from compare_gan2.core import choices
from compare_gan2.runner import TRAIN_DONE
from cli_cases import one_error_line, tiny_gin


def test_eval_scores_a_finished_run_without_training_it(tmp_path, capsys):
  model_dir = tmp_path / "run"
  assert cli.main(["train", "--model_dir", str(model_dir), "--gin_config",
                   tiny_gin(tmp_path)]) == 0
  assert (model_dir / TRAIN_DONE).exists()
  gin.clear_config()
  files_before = sorted(os.listdir(model_dir))
  out = tmp_path / "scores"
  # The run's own operative config first (the model), which has no eval.*
  # settings (training did not evaluate): they come from a file and a binding.
  eval_gin = tmp_path / "eval.gin"
  eval_gin.write_text(f"eval.cache_dir = '{tmp_path / 'cache'}'\neval.num_samples = 32\n"
                      "eval.feature_extractor = 'pixels'\neval.export_generator = False\n")
  assert cli.main(["eval", "--model_dir", str(model_dir), "--output_dir", str(out),
                   "--num_eval_averaging_runs", "1", "--gin_config", str(eval_gin),
                   "--gin_bindings", "eval.metrics = ['swd']"]) == 0
  with open(out / "scores.csv") as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [4] and "swd" in rows[0]
  assert sorted(os.listdir(model_dir)) == files_before  # nothing written to the run
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("model.ckpt-4")
  capsys.readouterr()

  # An unfinished run is refused: `eval` never trains.
  (model_dir / TRAIN_DONE).unlink()
  gin.clear_config()
  assert cli.main(["eval", "--model_dir", str(model_dir), "--output_dir", str(out)]) == 1
  line = one_error_line(capsys)
  assert line.startswith("compare_gan2 eval: error: ") and "has not finished" in line
  assert "continuous_eval" in line


def test_eval_of_a_directory_that_is_no_run(tmp_path, capsys):
  assert cli.main(["eval", "--model_dir", str(tmp_path / "none")]) == 1
  assert "is not a directory" in one_error_line(capsys)
  assert cli.main(["eval", "--model_dir", str(tmp_path), "--schedule",
                   "continuous_eval"]) == 1
  line = one_error_line(capsys)
  assert "no operative_config" in line and "--gin_config" in line


def test_eval_schedules_are_the_runners_that_do_not_train():
  from compare_gan2.cli import evaluate
  assert set(evaluate.EVAL_SCHEDULES) < set(choices.SCHEDULES)
  assert "train" not in evaluate.EVAL_SCHEDULES and "train_and_eval" not in (
      evaluate.EVAL_SCHEDULES)
