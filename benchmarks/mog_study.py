"""Mode collapse on the 2-D ring: every loss x penalty pair on `mog_ring_tuned`
(8 modes; settings that learn, shrunk to a CPU budget), 3 seeds, each trial
scored by the mean over its last 3 checkpoints (the sweep
`configs/sweeps/mog_study_small.toml`).

  python benchmarks/mog_study.py                  # runs (or resumes) the sweep
  python benchmarks/mog_study.py --report_only    # tables from what has finished

Writes benchmarks/results/mog_study.{md,csv,png} and mog_study_samples.png
(each pair's last samples, seed 0): one row per loss/penalty,
the mean ± std over the finished seeds of the modes covered (ours: a mode
holds a tenth of its share of the samples), the modes hit (VEEGAN's count:
one sample within 3 std) and the share of high-quality samples.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import cell, pivot, provenance, run_shipped_spec, samples_montage, timing  # noqa: E402  pylint: disable=g-import-not-at-top

SCORES = ("modes_covered", "modes_hit", "high_quality_fraction")


def markdown(rows: list[dict]) -> str:
  head = ("| loss, penalty | seeds | modes covered (of 8) | modes hit (of 8) "
          "| high quality | modes covered per seed |\n|---|---|---|---|---|---|\n")
  return head + "".join(
      f"| {row['loss, penalty']} | {row['seeds']} | {cell(row, 'modes_covered')} | "
      f"{cell(row, 'modes_hit')} | {cell(row, 'high_quality_fraction', '.0%')} | "
      f"{row.get('modes_covered values', '')} |\n" for row in rows)


def main() -> None:
  args, spec, trials = run_shipped_spec("mog_study_small", "mog_study", __doc__)
  score_last = spec.get("score_last", 1)
  _, summary = sweep_report.report(trials, args.work, spec["metrics"], score_last)
  rows = pivot(summary)
  setup = (f"`mog_ring_tuned` with {', '.join(b for b in spec['bindings'][1:4])}: "
           f"2000 steps, mean ± std over the finished seeds of each trial's mean over "
           f"its last {score_last} checkpoints; {timing(trials)} (2 shared CPU cores, "
           f"`--parallel {args.parallel}`).\n\n{provenance(trials)}\n\n"
           "Reproduce: `python benchmarks/mog_study.py` (sweep in "
           f"{tempfile.gettempdir()}/mog_study_small; `--report_only` rereads it). "
           "Last samples of every pair (seed 0): mog_study_samples.png. A published "
           "table reproduced beside ours (PacGAN's 2D-ring): mog_published.md.")
  table = markdown(rows)
  files.write_text(args.out + ".md", f"{setup}\n\n{table}")
  files.write_csv(args.out + ".csv", rows)
  shutil.copy(os.path.join(args.work, "boxplot.png"), args.out + ".png")
  samples_montage(trials, args.out + "_samples.png")
  print(setup)
  print(table)


if __name__ == "__main__":
  main()
