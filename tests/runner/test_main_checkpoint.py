"""A run written before the Runner was split into parts (testdata/main_run,
made by testdata/make_main_run.py with the code of main at 5aacdd9) restores
and trains on to the same weights that code reached."""

import json
import os
import shutil

import numpy as np

from compare_gan2.runner import Runner
from run_cases import checkpoint_values, make_runner

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
# The bindings of make_main_run.py on top of run_cases.TINY_RUN.
SMALL = ["dcgan.Generator.ch = 2", "dcgan.Discriminator.ch = 2", "options.z_dim = 4"]


def _copy(tmp_path):
  run = str(tmp_path / "run")
  shutil.copytree(os.path.join(DATA, "main_run"), run)
  return run


def test_a_run_of_the_old_code_resumes_to_the_same_weights(tmp_path):
  run = _copy(tmp_path)
  with open(os.path.join(run, "run.json")) as f:
    info = json.load(f)
  old = checkpoint_values(os.path.join(run, "model.ckpt-4"))
  runner = make_runner(run, 8, SMALL)
  assert runner.restore() == 4
  assert runner.train() == 8
  with open(os.path.join(run, "run.json")) as f:
    assert json.load(f) == info
  assert os.path.exists(os.path.join(run, "operative_config-4.gin"))
  new = checkpoint_values(os.path.join(run, "model.ckpt-8"))
  assert new.keys() == old.keys()
  with np.load(os.path.join(DATA, "main_run_step8.npz")) as ref:
    expected = {k.replace("|", "/"): ref[k] for k in ref.files}
  assert expected.keys() == new.keys()
  for key, value in expected.items():
    np.testing.assert_allclose(new[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_a_run_of_the_old_code_reads_back(tmp_path):
  run = _copy(tmp_path)
  runner = Runner.from_run_dir(run)
  assert runner.restore() == 4
  images = runner.generate(5, batch_size=4)
  assert images.shape == (5, 16, 16, 3) and np.isfinite(images).all()
  assert sorted(os.listdir(run)) == sorted(os.listdir(os.path.join(DATA, "main_run")))
