"""A checkpoint recovery from Python (as in a notebook) prints no TensorFlow
deprecation warning and no C++ log line (update_checkpoint_state is
deprecated, remapper failed, failed call to cuInit reached users)."""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import glob, sys
import compare_gan2  # first, as the notebooks do
sys.path.insert(0, {tests!r})
from run_cases import make_runner
run = {run!r}
make_runner(run, 8).train()
with open(sorted(glob.glob(run + "/model.ckpt-8.data*"))[0], "r+b") as f:
  f.truncate(100)
make_runner(run, 12).train()
"""


def test_a_recovery_prints_no_tensorflow_warnings(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = REPO
  code = SCRIPT.format(tests=os.path.join(REPO, "tests"), run=str(tmp_path / "run"))
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Skipped model.ckpt-8 (truncated" in result.stdout + result.stderr
  assert (tmp_path / "run" / "model.ckpt-12.index").exists()
  for needle in ("deprecated", "Instructions for updating", "remapper failed",
                 "failed call to cuInit"):
    assert needle not in result.stderr, result.stderr
  # C++ warning and error lines ("E0000 00:00:... file.cc:52] ...").
  assert not re.findall(r"^[EW]\d{4} .*$", result.stderr, re.M), result.stderr
