"""Loss x penalty x normalization of D on `digits`, read as Kurach et al. read
theirs ("A Large-Scale Study on Regularization and Normalization in GANs",
ICML 2019): the sweep `configs/sweeps/digits_study.toml` (the quickstart
DCGAN; non-saturating or Wasserstein loss, no penalty or WGAN-GP, D without
or with spectral norm; 3 seeds, 1000 steps), each trial scored by the FID in
the shipped digits classifier's features, the mean over its last 3
checkpoints.

  python benchmarks/digits_study.py                  # runs (or resumes) the sweep
  python benchmarks/digits_study.py --report_only    # tables from what has finished
  python benchmarks/digits_study.py --spec my.toml --work DIR --out PATH

Writes benchmarks/results/digits_study.{md,csv,png}: per setting the FID mean
± std over seeds and per seed, ranked; per factor the paired comparison (the
trials that differ only in that factor: same other factors, same seed), how
many of those pairs the other value improves and the mean difference, over
all pairs and given each value of the other factors; the plot shows the
per-seed scores of every setting and the paired differences.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import spec as sweep_spec  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import pivot, provenance, run_shipped_spec, timing  # noqa: E402  pylint: disable=g-import-not-at-top

METRIC = "fid"


def factor_name(key: str) -> str:
  """A grid key's column name: "loss.fn" -> "loss", others unchanged."""
  return key[:-3] if key.endswith(".fn") else key


def value_name(value: Any) -> str:
  """A grid value as the tables show it: "@wgangp_penalty" -> "wgangp_penalty"."""
  return str(value).strip("'\"@") or "none"


def diverged(trial: sweep_spec.Trial) -> bool:
  """Whether the trial stopped on a NaN/inf loss or NaN samples (its log
  says so; such a trial has no scores)."""
  log = os.path.join(trial.model_dir, "sweep.log")
  return sweep_spec.exists(log) and "NaN/inf" in sweep_spec.read_text(log)


def settings(trials: Sequence[sweep_spec.Trial], spec: dict[str, Any],
             score_last: int) -> list[dict[str, Any]]:
  """One row per setting (grid point), in grid order: its factor values
  (column per grid key), the seeds scored and those that diverged, the mean
  and std of `METRIC` over the scored seeds, per-seed values (inf for a
  diverged trial), and the draw-to-draw std of the score (its evaluation
  noise), averaged over its trials' last `score_last` checkpoints."""
  per_trial, summary = sweep_report.summarize(trials, [METRIC], score_last)
  factors = [factor_name(k) for k in spec.get("grid", {})]
  pivoted = {r["config"]: r for r in pivot(summary)}
  rows: dict[str, dict[str, Any]] = {}
  for trial, result in zip(trials, per_trial):
    row = rows.setdefault(trial.config, {
        **{factor_name(k): value_name(v) for k, v in trial.hparams if factor_name(k)
           in factors}, "seeds": 0, "diverged": 0, "mean": float("nan"),
        "std": float("nan"), "per_seed": {}, "eval_std": []})
    if result[METRIC] != "":
      row["per_seed"][trial.seed] = float(result[METRIC])
      scored = [r for r in sweep_report.read_scores(trial) if f"{METRIC}_std" in r]
      row["eval_std"] += [r[f"{METRIC}_std"] for r in scored[-score_last:]]
    elif diverged(trial):
      row["per_seed"][trial.seed] = float("inf")
      row["diverged"] += 1
  for config, row in rows.items():
    if config in pivoted:
      row.update(seeds=pivoted[config]["seeds"], mean=pivoted[config][f"{METRIC} mean"],
                 std=pivoted[config][f"{METRIC} std"])
    row["eval_std"] = float(np.mean(row["eval_std"])) if row["eval_std"] else float("nan")
  return list(rows.values())


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
  """The settings with a result best first (lowest mean FID over the scored
  seeds; those with more diverged than scored seeds last), each with its rank."""
  order = sorted((r for r in rows if r["per_seed"]),
                 key=lambda r: (r["diverged"] > r["seeds"], np.nan_to_num(r["mean"], nan=np.inf)))
  return [{"rank": k + 1, **r} for k, r in enumerate(order)]


