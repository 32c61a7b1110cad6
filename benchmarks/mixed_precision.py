"""float32 vs mixed precision (`run_config.mixed_precision`: bfloat16 compute
on float32 weights, as on TPUs) for each GAN class, small, on `digits`: the
same config, seed and steps in both precisions, scored by domain FID (the
shipped digits classifier's features, 3 x 1000 samples).

  python benchmarks/mixed_precision.py                 # seed 0, 300 steps
  python benchmarks/mixed_precision.py --seeds 0,1     # adds seed 1 only
  python benchmarks/mixed_precision.py --quality       # issue 21's quality check

`--quality` trains the quickstart config (ModularGAN) and its conditional
twin (`fewer_labels/digits_biggan_100pct.gin`, all true labels) to the end
(2000 steps) over seeds 0, 1, 2 in both formats and writes
benchmarks/results/bf16_quality.{json,md}: the check behind bfloat16 as the
default compute format on CPUs with native bfloat16 (about 60 minutes of 2
cores; runs resume).

Classes: ModularGAN (the quickstart DCGAN), SSGAN (the same with the rotation
loss), S3GAN (the digits S3GAN-CO config, 10% labels, with the predictor),
ProgressiveGAN (progan_shapes' networks on digits, growing 4 -> 32 px within
the first 225 steps), Conditional (the quickstart DCGAN made conditional, all
true labels). Runs resume (rerun to go on). The point is that training and
scores match; speed is benchmarks/train_speed.py's. Writes
benchmarks/results/mixed_precision.{json,md} (`--out` to change).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

COMMON = ["eval.metrics = ['fid']", "eval.export_generator = False",
          "run_config.iterations_per_loop = 100"]
# class -> (gin configs, extra bindings)
CLASSES = {
    "ModularGAN": (["quickstart.gin"], []),
    "SSGAN": (["quickstart.gin"], ["options.gan_class = @SSGAN"]),
    "S3GAN": (["fewer_labels/digits_s3gan_co_10pct.gin"], []),
    "ProgressiveGAN": (["progan_shapes.gin"], [
        'dataset.name = "digits"', "ProgressiveGAN.training_kimg = 0.6",
        "ProgressiveGAN.transition_kimg = 0.6"]),
    "Conditional": (["fewer_labels/digits_biggan_100pct.gin"], []),
}
# --quality: the configs trained to the end, 3 seeds.
QUALITY = {"classes": "ModularGAN,Conditional", "seeds": "0,1,2", "steps": 2000,
           "out": os.path.join(RESULTS, "bf16_quality")}
PRECISIONS = {"float32": "False", "bfloat16": "True"}
# |FID bf16 - FID f32| allowed: this fraction of the float32 FID, or the
# absolute floor, whichever is larger (one seed of a few hundred steps).
MARGIN_REL, MARGIN_ABS = 0.25, 1.0
LINE = re.compile(r"step (\d+)/\d+ .*?\| (.*) \| ([\d.]+) steps/s")


def run(work: str, gan_class: str, precision: str, seed: int, steps: int) -> dict:
  """Trains and scores one run (resumes a finished one); its record."""
  configs, bindings = CLASSES[gan_class]
  model_dir = os.path.join(work, f"{gan_class}_{precision}_seed{seed}")
  log = model_dir + ".log"
  bindings = COMMON + bindings + [
      f"options.training_steps = {steps}", f"run_config.tf_random_seed = {seed}",
      f"run_config.save_checkpoints_steps = {steps}",
      f"run_config.mixed_precision = {PRECISIONS[precision]}"]
  scores = os.path.join(model_dir, "scores.csv")
  if not os.path.exists(scores):
    command = [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
               "--schedule", "eval_after_train", "--num_eval_averaging_runs", "3"]
    command += [a for c in configs for a in ("--gin_config", c)]
    command += [a for b in bindings for a in ("--gin_bindings", b)]
    start = time.time()
    with open(log, "a") as f:
      result = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    with open(log, "a") as f:
      f.write(f"\nwall_seconds {time.time() - start:.1f} rc {result.returncode}\n")
    if result.returncode:
      with open(log) as f:
        return {"class": gan_class, "precision": precision, "seed": seed,
                "error": f.read()[-1500:]}
  with open(log) as f:
    text = f.read()
  lines = LINE.findall(text)
  step, losses, rate = lines[-1]
  final = {k: float(v) for k, v in re.findall(r"(\w+) (-?[\d.]+(?:e-?\d+)?|nan|inf)", losses)}
  wall = re.findall(r"wall_seconds ([\d.]+)", text)
  with open(scores) as f:
    row = list(csv.DictReader(f))[-1]
  return {"class": gan_class, "precision": precision, "seed": seed,
          "steps": int(step), "steps_per_sec_last_loop": float(rate),
          "wall_seconds": float(wall[-1]) if wall else None,
          "final_losses": final,
          "losses_finite": all(math.isfinite(v) for v in final.values()),
          "fid": float(row["fid"]), "fid_std": float(row["fid_std"])}


def table(records: list[dict]) -> str:
  rows = ["| class | seed | FID float32 | FID bfloat16 | difference | margin | within | "
          "losses finite | final d_loss / g_loss (f32; bf16) | steps/s (f32; bf16) |",
          "|---|---|---|---|---|---|---|---|---|---|"]
  by_key = {(r["class"], r["seed"], r["precision"]): r for r in records}
  for (gan_class, seed, precision), f32 in sorted(by_key.items()):
    if precision != "float32":
      continue
    bf16 = by_key.get((gan_class, seed, "bfloat16"))
    if bf16 is None or "error" in f32 or "error" in bf16:
      error = (bf16 or {}).get("error") or f32.get("error") or "missing"
      rows.append(f"| {gan_class} | {seed} | failed: {error.splitlines()[-1][:120]} |")
      continue
    diff = bf16["fid"] - f32["fid"]
    margin = max(MARGIN_REL * f32["fid"], MARGIN_ABS)
    loss = lambda r: f"{r['final_losses'].get('d_loss', math.nan):.3f} / " \
                     f"{r['final_losses'].get('g_loss', math.nan):.3f}"
    rows.append(
        f"| {gan_class} | {seed} | {f32['fid']:.2f} ± {f32['fid_std']:.2f} | "
        f"{bf16['fid']:.2f} ± {bf16['fid_std']:.2f} | {diff:+.2f} | {margin:.2f} | "
        f"{'yes' if abs(diff) <= margin else 'NO'} | "
        f"{'yes' if f32['losses_finite'] and bf16['losses_finite'] else 'NO'} | "
        f"{loss(f32)}; {loss(bf16)} | "
        f"{f32['steps_per_sec_last_loop']:.2f}; {bf16['steps_per_sec_last_loop']:.2f} |")
  rows += ["", "Per class, over seeds (margin: the larger of the above and the float32 "
           "FID's range over seeds):", "",
           "| class | seeds | FID float32 (mean; range) | FID bfloat16 (mean) | difference | "
           "margin | within |", "|---|---|---|---|---|---|---|"]
  for gan_class in CLASSES:
    f32 = [r["fid"] for r in records if r["class"] == gan_class
           and r["precision"] == "float32" and "error" not in r]
    bf16 = [r["fid"] for r in records if r["class"] == gan_class
            and r["precision"] == "bfloat16" and "error" not in r]
    if not f32 or len(f32) != len(bf16):
      continue
    mean32, mean16 = sum(f32) / len(f32), sum(bf16) / len(bf16)
    spread = max(f32) - min(f32)
    margin = max(MARGIN_REL * mean32, MARGIN_ABS, spread)
    rows.append(f"| {gan_class} | {len(f32)} | {mean32:.2f}; {min(f32):.2f}-{max(f32):.2f} | "
                f"{mean16:.2f} | {mean16 - mean32:+.2f} | {margin:.2f} | "
                f"{'yes' if abs(mean16 - mean32) <= margin else 'NO'} |")
  return "\n".join(rows) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--seeds", default="0")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--classes", default="ModularGAN,SSGAN,S3GAN,ProgressiveGAN")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                     "compare_gan2_mixed_precision"))
  parser.add_argument("--out", default=os.path.join(RESULTS, "mixed_precision"),
                      help="results prefix (.json, .md)")
  parser.add_argument("--quality", action="store_true",
                      help=f"the quality check: {QUALITY}")
  args = parser.parse_args()
  if args.quality:
    for key, value in QUALITY.items():
      setattr(args, key, value)
  unknown = set(args.classes.split(",")) - set(CLASSES)
  if unknown:
    raise SystemExit(f"Unknown --classes {sorted(unknown)}; one of {', '.join(CLASSES)}")
  os.makedirs(args.work, exist_ok=True)
  load = os.getloadavg()
  start = time.time()
  records = []
  for seed in [int(s) for s in args.seeds.split(",")]:
    for gan_class in args.classes.split(","):
      for precision in PRECISIONS:
        record = run(args.work, gan_class, precision, seed, args.steps)
        print(json.dumps({k: v for k, v in record.items() if k != "error"}), flush=True)
        records.append(record)
  summary = {
      "date": datetime.date.today().isoformat(), "steps": args.steps,
      "seeds": args.seeds, "load_average_at_start": [round(x, 2) for x in load],
      "wall_seconds": round(time.time() - start, 1), "cpus": os.cpu_count(),
      "machine": platform.machine(), "margin": {"relative": MARGIN_REL,
                                                "absolute": MARGIN_ABS},
      "note": ("steps/s are a record, not a speed claim (see the load average); "
               "speed is benchmarks/train_speed.py's."),
      "runs": records}
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out + ".json", "w") as f:
    json.dump(summary, f, indent=2)
  setup = (f"digits, {args.steps} steps, seeds {args.seeds}, float32 vs "
           "`run_config.mixed_precision = True` (bfloat16 compute, float32 weights) at "
           "the same seed; domain FID of 3 x 1000 samples in the shipped digits "
           "classifier's space (mean ± std over the 3). Margin: |difference| <= "
           f"max({MARGIN_REL:.0%} of the float32 FID, {MARGIN_ABS}); "
           + ("a few hundred steps are early in training, where " if args.steps < 1000
              else "at the end of training ") +
           "runs of different seeds (and the two "
           "precisions, whose rounding makes them diverge like different seeds) "
           "differ: compare with the float32 range over seeds. Load average at "
           f"start {', '.join(f'{x:.1f}' for x in load)} on {os.cpu_count()} CPUs; "
           "steps/s (last 100-step loop) are a record, not a speed claim (runs may "
           "share the machine): speed is benchmarks/train_speed.py's.")
  with open(args.out + ".md", "w") as f:
    f.write(f"{setup}\n\n{table(records)}")
  print(setup)
  print(table(records))


if __name__ == "__main__":
  main()
