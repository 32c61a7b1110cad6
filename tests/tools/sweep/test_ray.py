"""Tests of `compare_gan2 sweep --backend ray`: its flag errors, the
retry of a killed trial, the probe of the sweep directory, and (slow) a
two-trial sweep on a real local Ray cluster with one trial's process killed
mid-training."""

import csv
import glob
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from compare_gan2 import cli
from compare_gan2.tools.sweep import backends as sweep_backends
from compare_gan2.tools.sweep import ray as sweep_ray
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import run as sweep_run
from compare_gan2.tools.sweep import spec as sweep_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NO_RAY = importlib.util.find_spec("ray") is None


def write(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


@pytest.mark.parametrize("flags, message", [
    (["--address", "auto"], "--address applies to --backend ray only"),
    (["--num_gpus_per_trial", "1"], "--num_gpus_per_trial applies to --backend ray only"),
    (["--backend", "ray", "--resources", "{TPU: 1}"], "--resources must be a JSON object"),
    (["--backend", "ray", "--resources", "[1]"], "--resources must map resource names"),
    (["--backend", "ray", "--parallel", "2"], "--parallel applies to --backend local only"),
    (["--backend", "ray", "--num_cpus_per_trial", "-1"], "--num_cpus_per_trial must not be"),
    (["--max_retries", "-1"], "--max_retries must not be negative"),
    (["--backend", "ray", "--address", "auto", "--num_cpus", "2"],
     "--num_cpus sizes the Ray instance started without --address"),
])
def test_flag_errors_are_one_line(tmp_path, capsys, flags, message):
  argv = ["sweep", "--spec", "mog_study_small", "--out", str(tmp_path)] + flags
  assert cli.main(argv) == 1
  out = capsys.readouterr().out
  assert message in out and len(out.strip().splitlines()) == 1, out
  assert not os.listdir(tmp_path)  # nothing started


def test_unknown_backend_is_one_line(tmp_path, capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["sweep", "--spec", "mog_study_small", "--out", str(tmp_path),
              "--backend", "slurm"])
  assert e.value.code == 2
  err = capsys.readouterr().err
  assert "invalid choice: 'slurm'" in err and len(err.strip().splitlines()) == 1, err


def test_ray_table_of_the_spec(tmp_path, capsys):
  spec = write(tmp_path / "s.toml", "configs = ['mog_ring']\n[ray]\nnum_gpu_per_trial = 1\n")
  assert cli.main(["sweep", "--spec", spec, "--out", str(tmp_path / "o"),
                   "--backend", "ray"]) == 1
  assert "[ray]: unknown key(s) ['num_gpu_per_trial']" in capsys.readouterr().out

  class Flags:  # none given: the table's values, the defaults for the rest
    num_cpus_per_trial = num_gpus_per_trial = resources = max_retries = None
  spec = {"ray": {"num_gpus_per_trial": 1, "resources": {"TPU": 1}}}
  assert sweep_backends._ray_options(spec, Flags()) == {  # pylint: disable=protected-access
      "num_cpus_per_trial": 1.0, "num_gpus_per_trial": 1, "resources": {"TPU": 1},
      "max_retries": 2}
  Flags.num_gpus_per_trial, Flags.resources = 0.5, '{"A": 2}'
  options = sweep_backends._ray_options(spec, Flags())  # pylint: disable=protected-access
  assert options["num_gpus_per_trial"] == 0.5 and options["resources"] == {"A": 2}


def test_killed_trial_is_retried_then_failed(tmp_path):
  trial = sweep_spec.expand(sweep_spec.load_spec("mog_study_small"), str(tmp_path))[0]
  os.makedirs(trial.model_dir)
  assert sweep_run._settle(trial, -9, 1.0, 0, 2) == ""  # pylint: disable=protected-access
  assert sweep_run._settle(trial, -9, 1.0, 1, 2) == ""  # pylint: disable=protected-access
  error = sweep_run._settle(trial, -9, 1.0, 2, 2)  # pylint: disable=protected-access
  assert error.startswith(f"Trial {trial.name} failed: killed by SIGKILL 3 time(s)")
  # Stopped by SIGTERM after saving (exit 128 + 15): restarted too.
  assert sweep_run._settle(trial, 143, 1.0, 0, 2) == ""  # pylint: disable=protected-access
  assert "killed by SIGTERM 3 time(s)" in sweep_run._settle(  # pylint: disable=protected-access
      trial, 143, 1.0, 2, 2)
  assert "exit 1" in sweep_run._settle(trial, 1, 1.0, 0, 2)  # pylint: disable=protected-access
  assert not trial.done


def test_unwritable_sweep_directory_is_one_line(tmp_path):
  blocker = write(tmp_path / "file", "")
  with pytest.raises(sweep_spec.OutputNotWritable) as e:
    sweep_spec.check_writable(os.path.join(blocker, "sweep"))
  message = str(e.value)
  assert "cannot write the sweep directory" in message and "\n" not in message
  sweep_spec.check_writable(str(tmp_path / "fine"))
  assert os.listdir(tmp_path / "fine") == []  # the probe is gone


def _children(model_dir):
  """Pids of the compare_gan2 processes training `model_dir`."""
  pids = []
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().decode(errors="replace").split("\0")
    except OSError:
      continue
    if "compare_gan2" in args and model_dir in args:
      pids.append(int(pid))
  return pids


@pytest.fixture
def ray_cluster(monkeypatch):
  """A Ray cluster of 2 CPUs on 127.0.0.1, for the test's duration."""
  monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
  monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
  # Ray's memory monitor kills workers when the whole machine passes 95% of
  # its memory, which the other test worker's load can do (it killed this
  # test's tasks in CI); the kills these tests check are their own.
  monkeypatch.setenv("RAY_memory_monitor_refresh_ms", "0")
  # Its workers (started from this process) import this checkout.
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
      [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
  import ray  # pylint: disable=g-import-not-at-top
  context = ray.init(address="local", num_cpus=2, include_dashboard=False)
  try:
    yield context.address_info["gcs_address"]
  finally:
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(NO_RAY, reason="ray is not installed (pip install 'compare_gan2[ray]')")
def test_started_outlives_its_tracker(ray_cluster):
  """The driver asks an actor which trials started; when Ray kills that
  actor the driver keeps what it knew instead of ending the sweep."""
  del ray_cluster
  import ray  # pylint: disable=g-import-not-at-top
  tracker = ray.remote(num_cpus=0)(sweep_ray._Tracker).remote()  # pylint: disable=protected-access
  ray.get(tracker.start.remote("a"))
  started = sweep_ray._started(ray, tracker, {"b"})  # pylint: disable=protected-access
  assert started == {"a", "b"}
  ray.kill(tracker)  # asynchronous: calls may still be answered for a moment
  deadline = time.time() + 60
  while time.time() < deadline:
    try:
      ray.get(tracker.started.remote())
    except ray.exceptions.RayActorError:
      break
    time.sleep(0.1)
  else:
    pytest.fail("the killed tracker still answers after 60 s")
  assert sweep_ray._started(ray, tracker, started) == {"a", "b"}  # pylint: disable=protected-access


@pytest.mark.slow
@pytest.mark.skipif(NO_RAY, reason="ray is not installed (pip install 'compare_gan2[ray]')")
def test_ray_sweep_survives_a_killed_trial(tmp_path, ray_cluster):
  """Two trials as tasks of a real local Ray cluster; one trial's process is
  killed by SIGKILL after its first checkpoint: the sweep restarts it, it
  resumes from its checkpoint, and the report is the local backend's."""
  assert ray_cluster.startswith("127.0.0.1:")
  spec = write(tmp_path / "s.toml", """
configs = ["mog_ring"]
bindings = ["options.training_steps = 60", "run_config.save_checkpoints_steps = 20",
            "run_config.iterations_per_loop = 20", "eval.num_samples = 200"]
seeds = [0]
options = ["--num_eval_averaging_runs", "1"]
[grid]
"loss.fn" = ["@non_saturating", "@hinge"]
""")
  out = str(tmp_path / "out")
  trials = sweep_spec.expand(sweep_spec.load_spec(spec), out)
  victim = trials[0]
  began = time.time()
  driver = subprocess.Popen(
      [sys.executable, "-m", "compare_gan2", "sweep", "--spec", spec, "--out", out,
       "--backend", "ray", "--address", ray_cluster, "--num_cpus_per_trial", "1"],
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  try:
    checkpoint = os.path.join(victim.model_dir, "checkpoint")
    deadline = time.time() + 600
    while not os.path.exists(checkpoint) and time.time() < deadline:
      time.sleep(0.05)
    pids = _children(victim.model_dir)
    # The driver's output says why when it has already ended.
    ended = driver.poll() is not None
    assert len(pids) == 1 and not victim.done, (
        pids, driver.poll(), driver.stdout.read()[-4000:] if ended else "")
    os.kill(pids[0], signal.SIGKILL)
    output, _ = driver.communicate(timeout=900)
  finally:
    if driver.poll() is None:
      driver.kill()
  seconds = time.time() - began
  assert driver.returncode == 0, output[-4000:]
  assert all(t.done for t in trials)
  assert "killed by SIGKILL; restarting from its checkpoint (retry 1 of 2)" in output
  assert "[2/2 done, 0 running, 0 failed" in output, output[-4000:]
  with open(os.path.join(victim.model_dir, "sweep.log")) as f:
    log = f.read()
  assert log.count("$ ") == 2  # started, then restarted once
  resumed = re.findall(r"Resumed from \S+ \(step (\d+)\)", log.split("$ ")[2])
  assert resumed and int(resumed[0]) >= 20, log[-3000:]  # not from step 0
  for trial in trials:
    assert [r["step"] for r in sweep_report.read_scores(trial)] == [20.0, 40.0, 60.0]
  # The local backend's report: the same columns and rows.
  with open(os.path.join(out, "results.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  per_trial, _ = sweep_report.summarize(trials)
  assert list(rows[0]) == list(per_trial[0]) == [
      "config", "seed", "status", "step", "modes_covered", "high_quality_fraction"]
  assert [(r["config"], r["status"]) for r in rows] == [
      ("loss=non_saturating", "done"), ("loss=hinge", "done")]
  for name in ("summary.csv", "summary.md", "curves.png", "boxplot.png"):
    assert os.path.getsize(os.path.join(out, name)) > 0
  for trial in trials:  # the HParams dashboard's sessions
    assert len(glob.glob(os.path.join(trial.model_dir, "*" + sweep_report.HPARAMS_SUFFIX))) == 1
  print(f"Ray sweep: {seconds:.0f} s")


def test_remote_sweep_directory(tmp_path):
  """A sweep directory TensorFlow's file systems open (ram:// here, gs:// on
  a cluster): probed, trials marked done, logs uploaded, the report written."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  out = f"ram://sweep_{os.getpid()}"
  spec = {"configs": ["mog_ring"], "seeds": [0], "grid": {"loss.fn": ["@hinge"]}}
  [trial] = sweep_spec.expand(spec, out)
  assert trial.model_dir == f"{out}/trials/loss=hinge/seed0" and trial.sweep_dir == out
  sweep_spec.check_writable(out)
  sweep_spec.makedirs(trial.model_dir)
  log = open(sweep_run._local_log(trial), "a")  # pylint: disable=protected-access,consider-using-with
  log.write("attempt 1\n")
  sweep_run._save_log(trial, log)  # pylint: disable=protected-access
  sweep_spec.write_text(f"{trial.model_dir}/scores.csv", "step,fid,fid_std\n100,3.5,0.0\n")
  assert sweep_run._settle(trial, 0, 1.0, 0, 2) is None  # pylint: disable=protected-access
  assert trial.done
  sweep_report.report([trial], out)
  assert sweep_spec.read_text(f"{out}/results.csv").splitlines() == [
      "config,seed,status,step,fid", "loss=hinge,0,done,100,3.5"]
  assert sweep_spec.read_text(f"{trial.model_dir}/sweep.log") == "attempt 1\n"
  names = tf.io.gfile.listdir(out)
  assert {"summary.md", "curves.png", "boxplot.png"} <= set(names)
  assert any(n.endswith(sweep_report.HPARAMS_SUFFIX) for n in names)
