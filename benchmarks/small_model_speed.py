"""Small models' training speed: the MoG study step and the quickstart's
digits step, the library against a PyTorch peer written layer for layer
(benchmarks/small_peers.py), in one run (issue 28).

  python benchmarks/small_model_speed.py            # the record (~3 min)
  python benchmarks/small_model_speed.py --quick    # seconds, /tmp/small_model_speed_quick

Models: `mog` = `mog_ring_tuned` at the study size (batch 64, G and D 3 x 64
MLPs, WGAN loss + WGAN-GP, 5 D updates per G update, EMA of G) on its real
data; `digits` = the quickstart (`quickstart.gin`: dcgan_arch ch 16 on the
digits, batch 64) on its real data. The library's rows time the Runner's own
loop (`runner.loop.call`: the code `train()` runs, the input pipeline
included) over `--steps` steps per call, median of `--repeats` calls after
a warm-up call: the default loop (a tf.function over the steps) and, for
MoG, `run_config.compile_loop = True` (the loop XLA-compiled whole; the
warm-up's seconds are its compile time; XLA's CPU convolutions are 20x slower
than oneDNN's, so digits has no such row). The peer runs eager PyTorch on 1 thread (as
the issue measured it; `--peer_threads 1,2` adds more threads). Ratios are
library steps/s over the first peer's, measured in the same process.

Beside them: the input pipeline alone (batches of step inputs pulled as the
loop pulls them) and, for digits, the step's FLOPs against TF's matmul rate
in the same run (how far the step is from the machine's limit).

`--baseline OTHER.json --baseline_code "main at REV"` adds the latest record
of the same script run on other code (before a change, run just before this
one) to the record and its table.

Writes <out>.json (appends a record) and <out>.md (the latest); <out>
defaults to benchmarks/results/small_model_speed. Needs torch (CPU build)
for the peer; without it the peer rows say so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import gin  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import compare_gan2  # noqa: E402
from compare_gan2.core import files  # noqa: E402
from compare_gan2.runner.train import Runner  # noqa: E402
from train_speed import cores, log, matmul_rates, step_flops, time_calls, time_inputs  # noqa: E402

RESULTS = os.path.join(HERE, "results")
MODELS: dict[str, dict[str, Any]] = {
    "mog": dict(configs=["mog_ring_tuned.gin"], bindings=[
        "options.batch_size = 64", "mlp.Generator.hidden = 64",
        "mlp.Discriminator.hidden = 64", "loss.fn = @wasserstein",
        "penalty.fn = @wgangp_penalty"], steps=400, quick_steps=20, peer="MogPeer",
        compile_loop=True),
    # No compile_loop row: XLA's CPU convolutions run the digits step at
    # 0.6 steps/s (--quick, 2026-12-07), 20x slower than without.
    "digits": dict(configs=["quickstart.gin"], bindings=[], steps=40, quick_steps=2,
                   peer="DigitsPeer", compile_loop=False),
}
# The targets: MoG >= 10x the eager peer; digits >= 2x today's.
MOG_TARGET = 10.0


def build(model: str, extra: list[str]) -> Runner:
  spec = MODELS[model]
  gin.clear_config()
  compare_gan2.parse_gin(spec["configs"], spec["bindings"] + extra + [
      "eval.export_generator = False"])
  return Runner(tempfile.mkdtemp(prefix=f"small_speed_{model}_"))


def time_library(model: str, compile_loop: bool, steps: int, repeats: int,
                 precision: str) -> dict[str, Any]:
  """Steps/s of the Runner's loop (inputs included), median over calls."""
  mp = {"float32": False, "default": None}[precision]
  extra = [f"run_config.compile_loop = {compile_loop}"] + (
      [] if mp is None else [f"run_config.mixed_precision = {mp}"])
  runner = build(model, extra)
  iterator = iter(runner.strategy.experimental_distribute_dataset(runner.train_inputs(0)))
  label = f"{model} {'compile_loop' if compile_loop else 'loop'} ({runner.compute_dtype})"
  times = time_calls(lambda: {k: float(v) for k, v in runner.loop.call(
      iterator, steps, {}).items()}, repeats, label)
  row = {"model": model, "impl": "library", "compile_loop": compile_loop,
         "precision": runner.compute_dtype, "steps_per_call": steps,
         "steps_per_s": steps / float(np.median(times[1:])), "warmup_s": times[0],
         "times_s": times[1:]}
  if not compile_loop and precision == "float32":
    row["inputs_per_s"] = 1e3 / time_inputs(runner, steps, repeats, model)
    if model == "digits":
      row["step_flops"] = step_flops(runner)["flops"]
  return row


def time_peer(model: str, steps: int, repeats: int, threads: int) -> dict[str, Any]:
  try:
    import small_peers  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    return {"model": model, "impl": "torch", "error": f"torch not installed ({e})"}
  peer = getattr(small_peers, MODELS[model]["peer"])()
  rates = small_peers.steps_per_second(peer, steps, repeats, threads=threads)
  log(f"  {model} torch {threads} thread(s): {' '.join(f'{r:.1f}' for r in rates)} steps/s")
  return {"model": model, "impl": "torch", "precision": "float32", "threads": threads,
          "steps_per_s": float(np.median(rates)), "rates": rates,
          **small_peers.info()}


