"""The sweep report: summaries against numpy, the last checkpoints' mean, plots,
the HParams event files TensorBoard reads."""

import csv
import glob
import os

import numpy as np
import pytest

from compare_gan2.runner import schedules
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import spec as sweep_spec
from sweep_cases import SPEC, fake_run, write


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


def test_requested_columns_without_std_average_like_scores(tmp_path):
  """A column the report is asked for that has no `_std` partner (ADA's p,
  logged per checkpoint) is averaged over the last `score_last` rows as the
  scores are, not read from the last row alone."""
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path))
  ps = [[0.05, 0.0256, 0.0], [0.0, 0.0, 0.077]]
  for trial, p_rows in zip(trials, ps):
    os.makedirs(trial.model_dir, exist_ok=True)
    for step, p in enumerate(p_rows, 1):
      schedules.write_row(trial.model_dir, "scores.csv", {
          "step": step * 250, "fid": 40.0 + step, "fid_std": 0.0, "ada_p": p})
    open(os.path.join(trial.model_dir, sweep_spec.DONE), "w").close()
  per_trial, summary = sweep_report.summarize(trials[:2], ["ada_p", "fid"], score_last=2)
  assert [r["ada_p"] for r in per_trial] == pytest.approx([np.mean(ps[0][-2:]),
                                                           np.mean(ps[1][-2:])])
  assert [r["fid"] for r in per_trial] == pytest.approx([42.5, 42.5])
  assert per_trial[0]["step"] == 750  # the last checkpoint's, not averaged
  config = trials[0].config
  row = next(r for r in summary if r["score"] == "ada_p" and r["config"] == config)
  assert row["mean"] == pytest.approx(np.mean(
      [np.mean(p[-2:]) for t, p in zip(trials, ps) if t.config == config]))


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
