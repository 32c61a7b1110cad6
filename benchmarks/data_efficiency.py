"""Data efficiency: does DiffAugment help when data is scarce, at CPU scale?

Trains the same small GAN on 100%, 20% and 10% of an embedded dataset's
training split, with and without DiffAugment, for several seeds and the same
step budget, and scores every final generator with the domain FID of the
shipped classifier (`eval.feature_extractor = "auto"`).

  python benchmarks/data_efficiency.py                      # digits, 3 seeds
  python benchmarks/data_efficiency.py --seeds 0,1 --steps 300   # quicker

The trials are the sweep `configs/sweeps/data_efficiency_digits.toml` under
--work (rerun to resume). Writes benchmarks/results/data_efficiency.{csv,md,png}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import run as sweep_run  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import spec as sweep_spec  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import provenance  # noqa: E402  pylint: disable=g-import-not-at-top


def run_trials(args: argparse.Namespace, fractions: list[float], policies: list[str],
               seeds: list[int]
               ) -> tuple[dict[tuple[float, str], list[float]], list[sweep_spec.Trial]]:
  """Final `args.metric` of every (fraction, policy), over seeds; the trials."""
  spec = sweep_spec.load_spec("data_efficiency_digits")
  spec.update(configs=[args.config], seeds=seeds, metrics=[args.metric],
              grid={"dataset.train_fraction": fractions,
                    "DiffAugment.policy": [repr(p) for p in policies]})
  spec["bindings"] = [f"options.training_steps = {args.steps}",
                      f"run_config.save_checkpoints_steps = {args.steps}",
                      f"run_config.iterations_per_loop = {min(100, args.steps)}",
                      f"eval.metrics = ['{args.metric}']", "eval.export_generator = False"]
  trials = sweep_spec.expand(spec, args.work)
  errors = sweep_run.run(trials)
  if errors:
    sys.exit("\n".join(errors))
  per_trial, _ = sweep_report.summarize(trials, [args.metric])
  results: dict[tuple[float, str], list[float]] = {}
  for trial, row in zip(trials, per_trial):
    bindings = dict(b.split(" = ", 1) for b in trial.bindings)
    key = (float(bindings["dataset.train_fraction"]),
           bindings["DiffAugment.policy"].strip("'"))
    results.setdefault(key, []).append(float(row[args.metric]))
  return results, trials


def plot(results: dict, fractions: list[float], policies: list[str], metric: str,
         title: str, path: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
  x = np.arange(len(fractions))
  for k, policy in enumerate(policies):
    label = policy or "no augmentation"
    values = [results[(f, policy)] for f in fractions]
    shift = (k - (len(policies) - 1) / 2) * 0.12
    ax.errorbar(x + shift, [np.mean(v) for v in values],
                yerr=[np.std(v) for v in values], marker="o", capsize=3, label=label)
    for i, v in enumerate(values):
      ax.scatter([x[i] + shift] * len(v), v, s=8, alpha=0.4, color="gray")
  ax.set_xticks(x, [f"{int(round(f * 100))}%" for f in fractions])
  ax.set_xlabel("training data")
  ax.set_ylabel(f"{metric} (lower is better)")
  ax.set_title("\n".join(textwrap.wrap(title, 60)), fontsize=8)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--config", default="diffaugment_digits")
  parser.add_argument("--fractions", default="1.0,0.2,0.1")
  parser.add_argument("--policy", default="translation,cutout",
                      help="the DiffAugment policy compared with none")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--metric", default="fid")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                     "compare_gan2_data_efficiency"))
  parser.add_argument("--out", default=os.path.join(RESULTS, "data_efficiency"))
  args = parser.parse_args()
  fractions = [float(f) for f in args.fractions.split(",")]
  seeds = [int(s) for s in args.seeds.split(",")]
  policies = ["", args.policy]
  start = time.time()
  results, trials = run_trials(args, fractions, policies, seeds)
  rows = []
  for fraction in fractions:
    base, aug = results[(fraction, "")], results[(fraction, args.policy)]
    rows.append({"data": f"{int(round(fraction * 100))}%",
                 "without": f"{np.mean(base):.2f} ± {np.std(base):.2f}",
                 "with": f"{np.mean(aug):.2f} ± {np.std(aug):.2f}",
                 "with_better_in": f"{sum(a < b for a, b in zip(aug, base))}/{len(seeds)} seeds",
                 "without_seeds": " ".join(f"{v:.2f}" for v in base),
                 "with_seeds": " ".join(f"{v:.2f}" for v in aug)})
  os.makedirs(os.path.dirname(args.out), exist_ok=True)
  with open(args.out + ".csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  header = (f"| data | {args.metric} without | {args.metric} with `{args.policy}` | "
            "DiffAugment better | per seed (without / with) |\n|---|---|---|---|---|\n")
  table = header + "".join(
      f"| {r['data']} | {r['without']} | {r['with']} | {r['with_better_in']} | "
      f"{r['without_seeds']} / {r['with_seeds']} |\n" for r in rows)
  setup = (f"{args.config}, {args.steps} steps, seeds {args.seeds}, "
           f"domain {args.metric} (mean ± std over seeds)")
  with open(args.out + ".md", "w") as f:
    f.write(f"{setup}\n\n{provenance(trials)}\n\n{table}")
  plot(results, fractions, policies, args.metric, setup, args.out + ".png")
  with open(args.out + ".json", "w") as f:
    json.dump({"setup": setup, "seconds": round(time.time() - start),
               "results": {f"{k[0]}|{k[1] or 'none'}": v for k, v in results.items()}},
              f, indent=2)
  print(setup)
  print(table)


if __name__ == "__main__":
  main()
