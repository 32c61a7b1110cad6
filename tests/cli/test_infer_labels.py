"""`compare_gan2 pretrain` then `compare_gan2 infer-labels`, as a user runs them."""

import os
import subprocess
import sys

from compare_gan2.data import labels as labels_lib
from compare_gan2.tools.labels import infer


def test_cli_pretrain_and_infer_labels(tmp_path):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  run = lambda *a: subprocess.run(  # noqa: E731
      [sys.executable, "-m", "compare_gan2", *a], env=env, capture_output=True,
      text=True, timeout=300)
  rot = str(tmp_path / "rot")
  result = run("pretrain", "--out", rot, "--dataset", "digits", "--steps", "2",
               "--batch_size", "8", "--width", "8", "--log_every", "1")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "steps/s" in result.stdout
  for method, extra in (("kmeans", ["--num_clusters", "5"]),
                        ("semi_supervised", ["--labeled_fraction", "0.1"])):
    out = str(tmp_path / f"{method}.npz")
    result = run("infer-labels", "--pretrained", rot, "--method", method,
                 "--out", out, *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    assert labels_lib.read_label_file(out)["dataset"] == "digits"
    assert os.path.exists(infer.report_path(out))
  result = run("infer-labels", "--pretrained", str(tmp_path / "none"),
               "--method", "kmeans", "--out", str(tmp_path / "x.npz"))
  assert result.returncode == 1 and "compare_gan2 pretrain" in result.stdout