def measure(model: str, steps: int, repeats: int, formats: list[str],
            peer_threads: list[int]) -> list[dict[str, Any]]:
  rows = [time_peer(model, steps, repeats, peer_threads[0])]
  for precision in formats:
    rows.append(time_library(model, False, steps, repeats, precision))
  if MODELS[model]["compile_loop"]:
    rows.append(time_library(model, True, steps, repeats, "float32"))
  for threads in peer_threads[1:]:
    rows.append(time_peer(model, steps, repeats, threads))
  peer = rows[0].get("steps_per_s")
  for row in rows:
    if peer and row["impl"] == "library":
      row["vs_torch_1_thread"] = row["steps_per_s"] / peer
  return rows


def _row_line(row: dict[str, Any], limits: dict[str, float]) -> str:
  if "error" in row:
    return f"| {row['model']} | {row['impl']} | | {row['error']} | | |"
  if row["impl"] == "torch":
    what = f"eager PyTorch {row['torch']}, {row['threads']} thread(s)"
  else:
    what = "Runner loop, XLA (compile_loop)" if row["compile_loop"] else "Runner loop (default)"
  extra = []
  if "inputs_per_s" in row:
    extra.append(f"input pipeline alone {row['inputs_per_s']:.0f} batches/s")
  if "step_flops" in row:
    rate = row["step_flops"] * row["steps_per_s"] / 1e9
    extra.append(f"{row['step_flops'] / 1e9:.2f} GFLOP/step = {rate:.1f} GFLOP/s, "
                 f"{100 * rate / limits['tf_gflops']:.0f}% of TF's float32 matmul rate")
  if row.get("warmup_s") and row.get("compile_loop"):
    extra.append(f"compile {row['warmup_s']:.0f} s")
  ratio = f"{row['vs_torch_1_thread']:.2f}x" if "vs_torch_1_thread" in row else ""
  return (f"| {row['model']} | {what} | {row['precision']} | {row['steps_per_s']:.1f} "
          f"| {ratio} | {'; '.join(extra)} |")


def markdown(record: dict[str, Any], title: str = "Small models' training speed") -> str:
  limits = record["matmul"]
  lines = [f"# {title} ({record['date']})", "",
           f"{record['cores']} cores ({record['machine']}), load average (1 min) "
           f"{record['load_average_start']:.2f} at the start, "
           f"{record['load_average_end']:.2f} at the end; TF {record['tensorflow']}; "
           f"TF {limits['n']}x{limits['n']} matmul {limits['tf_gflops']:.0f} GFLOP/s "
           f"(float32). Command: `{record['command']}`.", "",
           "| model | implementation | precision | steps/s | vs torch (1 thread) | notes |",
           "|---|---|---|---|---|---|"]
  lines += [_row_line(row, limits) for row in record["rows"]]
  text = "\n".join(lines) + "\n"
  if record.get("baseline"):
    text += "\n#" + markdown(record["baseline"], f"Before: {record['baseline_code']}")
  return text


def main() -> None:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="a few steps (a test)")
  parser.add_argument("--models", default="mog,digits")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--peer_threads", default="1",
                      help="torch thread counts, the first the ratios' peer (e.g. 1,2; "
                      "on a loaded machine more threads than free cores are slower)")
  parser.add_argument("--out", default=None)
  parser.add_argument("--baseline", default=None,
                      help="the .json of this script's run on other code (e.g. main), "
                      "whose latest record goes into this one as `baseline`")
  parser.add_argument("--baseline_code", default="",
                      help="what code the baseline ran (e.g. 'main at 3dc518f')")
  args = parser.parse_args()
  out = args.out or (os.path.join(tempfile.gettempdir(), "small_model_speed_quick")
                     if args.quick else os.path.join(RESULTS, "small_model_speed"))
  start = time.time()
  record: dict[str, Any] = {
      "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
      "command": shlex.join(["python", "benchmarks/small_model_speed.py", *sys.argv[1:]]),
      "quick": args.quick, "cores": cores(), "machine": platform.processor() or platform.machine(),
      "tensorflow": tf.__version__, "load_average_start": os.getloadavg()[0],
      "matmul": matmul_rates(256 if args.quick else 2048, 2 if args.quick else 5),
      "rows": []}
  for model in args.models.split(","):
    spec = MODELS[model]
    steps = spec["quick_steps"] if args.quick else spec["steps"]
    formats = ["float32"] if model == "mog" or args.quick else ["float32", "default"]
    threads = [int(t) for t in args.peer_threads.split(",")]
    record["rows"] += measure(model, steps, 1 if args.quick else args.repeats, formats, threads)
  record.update(load_average_end=os.getloadavg()[0], wall_s=time.time() - start)
  if args.baseline:
    with open(args.baseline, encoding="utf-8") as f:
      record.update(baseline=json.load(f)[-1], baseline_code=args.baseline_code)
  records = []
  if os.path.exists(out + ".json"):
    with open(out + ".json", encoding="utf-8") as f:
      records = json.load(f)
  files.write_text(out + ".json", json.dumps(records + [record], indent=1))
  text = markdown(record)
  files.write_text(out + ".md", text)
  print(text)


if __name__ == "__main__":
  main()
