"""Tests of `compare_gan2 sweep`: spec expansion, trial commands, the
aggregation against numpy, the mode-coverage score, and (slow) a real sweep
killed and resumed."""

import csv
import glob
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from compare_gan2 import cli
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import run as sweep_run
from compare_gan2.tools.sweep import spec as sweep_spec
from compare_gan2.data import mixtures
from compare_gan2.metrics import scores
from compare_gan2.metrics import base as metric_base
from compare_gan2.runner import schedules
from compare_gan2.core import config_files

SPEC = """
configs = ["mog_ring"]
bindings = ["options.training_steps = 30"]
seeds = [0, 1]
[grid]
"loss.fn" = ["@non_saturating", "@hinge"]
"ModularGAN.g_lr" = [0.001]
"""


def write(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


def test_expand_crosses_grid_and_seeds(tmp_path):
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path / "o"))
  assert [(t.config, t.seed) for t in trials] == [
      ("loss=non_saturating,ModularGAN.g_lr=0.001", 0), ("loss=hinge,ModularGAN.g_lr=0.001", 0),
      ("loss=non_saturating,ModularGAN.g_lr=0.001", 1), ("loss=hinge,ModularGAN.g_lr=0.001", 1)]
  hinge = trials[3]
  assert hinge.bindings == ("options.training_steps = 30", "loss.fn = @hinge",
                            "ModularGAN.g_lr = 0.001")
  assert hinge.model_dir == str(tmp_path / "o" / "trials" / hinge.config / "seed1")
  assert hinge.workdir == str(tmp_path / "o")
  command = hinge.command()
  assert command[command.index("--gin_config") + 1] == config_files.resolve_config("mog_ring")
  bindings = [command[i + 1] for i, a in enumerate(command) if a == "--gin_bindings"]
  assert bindings[-1] == "run_config.tf_random_seed = 1"
  assert "loss.fn = @hinge" in bindings


def test_variants_and_several_configs(tmp_path):
  spec = sweep_spec.load_spec(write(tmp_path / "s.toml", """
configs = ["mog_ring", "mog_grid"]
seeds = [3]
[[variants]]
name = "plain"
[[variants]]
name = "sn"
bindings = ["D.spectral_norm = True"]
"""))
  trials = sweep_spec.expand(spec, str(tmp_path))
  assert [t.config for t in trials] == ["mog_ring,plain", "mog_ring,sn",
                                        "mog_grid,plain", "mog_grid,sn"]
  assert trials[1].bindings == ("D.spectral_norm = True",)
  assert trials[2].gin_configs == (config_files.resolve_config("mog_grid"),)


def test_shipped_specs_expand(tmp_path):
  sizes = {"mog_study": 2 * 4 * 3 * 2 * 3, "mog_study_small": 4 * 3 * 3,
           "mog_pacgan": 3, "fewer_labels_digits": 9 * 2}
  for name, size in sizes.items():
    trials = sweep_spec.expand(sweep_spec.load_spec(name), str(tmp_path))
    assert len(trials) == size
    assert len({t.model_dir for t in trials}) == size


@pytest.mark.parametrize("text, message", [
    ("configs = ['mog_ring']\nseed = [1]", "unknown key"),
    ("seeds = [1]", "names no `configs`"),
    ("configs = ['mog_ring']\n[grid]\n'loss.fn' = []", "non-empty list"),
    ("configs = ['mog_ring']\n[[variants]]\nname = 'a'\n[[variants]]\nname = 'a'",
     "distinct `name`s"),
    ("configs = ['mog_ring'\n", "not valid TOML"),
])
def test_bad_specs(tmp_path, text, message):
  with pytest.raises(ValueError, match=message):
    sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", text)), str(tmp_path))


