"""A sweep's report: each trial's scores (scores.csv), the per-config summary
over seeds (results.csv, summary.csv/.md), the plots and the TensorBoard
HParams experiment."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from typing import Any, Sequence

import numpy as np

from compare_gan2.core import files
from compare_gan2.tools.sweep.spec import Trial, exists, gfile, is_remote, read_text

HPARAMS_SUFFIX = ".sweep_hparams"  # the event files this module writes
SCORE_TAG = "score/"  # their scalar tags: score/<name>, a trial's final scores


def read_scores(trial: Trial) -> list[dict[str, float]]:
  """The trial's scores.csv rows, numeric columns only, by step."""
  path = os.path.join(trial.model_dir, "scores.csv")
  if not exists(path):
    return []
  rows = []
  with io.StringIO(read_text(path), newline="") as f:
    for row in csv.DictReader(f):
      numbers = {}
      for key, value in row.items():
        try:
          numbers[key] = float(value)
        except (TypeError, ValueError):
          pass
      rows.append(numbers)
  return sorted(rows, key=lambda r: r["step"])


def score_names(rows: list[dict[str, float]]) -> list[str]:
  """The scores of a scores.csv: the columns with a `_std` partner."""
  names: list[str] = []
  for row in rows:
    names += [k for k in row if f"{k}_std" in row and k not in names]
  return names


def final_scores(rows: list[dict[str, float]], score_last: int = 1,
                 also: Sequence[str] = ()) -> dict[str, float]:
  """A trial's scores from its scores.csv `rows` (by step): the last row,
  each score (and each of `also`, numeric columns without a `_std`, such as
  ADA's p) replaced by its mean over the last `score_last` rows that have
  it. "step" stays the last row's."""
  if not rows:
    return {}
  final = dict(rows[-1])
  for name in dict.fromkeys(score_names(rows) + [n for n in also if n != "step"]):
    if name in final:  # a score the last checkpoint lacks stays missing
      final[name] = float(np.mean([r[name] for r in rows if name in r][-score_last:]))
  return final


