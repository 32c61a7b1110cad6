"""Tests of `compare_gan2 sweep`: its errors and (slow) a real sweep killed and
resumed. The spec, the report, the runs, the backends and the mode-coverage
score are tested in test_spec.py, test_report.py, test_run.py, test_backends.py
and tests/metrics/test_mode_coverage.py."""

import csv
import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from compare_gan2 import cli
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import spec as sweep_spec
from sweep_cases import SPEC, fake_run, write


def test_sweep_cli_errors(tmp_path, capsys):
  assert cli.main(["sweep", "--spec", str(tmp_path / "missing.toml"),
                   "--out", str(tmp_path)]) == 1
  assert "No sweep spec" in capsys.readouterr().out
  assert cli.main(["sweep", "--spec", "mog_study", "--out", str(tmp_path),
                   "--parallel", "0"]) == 1
  assert "--parallel must be at least 1" in capsys.readouterr().out


def test_sweep_cli_tables_use_the_specs_score_last(tmp_path):
  """`compare_gan2 sweep` scores each trial by the mean over the spec's
  `score_last` checkpoints in summary.csv, as the spec says."""
  spec = write(tmp_path / "s.toml", "score_last = 2\n" + SPEC)
  out = str(tmp_path / "out")
  trials = sweep_spec.expand(sweep_spec.load_spec(spec), out)
  fids = {}
  for k, trial in enumerate(trials):
    fids[(trial.config, trial.seed)] = [50.0 - k, 30.0 + k, 20.0 - 2 * k]
    fake_run(trial, fids[(trial.config, trial.seed)], [0.5, 0.6, 0.7])
  assert cli.main(["sweep", "--spec", spec, "--out", out, "--report_only"]) == 0
  with open(os.path.join(out, "summary.csv"), newline="") as f:
    rows = {(r["config"], r["score"]): r for r in csv.DictReader(f)}
  for config in {t.config for t in trials}:
    means = [np.mean(v[-2:]) for (c, _), v in fids.items() if c == config]
    assert float(rows[(config, "fid")]["mean"]) == pytest.approx(np.mean(means))
    assert float(rows[(config, "class_accuracy")]["mean"]) == pytest.approx(0.65)


@pytest.mark.slow
def test_sweep_runs_resumes_after_kill_and_reports(tmp_path):
  """2 configs x 2 seeds of a real sweep: killed while trials run, resumed,
  finished trials not rerun, table and plots written."""
  spec = write(tmp_path / "s.toml", """
configs = ["mog_ring"]
bindings = ["options.training_steps = 60", "run_config.save_checkpoints_steps = 20",
            "run_config.iterations_per_loop = 20", "eval.num_samples = 200"]
seeds = [0, 1]
options = ["--num_eval_averaging_runs", "1"]
[grid]
"loss.fn" = ["@non_saturating", "@hinge"]
""")
  out = str(tmp_path / "out")
  command = [sys.executable, "-m", "compare_gan2", "sweep", "--spec", spec, "--out", out,
             "--parallel", "2"]
  trials = sweep_spec.expand(sweep_spec.load_spec(spec), out)
  first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  # Kill the sweep (SIGKILL: no clean-up) once the first pair has finished
  # and the next pair has a checkpoint.
  deadline = time.time() + 600
  while time.time() < deadline and not (
      sum(t.done for t in trials) >= 1 and any(
          os.path.exists(os.path.join(t.model_dir, "checkpoint")) for t in trials[2:])):
    time.sleep(0.5)
  first.send_signal(signal.SIGKILL)
  first.wait()
  finished = [t for t in trials if t.done]
  assert finished, "no trial finished before the kill"
  marks = {t.model_dir: os.path.getmtime(os.path.join(t.model_dir, sweep_spec.DONE))
           for t in finished}
  time.sleep(2)  # the children die with the sweep (PR_SET_PDEATHSIG)
  result = subprocess.run(command, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  assert all(t.done for t in trials)
  for path, mtime in marks.items():  # finished trials were skipped
    assert os.path.getmtime(os.path.join(path, sweep_spec.DONE)) == mtime
    with open(os.path.join(path, "sweep.log")) as f:
      assert f.read().count("$ ") == 1
  resumed = [t for t in trials if t not in finished]
  with open(os.path.join(resumed[0].model_dir, "sweep.log")) as f:
    assert f.read().count("$ ") == 2
  with open(os.path.join(out, "summary.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  assert {(r["config"], r["score"]) for r in rows} == {
      (c, s) for c in ("loss=non_saturating", "loss=hinge")
      for s in ("modes_covered", "high_quality_fraction")}
  assert all(r["seeds"] == "2" for r in rows)
  for trial in trials:
    steps = [r["step"] for r in sweep_report.read_scores(trial)]
    # Every checkpoint scored once; a trial the kill caught early may also
    # hold the checkpoint it saved on its SIGTERM (PR_SET_PDEATHSIG).
    assert steps == sorted(set(steps)) and {20.0, 40.0, 60.0} <= set(steps), steps
    saved = {float(f.rsplit("-", 1)[1].split(".")[0]) for f in
             glob.glob(os.path.join(trial.model_dir, "model.ckpt-*.index"))}
    assert set(steps) <= saved, (steps, saved)
  for name in ("curves.png", "boxplot.png", "summary.md", "results.csv"):
    assert os.path.getsize(os.path.join(out, name)) > 0
