"""Mode collapse on the 2-D mixtures: every loss x penalty pair on `mog_ring`
(8 modes) and `mog_grid` (25 modes), scored by the modes covered and the share
of high-quality samples (the sweep `configs/sweeps/mog_study_small.toml`).

  python benchmarks/mog_study.py                  # runs (or resumes) the sweep
  python benchmarks/mog_study.py --report_only    # tables from what has finished

Writes benchmarks/results/mog_study.{md,csv,png}: one row per loss/penalty,
the median over the finished seeds of each mixture's scores.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2 import files, sweep  # noqa: E402  pylint: disable=g-import-not-at-top

def pivot(summary: list[dict]) -> list[dict]:
  """Rows "loss, penalty" with columns per mixture and score."""
  rows: dict[str, dict] = {}
  for r in summary:
    mixture, pair = r["config"].split(",", 1)
    row = rows.setdefault(pair, {"loss, penalty": pair.replace("loss=", "").replace(
        "penalty=", "").replace(",", ", ")})
    row[f"{mixture} {r['score']}"] = r["median"]
    row[f"{mixture} seeds"] = r["seeds"]
  return list(rows.values())


def markdown(rows: list[dict]) -> str:
  head = ("| loss, penalty | ring: modes of 8 | ring: high quality | grid: modes of 25 "
          "| grid: high quality |\n|---|---|---|---|---|\n")
  cell = lambda row, key, fmt: fmt.format(row[key]) if key in row else "-"
  return head + "".join(
      f"| {row['loss, penalty']} | {cell(row, 'mog_ring modes_covered', '{:.1f}')} | "
      f"{cell(row, 'mog_ring high_quality_fraction', '{:.0%}')} | "
      f"{cell(row, 'mog_grid modes_covered', '{:.1f}')} | "
      f"{cell(row, 'mog_grid high_quality_fraction', '{:.0%}')} |\n" for row in rows)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                     "mog_study_small"))
  parser.add_argument("--parallel", type=int, default=1)
  parser.add_argument("--report_only", action="store_true")
  parser.add_argument("--out", default=os.path.join(RESULTS, "mog_study"))
  args = parser.parse_args()
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  spec = sweep.load_spec("mog_study_small")
  trials = sweep.expand(spec, args.work)
  if not args.report_only:
    sweep.run(trials, args.parallel)
  _, summary = sweep.report(trials, args.work, spec["metrics"])
  rows = pivot(summary)
  seeds = sorted({r["seeds"] for r in summary})
  steps = [b for b in spec.get("bindings", []) if "training_steps" in b]
  setup = (f"mlp_arch GAN (configs mog_ring / mog_grid{', ' + steps[0] if steps else ''}), "
           f"median over {'/'.join(map(str, seeds))} seed(s) of the final scores; "
           f"{sum(t.done for t in trials)}/{len(trials)} trials finished.")
  table = markdown(rows)
  files.write_text(args.out + ".md", f"{setup}\n\n{table}")
  files.write_csv(args.out + ".csv", rows)
  shutil.copy(os.path.join(args.work, "boxplot.png"), args.out + ".png")
  print(setup)
  print(table)


if __name__ == "__main__":
  main()