def paired(rows: list[dict[str, Any]], factors: list[str]) -> list[dict[str, Any]]:
  """Per factor and per value other than its first (the baseline): the pairs
  of trials equal in every other factor and in the seed, differing only in
  this factor (baseline -> value). Over all pairs, then given each value of
  each other factor: the number of pairs, how many the value improves (lower
  FID), and the mean, std and list of the differences (value - baseline;
  +-inf where one side diverged, left out of the mean and std)."""
  def key(row: dict[str, Any], factor: str) -> tuple:
    return tuple(row[f] for f in factors if f != factor)

  comparisons = []
  for factor in factors:
    values = list(dict.fromkeys(r[factor] for r in rows))
    for value in values[1:]:
      base = {key(r, factor): r for r in rows if r[factor] == values[0]}
      pairs = []  # (other factors' values, seed, difference)
      for row in (r for r in rows if r[factor] == value):
        other = base.get(key(row, factor))
        if other is None:
          continue
        pairs += [(row, seed, score - other["per_seed"][seed])
                  for seed, score in row["per_seed"].items() if seed in other["per_seed"]]
      givens = [("all", lambda row: True)] + [
          (f"{g}={v}", lambda row, g=g, v=v: row[g] == v) for g in factors if g != factor
          for v in dict.fromkeys(r[g] for r in rows)]
      for given, keep in givens:
        diffs = [d for row, _, d in pairs if keep(row)]
        finite = [d for d in diffs if np.isfinite(d)]
        if diffs:
          comparisons.append({
              "factor": factor, "change": f"{values[0]} -> {value}", "given": given,
              "pairs": len(diffs), "better": sum(d < 0 for d in diffs),
              "mean_difference": float(np.mean(finite)) if finite else float("nan"),
              "std": float(np.std(finite)) if finite else float("nan"),
              "differences": diffs})
  return comparisons


def _score(value: float) -> str:
  return "diverged" if value == float("inf") else f"{value:.1f}"


def _difference(value: float) -> str:
  return "both diverged" if np.isnan(value) else f"{value:+.1f}"


def markdown(ranking: list[dict[str, Any]], comparisons: list[dict[str, Any]],
             factors: list[str], seeds: Sequence[int]) -> tuple[str, str]:
  """The ranked settings table and the paired comparisons table."""
  head = ("| rank | " + " | ".join(factors) + f" | seeds (diverged) | {METRIC} mean ± std | "
          f"per seed ({', '.join(str(s) for s in seeds)}) | eval noise (draw std) |\n"
          + "|---" * (len(factors) + 5) + "|\n")
  table = head + "".join(
      f"| {r['rank']} | " + " | ".join(r[f] for f in factors)
      + f" | {r['seeds']} ({r['diverged']}) | {r['mean']:.1f} ± {r['std']:.1f} | "
      + " ".join(_score(r["per_seed"][s]) if s in r["per_seed"] else "-" for s in seeds)
      + f" | {r['eval_std']:.2f} |\n" for r in ranking)
  pairs = ("| factor | change | given | pairs | better in | mean difference ± std "
           "| differences |\n|---|---|---|---|---|---|---|\n" + "".join(
               f"| {c['factor']} | {c['change']} | {c['given']} | {c['pairs']} | "
               f"{c['better']}/{c['pairs']} | "
               + ("-" if np.isnan(c["mean_difference"]) else
                  f"{c['mean_difference']:+.1f} ± {c['std']:.1f}") + " | "
               + " ".join(_difference(d) for d in c["differences"]) + " |\n"
               for c in comparisons))
  return table, pairs