def test_shipped_spec_found_beside_a_folder_of_its_name(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  os.mkdir("mog_study")  # e.g. the output of an earlier `--out mog_study`
  assert sweep_spec.load_spec("mog_study")["configs"] == ["mog_ring_tuned", "mog_grid_tuned"]


def test_unknown_spec_and_config(tmp_path):
  with pytest.raises(FileNotFoundError, match="mog_study_small"):
    sweep_spec.load_spec("no_such_spec")
  spec = sweep_spec.load_spec(write(tmp_path / "s.toml", "configs = ['no_such_config']"))
  with pytest.raises(FileNotFoundError, match="no_such_config"):
    sweep_spec.expand(spec, str(tmp_path))


def fake_run(trial, fids, accuracies, done=True):
  """scores.csv rows as the evaluator writes them, one per step."""
  os.makedirs(trial.model_dir, exist_ok=True)
  for step, (fid, acc) in enumerate(zip(fids, accuracies), 1):
    schedules.write_row(trial.model_dir, "scores.csv", {
        "step": step * 100, "checkpoint": f"model.ckpt-{step * 100}",
        "fid": fid, "fid_std": 0.0, "class_accuracy": acc, "class_accuracy_std": 0.0,
        "dataset": "digits"})
  if done:
    open(os.path.join(trial.model_dir, sweep_spec.DONE), "w").close()


def test_report_matches_numpy(tmp_path):
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path))
  rng = np.random.default_rng(0)
  finals = {}
  for trial in trials[:3]:
    fids, accs = rng.uniform(10, 50, 3), rng.uniform(0, 1, 3)
    fake_run(trial, fids, accs)
    finals[(trial.config, trial.seed)] = (fids[-1], accs[-1])
  table, _ = sweep_report.report(trials, str(tmp_path))
  with open(tmp_path / "summary.csv", newline="") as f:
    rows = {(r["config"], r["score"]): r for r in csv.DictReader(f)}
  ns = "loss=non_saturating,ModularGAN.g_lr=0.001"
  fid = [finals[(ns, s)][0] for s in (0, 1)]
  acc = [finals[(ns, s)][1] for s in (0, 1)]
  assert float(rows[(ns, "fid")]["median"]) == pytest.approx(np.median(fid))
  assert float(rows[(ns, "fid")]["std"]) == pytest.approx(np.std(fid))
  assert float(rows[(ns, "fid")]["best"]) == pytest.approx(min(fid))  # lower is better
  assert float(rows[(ns, "class_accuracy")]["best"]) == pytest.approx(max(acc))
  hinge = "loss=hinge,ModularGAN.g_lr=0.001"
  assert rows[(hinge, "fid")]["seeds"] == "1"  # seed 1 never ran
  with open(tmp_path / "results.csv", newline="") as f:
    statuses = [r["status"] for r in csv.DictReader(f)]
  assert statuses == ["done", "done", "done", "new"]
  assert f"| {ns} | 2 | {np.median(fid):.4g} ± {np.std(fid):.4g}" in table
  for name in ("curves.png", "boxplot.png"):
    with open(tmp_path / name, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_print_commands_skips_finished(tmp_path, capsys):
  spec = write(tmp_path / "s.toml", SPEC)
  out = str(tmp_path / "o")
  trials = sweep_spec.expand(sweep_spec.load_spec(spec), out)
  fake_run(trials[0], [1.0], [0.5])
  assert cli.main(["sweep", "--spec", spec, "--out", out, "--print_commands"]) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 3
  for line, trial in zip(lines, trials[1:]):
    cd, command = line.split(" && ")
    assert shlex.split(cd) == ["cd", out]
    assert shlex.split(command) == trial.command()


def test_sweep_cli_errors(tmp_path, capsys):
  assert cli.main(["sweep", "--spec", str(tmp_path / "missing.toml"),
                   "--out", str(tmp_path)]) == 1
  assert "No sweep spec" in capsys.readouterr().out
  assert cli.main(["sweep", "--spec", "mog_study", "--out", str(tmp_path),
                   "--parallel", "0"]) == 1
  assert "--parallel must be at least 1" in capsys.readouterr().out


def test_mode_coverage_counts_modes():
  means, stddev = mixtures.RING_MEANS, mixtures.RING_STDDEV
  real_points, labels = mixtures.sample_mixture(means, stddev, 4000, seed=1)
  real = metric_base.SampleSet(real_points.reshape(-1, 1, 1, 2), None, labels=labels)
  rng = np.random.default_rng(2)
  # 5 modes hit (one of them only by a few points), plus far-away points.
  hits = np.repeat([0, 1, 2, 3, 4], [300, 300, 300, 300, 2])
  near = means[hits] + rng.normal(0, stddev, (len(hits), 2))
  far = rng.uniform(-0.5, 0.5, (400, 2))  # the ring's empty middle
  fake_points = np.concatenate([near, far]).astype(np.float32)
  fake = metric_base.SampleSet(fake_points.reshape(-1, 1, 1, 2), None)
  out = scores.METRICS.get("mode_coverage")(real, fake)
  # Independently: within 3 std of the true means; covered with >= N/K/10.
  d = np.linalg.norm(fake_points[:, None] - means[None], axis=-1)
  high = d.min(1) <= 3 * stddev
  counts = np.bincount(d.argmin(1)[high], minlength=8)
  assert out["high_quality_fraction"] == pytest.approx(high.mean(), abs=2e-3)
  assert out["modes_covered"] == np.sum(counts >= 0.1 * len(fake_points) / 8) == 4


def test_modes_hit_counts_any_high_quality_sample():
  """VEEGAN's / PacGAN's count: a mode with one sample within 3 std counts
  (PacGAN's MetricLogger: the modes with a nonzero count)."""
  means, stddev = mixtures.RING_MEANS, mixtures.RING_STDDEV
  real_points, labels = mixtures.sample_mixture(means, stddev, 4000, seed=1)
  real = metric_base.SampleSet(real_points.reshape(-1, 1, 1, 2), None, labels=labels)
  rng = np.random.default_rng(3)
  hits = np.repeat([0, 1, 2, 3, 4, 5], [300, 300, 300, 300, 2, 1])
  near = means[hits] + rng.normal(0, stddev / 2, (len(hits), 2))
  far = rng.uniform(-0.5, 0.5, (400, 2))
  fake_points = np.concatenate([near, far]).astype(np.float32)
  fake = metric_base.SampleSet(fake_points.reshape(-1, 1, 1, 2), None)
  d = np.linalg.norm(fake_points[:, None] - means[None], axis=-1)
  counts = np.bincount(d.argmin(1)[d.min(1) <= 3 * stddev], minlength=8)
  assert scores.METRICS.get("modes_hit")(real, fake)["modes_hit"] == np.sum(counts > 0) == 6
  assert scores.METRICS.get("mode_coverage")(real, fake)["modes_covered"] == 4
  assert metric_base.DIRECTIONS["modes_hit"] == 1


def test_score_last_averages_the_last_checkpoints(tmp_path):
  spec = sweep_spec.load_spec(write(tmp_path / "s.toml", "score_last = 3\n" + SPEC))
  assert spec["score_last"] == 3
  trials = sweep_spec.expand(spec, str(tmp_path))
  rng = np.random.default_rng(1)
  runs = {}
  for trial in trials:
    fids, accs = rng.uniform(10, 50, 5), rng.uniform(0, 1, 5)
    fake_run(trial, fids, accs)
    runs[(trial.config, trial.seed)] = (fids, accs)
  ns = "loss=non_saturating,ModularGAN.g_lr=0.001"
  for last in (1, 3, 10):  # 10 > 5 rows: the mean over all of them
    per_trial, summary = sweep_report.summarize(trials, score_last=last)
    rows = {(r["config"], r["score"]): r for r in summary}
    fid = [np.mean(runs[(ns, s)][0][-last:]) for s in (0, 1)]
    assert rows[(ns, "fid")]["median"] == pytest.approx(np.median(fid))
    assert per_trial[0]["fid"] == pytest.approx(np.mean(runs[(ns, 0)][0][-last:]))
    assert per_trial[0]["class_accuracy"] == pytest.approx(
        np.mean(runs[(ns, 0)][1][-last:]))
    assert per_trial[0]["step"] == 500  # the last checkpoint's step
  table, _ = sweep_report.report(trials, str(tmp_path), score_last=3)
  with open(tmp_path / "summary.md") as f:
    assert "mean over each trial's last 3 evaluated checkpoints" in f.read()
  for bad in ("0", "1.5", "true"):
    with pytest.raises(ValueError, match="score_last"):
      sweep_spec.load_spec(write(tmp_path / "b.toml", f"configs = ['mog_ring']\nscore_last = {bad}\n"))


def test_mode_coverage_needs_points():
  real = metric_base.SampleSet(np.zeros((4, 2, 2, 1)), None, labels=np.zeros(4, int))
  with pytest.raises(ValueError, match="2-D points"):
    scores.METRICS.get("mode_coverage")(real, real)


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


def test_plots_leave_pyplot_backend_alone(tmp_path):
  """Library plots draw off-screen without choosing pyplot's backend, so a
  notebook's inline plots keep working after an evaluation."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import images  # pylint: disable=g-import-not-at-top
  before = matplotlib.get_backend()
  matplotlib.use("svg")
  try:
    rgb = images.metric_curves([{"step": "1", "fid": "2.0", "fid_std": "0.1"},
                                {"step": "2", "fid": "1.0", "fid_std": "0.1"}], ["fid"])
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.std() > 0
    points = images.scatter_plot(np.zeros((5, 2)), np.ones((5, 2)))
    assert points.shape[2] == 3
    trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path))
    fake_run(trials[0], [3.0, 2.0], [0.1, 0.2])
    sweep_report.report(trials, str(tmp_path))
    assert matplotlib.get_backend() == "svg"
  finally:
    matplotlib.use(before)


def _events(path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return list(tf.compat.v1.train.summary_iterator(path))


def test_hparams_for_tensorboard_match_scores_csv(tmp_path):
  """Each finished trial's grid values and final scores read back from its
  event file as the HParams dashboard reads them; the sweep root holds the
  experiment (every grid value, the scores as metrics)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import metadata  # pylint: disable=g-import-not-at-top
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path))
  hinge = trials[3]
  fake_run(hinge, [30.0, 20.5], [0.25, 0.75])
  sweep_report.write_hparams(hinge)
  sweep_report.write_hparams(hinge)  # a rerun replaces the event file
  paths = glob.glob(os.path.join(hinge.model_dir, "*" + sweep_report.HPARAMS_SUFFIX))
  assert len(paths) == 1
  hparams, scalars = None, {}
  for event in _events(paths[0]):
    for value in event.summary.value:
      if value.tag == metadata.SESSION_START_INFO_TAG:
        hparams = metadata.parse_session_start_info_plugin_data(
            value.metadata.plugin_data.content).hparams
      elif value.tag.startswith(sweep_report.SCORE_TAG):
        scalars[value.tag] = (event.step, float(tf.make_ndarray(value.tensor)))
  assert hparams["loss.fn"].string_value == "@hinge"
  assert hparams["ModularGAN.g_lr"].number_value == pytest.approx(0.001)
  assert hparams["seed"].number_value == 1
  assert hparams["config"].string_value == hinge.config
  final = sweep_report.read_scores(hinge)[-1]  # scores.csv's last row
  assert scalars == {"score/fid": (200, pytest.approx(final["fid"])),
                     "score/class_accuracy": (200, pytest.approx(final["class_accuracy"]))}
  assert final["fid"] == 20.5
  # With the spec's score_last, a finished trial's scores are the mean over
  # its last checkpoints, as the tables read them.
  sweep_report.write_hparams(sweep_spec.expand(sweep_spec.load_spec(write(
      tmp_path / "s2.toml", "score_last = 2\n" + SPEC)), str(tmp_path))[3])
  [path] = glob.glob(os.path.join(hinge.model_dir, "*" + sweep_report.HPARAMS_SUFFIX))
  means = {v.tag: (e.step, float(tf.make_ndarray(v.tensor))) for e in _events(path)
           for v in e.summary.value if v.tag.startswith(sweep_report.SCORE_TAG)}
  assert means == {"score/fid": (200, pytest.approx((30.0 + 20.5) / 2)),
                   "score/class_accuracy": (200, pytest.approx((0.25 + 0.75) / 2))}
  sweep_report.report(trials, str(tmp_path))
  [root] = glob.glob(os.path.join(tmp_path, "*" + sweep_report.HPARAMS_SUFFIX))
  [experiment] = [metadata.parse_experiment_plugin_data(v.metadata.plugin_data.content)
                  for e in _events(root) for v in e.summary.value
                  if v.tag == metadata.EXPERIMENT_TAG]
  domains = {h.name: [x.string_value or x.number_value for x in h.domain_discrete.values]
             for h in experiment.hparam_infos}
  assert domains["loss.fn"] == ["@hinge", "@non_saturating"]  # sorted by hp.Discrete
  assert domains["seed"] == [0, 1]
  assert [m.name.tag for m in experiment.metric_infos] == ["score/fid",
                                                           "score/class_accuracy"]


def test_finished_trial_gets_hparams_from_the_local_backend(tmp_path):
  """_settle, shared by both backends, marks the trial done and writes its
  hparams event file."""
  trial = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path))[0]
  fake_run(trial, [5.0], [0.5], done=False)
  assert sweep_run._settle(trial, 0, 3.0, 0, 2) is None  # pylint: disable=protected-access
  assert trial.done
  assert glob.glob(os.path.join(trial.model_dir, "*" + sweep_report.HPARAMS_SUFFIX))
