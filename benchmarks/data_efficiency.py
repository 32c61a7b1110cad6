"""Data efficiency: does DiffAugment help when data is scarce, at CPU scale?

Trains the same small GAN on 100%, 20% and 10% of an embedded dataset's
training split, with and without DiffAugment, for several seeds and the same
step budget, and scores every final generator with the domain FID of the
shipped classifier (`eval.feature_extractor = "auto"`).

  python benchmarks/data_efficiency.py                      # digits, 3 seeds
  python benchmarks/data_efficiency.py --seeds 0,1 --steps 300   # quicker

Each trial is a normal run directory under --work (finished trials are
skipped, so a killed benchmark resumes). Writes benchmarks/results/
data_efficiency.{csv,md,png}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def trial_dir(work: str, fraction: float, policy: str, seed: int) -> str:
  name = policy.replace(",", "+") if policy else "none"
  return os.path.join(work, f"data{int(round(fraction * 100))}_{name}_seed{seed}")


def final_score(model_dir: str, steps: int, metric: str) -> float | None:
  path = os.path.join(model_dir, "scores.csv")
  if not os.path.exists(path):
    return None
  with open(path, newline="") as f:
    rows = [r for r in csv.DictReader(f) if int(r["step"]) == steps]
  return float(rows[-1][metric]) if rows else None


def run_trial(args: argparse.Namespace, fraction: float, policy: str, seed: int) -> float:
  model_dir = trial_dir(args.work, fraction, policy, seed)
  score = final_score(model_dir, args.steps, args.metric)
  if score is not None:
    return score
  bindings = [f"dataset.train_fraction = {fraction}",
              f"DiffAugment.policy = '{policy}'",
              f"run_config.tf_random_seed = {seed}",
              f"options.training_steps = {args.steps}",
              f"run_config.save_checkpoints_steps = {args.steps}",
              f"run_config.iterations_per_loop = {min(100, args.steps)}",
              f"eval.metrics = ['{args.metric}']"]
  command = [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
             "--gin_config", args.config, "--schedule", "eval_after_train"]
  for b in bindings:
    command += ["--gin_bindings", b]
  start = time.time()
  result = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  if result.returncode:
    sys.exit(f"Trial {model_dir} failed:\n{result.stderr[-3000:]}")
  score = final_score(model_dir, args.steps, args.metric)
  print(f"  {os.path.basename(model_dir)}: {args.metric} {score:.2f} "
        f"({time.time() - start:.0f} s)", flush=True)
  return score


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
  results: dict[tuple[float, str], list[float]] = {}
  start = time.time()
  for seed in seeds:  # seed-major: a partial run already covers every cell
    for fraction in fractions:
      for policy in policies:
        results.setdefault((fraction, policy), []).append(
            run_trial(args, fraction, policy, seed))
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
    f.write(f"{setup}\n\n{table}")
  plot(results, fractions, policies, args.metric, setup, args.out + ".png")
  with open(args.out + ".json", "w") as f:
    json.dump({"setup": setup, "seconds": round(time.time() - start),
               "results": {f"{k[0]}|{k[1] or 'none'}": v for k, v in results.items()}},
              f, indent=2)
  print(setup)
  print(table)


if __name__ == "__main__":
  main()
