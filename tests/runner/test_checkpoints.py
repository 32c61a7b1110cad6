"""Checkpoint files: each kind of damage named, the state file as TensorFlow
reads it (on copies of a finished run, test_faults.py's fixture)."""

import os
import shutil

import tensorflow as tf

from compare_gan2.runner import checkpoints as ckpt_lib
from test_faults import DATA, copy_run, finished_run, truncate  # noqa: F401 (fixture)


def test_state_file_written_here_reads_back_in_tensorflow(finished_run, tmp_path):
  run = copy_run(finished_run, tmp_path)
  ours = ckpt_lib.read_state(str(run))
  theirs = tf.train.get_checkpoint_state(str(run))
  assert ours.latest == os.path.basename(theirs.model_checkpoint_path)
  assert ours.timestamps == list(theirs.all_model_checkpoint_timestamps)
  ckpt_lib.write_state(str(run), [str(run / "model.ckpt-4")])
  again = tf.train.get_checkpoint_state(str(run))
  assert [os.path.basename(p) for p in again.all_model_checkpoint_paths] == ["model.ckpt-4"]
  assert list(again.all_model_checkpoint_timestamps) == ours.timestamps[:1]
  assert again.last_preserved_timestamp == theirs.last_preserved_timestamp


def test_checkpoint_problem_names_each_kind_of_damage(finished_run, tmp_path):
  run = copy_run(finished_run, tmp_path)
  prefix = str(run / "model.ckpt-8")
  assert ckpt_lib.checkpoint_problem(prefix) is None
  truncate(prefix + DATA)
  assert ckpt_lib.checkpoint_problem(prefix).startswith("truncated")
  shutil.copy(finished_run / ("model.ckpt-8" + DATA), prefix + DATA)
  with open(prefix + DATA, "r+b") as f:  # flip bytes inside a tensor
    f.seek(os.path.getsize(prefix + DATA) // 2)
    f.write(b"\xff" * 8)
  assert "checksum" in ckpt_lib.checkpoint_problem(prefix)
  os.remove(prefix + DATA)
  assert ckpt_lib.checkpoint_problem(prefix) == "a data file is missing"
  os.remove(prefix + ".index")
  assert ckpt_lib.checkpoint_problem(prefix) == "its files are missing"
  # The state file still lists step 8: it is a candidate, newest first.
  assert [os.path.basename(p) for p in ckpt_lib.list_checkpoints(str(run))] == [
      "model.ckpt-8", "model.ckpt-4"]