def summarize(trials: Sequence[Trial], metrics: Sequence[str] | None = None,
              score_last: int = 1
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
  """(one row per trial with its final scores, one row per config and score
  with best/median/mean/std over seeds). A trial's final score is the mean
  over its last `score_last` evaluated checkpoints (final_scores)."""
  from compare_gan2.metrics import scores  # noqa: F401  pylint: disable=g-import-not-at-top  (registers the metrics)
  from compare_gan2.metrics.base import DIRECTIONS  # pylint: disable=g-import-not-at-top
  per_trial, finals = [], {}
  names: list[str] = list(metrics or [])
  for trial in trials:
    rows = read_scores(trial)
    names += [n for n in score_names(rows) if n not in names and not metrics]
    # Requested columns are read as scores are, even without a `_std`.
    final = final_scores(rows, score_last, also=metrics or ())
    finals[(trial.config, trial.seed)] = final
    per_trial.append({"config": trial.config, "seed": trial.seed,
                      "status": "done" if trial.done else ("partial" if rows else "new"),
                      "step": int(final["step"]) if final else "",
                      **{n: final.get(n, "") for n in names}})
  summary = []
  configs = list(dict.fromkeys(t.config for t in trials))
  for config in configs:
    for name in names:
      values = [finals[(t.config, t.seed)][name] for t in trials
                if t.config == config and name in finals[(t.config, t.seed)]]
      if not values:
        continue
      direction = DIRECTIONS.get(name, 0)
      best = (max(values) if direction > 0 else min(values)) if direction else ""
      summary.append({"config": config, "score": name, "seeds": len(values),
                      "best": best, "median": float(np.median(values)),
                      "mean": float(np.mean(values)), "std": float(np.std(values)),
                      "values": " ".join(f"{v:.4g}" for v in values)})
  return per_trial, summary


def trial_hparams(trial: Trial) -> dict[str, Any]:
  """The values TensorBoard's HParams dashboard shows for `trial`."""
  return {"config": trial.config, **dict(trial.hparams), "seed": trial.seed}


def _replace_event_file(logdir: str) -> Any:
  """A summary writer for this module's event file in `logdir`, whose
  earlier ones it deletes (a rerun does not add a second session)."""
  io_gfile = gfile()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for old in io_gfile.glob(os.path.join(logdir, "*" + HPARAMS_SUFFIX)):
    io_gfile.remove(old)
  return tf.summary.create_file_writer(logdir, filename_suffix=HPARAMS_SUFFIX)


def write_hparams(trial: Trial) -> None:
  """Writes `trial`'s hparams session (trial_hparams) and its final scores
  (as `final_scores`: the mean over its last `trial.score_last` evaluated
  checkpoints, as the tables read them; scalars `score/<name>` at the last
  one's step) into an event file in its model_dir, for TensorBoard's HParams
  dashboard."""
  rows = read_scores(trial)
  final = final_scores(rows, trial.score_last)
  writer = _replace_event_file(trial.model_dir)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  with writer.as_default():
    hp.hparams(trial_hparams(trial), trial_id=f"{trial.config}/seed{trial.seed}")
    for name in score_names(rows) if rows else ():
      if name in final:
        tf.summary.scalar(SCORE_TAG + name, final[name], step=int(final["step"]))
  writer.close()


def write_hparams_config(trials: Sequence[Trial], out: str, names: Sequence[str]) -> None:
  """The sweep's experiment for the HParams dashboard, in `out`: every
  hparam with the values of the grid, the scores `names` as metrics."""
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  values: dict[str, list[Any]] = {}
  for trial in trials:
    for key, value in trial_hparams(trial).items():
      if value not in values.setdefault(key, []):
        values[key].append(value)
  hparams = []
  for key, options in values.items():
    try:
      hparams.append(hp.HParam(key, hp.Discrete(options)))
    except (TypeError, ValueError):  # values of mixed types: no domain
      hparams.append(hp.HParam(key))
  writer = _replace_event_file(out)
  with writer.as_default():
    hp.hparams_config(hparams=hparams, metrics=[hp.Metric(SCORE_TAG + n, display_name=n)
                                                for n in names])
  writer.close()


def _fmt(value: Any) -> str:
  return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown_table(summary: list[dict[str, Any]]) -> str:
  """Per config one row, per score a "median (best) ± std" cell."""
  names = list(dict.fromkeys(r["score"] for r in summary))
  configs = list(dict.fromkeys(r["config"] for r in summary))
  cells = {(r["config"], r["score"]): r for r in summary}
  lines = ["| config | seeds | " + " | ".join(names) + " |",
           "|---" * (len(names) + 2) + "|"]
  for config in configs:
    row = [cells.get((config, n)) for n in names]
    seeds = max(r["seeds"] for r in row if r)
    lines.append(f"| {config} | {seeds} | " + " | ".join(
        f"{_fmt(r['median'])} ± {_fmt(r['std'])}" + (f" (best {_fmt(r['best'])})"
                                                       if r["best"] != "" else "")
        if r else "" for r in row) + " |")
  return "\n".join(lines) + "\n"


def plot(trials: Sequence[Trial], summary: list[dict[str, Any]], out: str,
         score_last: int = 1) -> list[str]:
  """curves.png (each score against step, a colour per config, a thin line
  per seed) and boxplot.png (the final scores per config). Returns the paths."""
  from compare_gan2.runner.images import figure  # pylint: disable=g-import-not-at-top
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
  names = list(dict.fromkeys(r["score"] for r in summary))
  configs = list(dict.fromkeys(t.config for t in trials))
  if not names:
    return []
  colors = colormaps["tab10"]
  paths = []
  fig, axes = figure(4.2 * len(names), 3.4, len(names), dpi=110)
  for ax, name in zip(axes, names):
    for k, config in enumerate(configs):
      for n, trial in enumerate(t for t in trials if t.config == config):
        rows = [r for r in read_scores(trial) if name in r]
        ax.plot([r["step"] for r in rows], [r[name] for r in rows], marker=".",
                lw=1, alpha=0.8, color=colors(k % 10), label=config if n == 0 else None)
    ax.set_xlabel("step")
    ax.set_title(name)
  axes[-1].legend(fontsize=6, loc="best")
  fig.tight_layout()
  paths.append(os.path.join(out, "curves.png"))
  fig.savefig(paths[-1])
  # One panel per score, stacked: many configs need the width.
  label_room = 0.03 * max(len(c) for c in configs)  # inches for rotated names
  fig, axes = figure(max(4.0, 0.35 * len(configs) + 2.0), (2.0 + label_room) * len(names),
                     dpi=110, rows=len(names))
  for ax, name in zip(axes, names):
    data = [[float(v) for v in r["values"].split()] for c in configs for r in summary
            if r["config"] == c and r["score"] == name]
    labels = [c for c in configs if any(r["config"] == c and r["score"] == name
                                        for r in summary)]
    ax.boxplot(data)
    values = [v for d in data for v in d]
    if values and min(values) > 0 and max(values) > 20 * min(values):
      ax.set_yscale("log")  # one collapsed config must not flatten the rest
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=6)
    ax.set_title(f"{name} ({'final' if score_last == 1 else f'mean of last {score_last}'}"
                 ", over seeds)")
  fig.tight_layout()
  paths.append(os.path.join(out, "boxplot.png"))
  fig.savefig(paths[-1])
  return paths


def report(trials: Sequence[Trial], out: str, metrics: Sequence[str] | None = None,
           score_last: int = 1) -> tuple[str, list[dict[str, Any]]]:
  """Writes results.csv, summary.csv/.md, the plots and the HParams
  experiment; returns the markdown table and the summary rows. Each trial
  is scored by the mean over its last `score_last` evaluated checkpoints."""
  per_trial, summary = summarize(trials, metrics, score_last)
  # A remote sweep's report is written here, then copied.
  local = tempfile.mkdtemp(prefix="sweep_report") if is_remote(out) else out
  os.makedirs(local, exist_ok=True)
  for name, rows in (("results.csv", per_trial), ("summary.csv", summary)):
    if rows:
      files.write_csv(os.path.join(local, name), rows)
  table = markdown_table(summary) if summary else "No scores yet.\n"
  done = sum(t.done for t in trials)
  scored = ("final scores" if score_last == 1 else
            f"scores (mean over each trial's last {score_last} evaluated checkpoints)")
  files.write_text(os.path.join(local, "summary.md"),
                   f"{done}/{len(trials)} trials finished; median ± std over seeds "
                   f"of each config's {scored}.\n\n" + table)
  plot(trials, summary, local, score_last)
  if local != out:
    for name in os.listdir(local):
      gfile().copy(os.path.join(local, name), os.path.join(out, name), overwrite=True)
      os.remove(os.path.join(local, name))
    os.rmdir(local)
  if summary:
    write_hparams_config(trials, out, list(dict.fromkeys(r["score"] for r in summary)))
  return table, summary
