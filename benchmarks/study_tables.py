"""What the study benchmarks share (mog_study.py, mog_published.py,
digits_study.py, diffaugment_overfit.py, data_efficiency.py, fewer_labels.py):
their flags and the run of a shipped sweep spec, the per-config table of a
sweep summary, the time a trial took, and the precision and load line.

The scripts put the repository root on sys.path before importing this.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from collections import Counter
from typing import Callable, Sequence

from compare_gan2.core import files
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import run as sweep_run
from compare_gan2.tools.sweep import spec as sweep_spec

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def run_shipped_spec(name: str, out_name: str, doc: str,
                     argv: Sequence[str] | None = None
                     ) -> tuple[argparse.Namespace, dict, list[sweep_spec.Trial]]:
  """The flags of a study benchmark (its `--help` opens with the first
  paragraph of `doc`, the script's docstring); runs (or resumes) the sweep
  spec (the shipped spec `name`, or --spec) unless --report_only. `argv`:
  the flags (default sys.argv[1:]). Returns (flags, spec, trials)."""
  parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
  parser.add_argument("--spec", default=name,
                      help="a shipped sweep spec's name or a TOML file")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), name),
                      help="the sweep directory (rerun to resume)")
  parser.add_argument("--parallel", type=int, default=1)
  parser.add_argument("--report_only", action="store_true")
  parser.add_argument("--out", default=os.path.join(RESULTS, out_name),
                      help="the results' path without its extension")
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  spec = sweep_spec.load_spec(args.spec)
  trials = sweep_spec.expand(spec, args.work)
  if not args.report_only:
    sweep_run.run(trials, args.parallel)
  return args, spec, trials


def pivot(summary: list[dict], prefix: str = "") -> list[dict]:
  """One row per config of a sweep summary (sweep_report.summarize): its label
  ("loss, penalty": the grid values, `loss=`/`penalty=` dropped), its
  config name, the seeds, and per score the mean, std and per-seed values."""
  rows: dict[str, dict] = {}
  for r in summary:
    pair = r["config"][len(prefix):] if r["config"].startswith(prefix) else r["config"]
    label = pair.replace("loss=", "").replace("penalty=", "").replace(",", ", ")
    row = rows.setdefault(label, {"loss, penalty": label, "config": r["config"]})
    row["seeds"] = r["seeds"]
    for key in ("mean", "std", "values"):
      row[f"{r['score']} {key}"] = r[key]
  return list(rows.values())


def cell(row: dict, score: str, fmt: str = ".1f") -> str:
  """"mean ± std" of `score` in a `pivot` row in format `fmt` (".0%" for
  shares), "-" where the row lacks the score."""
  if f"{score} mean" not in row:
    return "-"
  return f"{row[f'{score} mean']:{fmt}} ± {row[f'{score} std']:{fmt}}"


def trial_seconds(trials: Sequence[sweep_spec.Trial]) -> list[float]:
  """The wall time of each finished trial, from its sweep_done.json."""
  return [json.loads(sweep_spec.read_text(os.path.join(t.model_dir, sweep_spec.DONE)) or "{}"
                     ).get("seconds", 0) for t in trials if t.done]


def timing(trials: Sequence[sweep_spec.Trial]) -> str:
  """"k/n trials finished, m min per trial" for a results page."""
  seconds = trial_seconds(trials)
  per_trial = f", {sum(seconds) / len(seconds) / 60:.1f} min per trial" if seconds else ""
  return f"{len(seconds)}/{len(trials)} trials finished{per_trial}"


def provenance(trials: Sequence[sweep_spec.Trial]) -> str:
  """The precision and load line of a results page: the compute formats the
  finished trials trained in (their run.json) and the load average when the
  page was written."""
  counts = Counter(files.recorded_compute_dtype(t.model_dir) for t in trials if t.done)
  formats = ", ".join(f"{dtype} ({n} trial{'s' * (n != 1)})"
                      for dtype, n in sorted(counts.items()))
  load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
  return (f"Precision: {formats or 'no finished trials'} (each trial's run.json). "
          f"Load average (1, 5, 15 min; `uptime`) when this page was written: {load} "
          f"on {os.cpu_count()} cores.")


def samples_montage(trials: Sequence[sweep_spec.Trial], out: str, seed: int = 0,
                    columns: int = 3,
                    label: Callable[[sweep_spec.Trial], str] | None = None
                    ) -> str | None:
  """One picture of every config's last sample plot (`samples/` of its
  `seed` trial), titled by `label(trial)` (default: the config, `loss=` and
  `penalty=` dropped), `columns` per row; written to `out`. Returns `out`,
  or None when no finished trial of that seed has samples."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  panels = []
  for t in trials:
    folder = os.path.join(t.model_dir, "samples")
    if t.seed == seed and t.done and os.path.isdir(folder) and os.listdir(folder):
      last = sorted(os.listdir(folder))[-1]
      title = label(t) if label else (
          t.config.replace("loss=", "").replace("penalty=", "").replace(",", ", "))
      panels.append((title, os.path.join(folder, last)))
  if not panels:
    return None
  rows = -(-len(panels) // columns)
  fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
  for ax in axes.flat:
    ax.axis("off")
  for ax, (title, path) in zip(axes.flat, panels):
    ax.imshow(plt.imread(path))
    ax.set_title(title, fontsize=9)
  fig.suptitle(f"last samples, seed {seed}")
  fig.tight_layout()
  fig.savefig(out, dpi=80)
  plt.close(fig)
  return out