def plot(ranking: list[dict[str, Any]], comparisons: list[dict[str, Any]],
         factors: list[str], path: str) -> None:
  """Left: every setting's per-seed FID (dots) and mean (bar), best first.
  Right: per factor, the paired differences over all pairs (below 0: the
  change improves FID)."""
  from compare_gan2.runner.images import figure  # pylint: disable=g-import-not-at-top
  fig, (left, right) = figure(11, 4.2, 2, dpi=110)
  labels = [", ".join(f"{f}={r[f]}" if r[f] in ("True", "False") else r[f] for f in factors)
            for r in ranking]
  labels = [label + (f" ({r['diverged']} diverged)" if r["diverged"] else "")
            for label, r in zip(labels, ranking)]
  for x, row in enumerate(ranking):
    seeds = [v for v in row["per_seed"].values() if np.isfinite(v)]
    left.scatter([x] * len(seeds), seeds, s=14, color="tab:blue", alpha=0.7)
    left.hlines(row["mean"], x - 0.3, x + 0.3, color="black")
  values = [v for r in ranking for v in r["per_seed"].values() if np.isfinite(v)]
  if values and min(values) > 0 and max(values) > 20 * min(values):
    left.set_yscale("log")  # a diverged setting must not flatten the rest
  left.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=6)
  left.set_ylabel(f"{METRIC} (lower is better)")
  left.set_title(f"{METRIC} per seed (dots) and mean (bar), best first", fontsize=9)
  overall = [c for c in comparisons if c["given"] == "all"]
  for x, c in enumerate(overall):
    diffs = [d for d in c["differences"] if np.isfinite(d)]
    if not diffs:
      continue
    jitter = np.linspace(-0.15, 0.15, len(diffs)) if len(diffs) > 1 else [0.0]
    right.scatter(x + np.asarray(jitter), diffs, s=14, color="tab:orange", alpha=0.8)
    right.hlines(c["mean_difference"], x - 0.3, x + 0.3, color="black")
  right.axhline(0.0, color="gray", lw=0.8, ls="--")
  if any(abs(d) > 100 for c in overall for d in c["differences"] if np.isfinite(d)):
    right.set_yscale("symlog", linthresh=10.0)
  right.set_xticks(range(len(overall)), [f"{c['factor']}\n{c['change']}" for c in overall],
                   fontsize=7)
  right.set_ylabel(f"paired {METRIC} difference")
  right.set_title("paired differences (same other factors and seed); < 0 helps", fontsize=9)
  fig.tight_layout()
  fig.savefig(path)


def main(argv: Sequence[str] | None = None) -> str:
  """Runs (or rereads) the study and writes its results; returns the page."""
  args, spec, trials = run_shipped_spec("digits_study", "digits_study", __doc__, argv)
  score_last = spec.get("score_last", 1)
  sweep_report.report(trials, args.work, [METRIC], score_last)  # the sweep's own tables
  factors = [factor_name(k) for k in spec.get("grid", {})]
  seeds = spec.get("seeds", [0])
  rows = settings(trials, spec, score_last)
  ranking = ranked(rows)
  comparisons = paired(rows, factors)
  table, pairs = markdown(ranking, comparisons, factors, seeds)
  command = "python benchmarks/digits_study.py" + (
      "" if args.spec == "digits_study" else f" --spec {args.spec}")
  setup = (
      f"Sweep `{args.spec}` ({', '.join(spec.get('configs', []))} with "
      f"{'; '.join(spec.get('bindings', []))}), seeds {', '.join(map(str, seeds))}: "
      f"each trial's {METRIC} is the mean over its last {score_last} evaluated "
      f"checkpoints, in the shipped digits classifier's features; {timing(trials)} "
      f"(2 shared CPU cores, `--parallel {args.parallel}`).\n\n{provenance(trials)}\n\n"
      f"Reproduce: `{command}` (sweep in {args.work}; `--report_only` rereads it).")
  page = (f"{setup}\n\n## Settings, best first\n\n{table}\n"
          "Eval noise: the std of the score over the 3 sample draws of a checkpoint, "
          "averaged over the scored checkpoints.\n\n"
          "## Paired comparisons\n\nEach pair: two trials equal in every other factor "
          f"and the seed; difference = {METRIC} after the change - before (negative: "
          f"the change helps); better in = pairs it improves.\n\n{pairs}")
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  files.write_text(args.out + ".md", page)
  files.write_csv(args.out + ".csv", [
      {"rank": r["rank"], **{f: r[f] for f in factors}, "seeds": r["seeds"],
       f"{METRIC} mean": r["mean"], f"{METRIC} std": r["std"],
       "diverged": r["diverged"], **{f"seed {s}": r["per_seed"].get(s, "") for s in seeds},
       "eval noise": r["eval_std"]} for r in ranking])
  if ranking:
    plot(ranking, comparisons, factors, args.out + ".png")
  print(page)
  return page


if __name__ == "__main__":
  main()
