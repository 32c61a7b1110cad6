"""Speed of the evaluation pieces: FID (eigenvalue route vs the
scipy.linalg.sqrtm formula) on 2048-d features of 10k and 50k samples, and
FID Inception feature extraction (`metrics.inception.extract`).

  python benchmarks/metrics_speed.py [--sizes 10000 50000] [--skip_fid]
      [--skip_inception] [--prdc_sizes N ...] [--prdc_dtypes float32 float64]
      [--prdc_max_seconds S] [--quick] [--out DIR]

`--prdc_sizes`: wall time and peak memory of the k-NN manifold metrics
(`precision_recall`, k = 3; `density_coverage`, k = 5) on N real and N
fake random features of `--prdc_dim` (2048) dims, per size and distance
precision, each in a fresh process (so that its peak RSS, ru_maxrss, is
its own; the RSS after the features were made is recorded beside it). A
size whose time, extrapolated as N^2 from the previous size, would not fit
in what is left of `--prdc_max_seconds` is not run: its row says so and
gives the extrapolation.

The Inception record: images/s of the whole `extract` (float32 and
bfloat16), of the network alone on pre-scaled [B, 299, 299, 3] inputs per
batch size, and of the preprocessing alone (quantise, resize to 299,
scale); FLOPs per image (TF's graph profiler), the achieved GFLOP/s and
their share of the TF float32 (and bfloat16) 2048x2048 matmul rate measured
in the same run (the better of before and after the timings); the effect of bfloat16 extraction on FID; which weights
ran (the real FID Inception where found, else fixed-seed random weights:
the FLOPs and speed do not depend on the weights, the FID effect does);
the load average at start and end and the share of the machine's CPU time
other processes used meanwhile (a record is marked "loaded" when the start
load exceeds 0.6 x cores or the others' share exceeds 15%; the end load
counts this script's own threads, so it is information only). Timings are best-of-`repeats`,
the variants interleaved.

Appends the record to DIR/metrics_speed.json (default benchmarks/results)
and writes DIR/metrics_speed.md (the latest record as tables). `--quick`:
a few tiny runs, a smoke test of the script (not a record).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import multiprocessing
import platform
import resource
import subprocess
import sys
import time
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

from compare_gan2.metrics import frechet_distance  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# bfloat16 extraction may become the default only if FID moves by less than
# this relative to float32 FID (issue 21).
BF16_FID_TOLERANCE = 1e-3


def sqrtm_fid(act1: np.ndarray, act2: np.ndarray) -> float:
  """The common reference implementation: scipy's sqrtm of C1 C2."""
  mu1, mu2 = act1.mean(0), act2.mean(0)
  c1, c2 = np.cov(act1, rowvar=False), np.cov(act2, rowvar=False)
  covmean = scipy.linalg.sqrtm(c1 @ c2).real
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * covmean))


def features(n: int, d: int, rng: np.random.RandomState) -> np.ndarray:
  mixing = rng.randn(d, d) / np.sqrt(d)
  return (rng.randn(n, d) @ mixing).astype(np.float32) + rng.rand(d).astype(np.float32)


def time_fid(n: int, d: int = 2048) -> dict:
  rng = np.random.RandomState(n)
  a, b = features(n, d, rng), features(n, d, rng)
  frechet_distance(a[:3000], b[:3000])  # warm up BLAS threads and caches
  start = time.perf_counter()
  ours = frechet_distance(a, b)
  t_ours = time.perf_counter() - start
  start = time.perf_counter()
  ref = sqrtm_fid(a.astype(np.float64), b.astype(np.float64))
  t_ref = time.perf_counter() - start
  return {"n": n, "dim": d, "fid_eig_s": round(t_ours, 2), "fid_sqrtm_s": round(t_ref, 2),
          "speedup": round(t_ref / t_ours, 2), "relative_difference": abs(ours - ref) / ref}


# --- k-NN manifold metrics (precision/recall, density/coverage) -------------------

PRDC_METRICS = ("precision_recall", "density_coverage")


def _rss_mb() -> float:
  """This process's resident memory now, MB (Linux /proc)."""
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _prdc_child(n: int, dim: int, dtype: str, metric: str) -> dict[str, Any]:
  """Runs in a fresh process: one metric on n x n random features."""
  from compare_gan2.metrics import knn_manifolds  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(n)
  real = rng.standard_normal((n, dim), dtype=np.float32)
  fake = rng.standard_normal((n, dim), dtype=np.float32) * 1.1 + 0.05
  rss_features = _rss_mb()
  fn = {"precision_recall": knn_manifolds.improved_precision_recall,
        "density_coverage": knn_manifolds.density_coverage}[metric]
  start = time.perf_counter()
  values = fn(real, fake, dtype=dtype)
  seconds = time.perf_counter() - start
  return {"n": n, "dim": dim, "dtype": dtype, "metric": metric,
          "seconds": round(seconds, 2), "values": [round(v, 6) for v in values],
          "rss_features_mb": round(rss_features),
          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def time_prdc(sizes: list[int], dim: int, dtypes: list[str],
              max_seconds: float) -> list[dict[str, Any]]:
  """A row per (dtype, size, metric); sizes that would not fit in what is
  left of `max_seconds` (N^2 extrapolation) are recorded, not run."""
  began = time.perf_counter()
  rows: list[dict[str, Any]] = []
  ctx = multiprocessing.get_context("spawn")
  for dtype in dtypes:
    last: dict[str, tuple[int, float]] = {}
    for n in sorted(sizes):
      for metric in PRDC_METRICS:
        left = max_seconds - (time.perf_counter() - began)
        estimate = None
        if metric in last:
          n0, t0 = last[metric]
          estimate = t0 * (n / n0) ** 2
        if (estimate or 0) > left or left < 10:
          rows.append({"n": n, "dim": dim, "dtype": dtype, "metric": metric,
                       "skipped": True, "extrapolated_s": estimate and round(estimate)})
          log(f"  {metric} {dtype} n={n}: not run, ~{estimate} s, {left:.0f} s left")
          continue
        with ctx.Pool(1) as pool:
          try:
            row = pool.apply_async(_prdc_child, (n, dim, dtype, metric)).get(
                timeout=max(left, 1))
          except multiprocessing.TimeoutError:
            row = {"n": n, "dim": dim, "dtype": dtype, "metric": metric,
                   "skipped": True, "timed_out_after_s": round(left)}
        rows.append(row)
        log(f"  {row}")
        if "seconds" in row:
          last[metric] = (n, row["seconds"])
  return rows


def prdc_table(rows: list[dict[str, Any]]) -> list[str]:
  """The k-NN manifold metric rows as markdown lines."""
  lines = ["| metric | N real = N fake | dim | distances | wall s | peak RSS MB "
           "| RSS with features MB |", "|---|---|---|---|---|---|---|"]
  for r in rows:
    if r.get("skipped"):
      why = (f"stopped after {r['timed_out_after_s']} s" if "timed_out_after_s" in r
             else "not run: budget spent" if r["extrapolated_s"] is None
             else f"not run: ~{r['extrapolated_s']} s extrapolated (N^2)")
      lines.append(f"| {r['metric']} | {r['n']} | {r['dim']} | {r['dtype']} | {why} | | |")
    else:
      lines.append(f"| {r['metric']} | {r['n']} | {r['dim']} | {r['dtype']} | "
                   f"{r['seconds']} | {r['peak_rss_mb']} | {r['rss_features_mb']} |")
  return lines


# --- Inception extraction ---------------------------------------------------------


def _train_speed():
  """benchmarks/train_speed.py (matmul rates, FLOP counter, load limit)."""
  if HERE not in sys.path:
    sys.path.insert(0, HERE)
  import train_speed  # pylint: disable=g-import-not-at-top
  return train_speed


def log(message: str) -> None:
  print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def inception_model() -> tuple[Any, str]:
  """(model, weights description): the real FID Inception where found,
  else fixed-seed random weights (same FLOPs and speed)."""
  from compare_gan2.metrics import inception  # pylint: disable=g-import-not-at-top
  try:
    return inception.get_inception(), "real (FID Inception 2015-12-05)"
  except FileNotFoundError:
    return inception.random_inception(seed=0), (
        "random (no Inception weights found; random_inception(seed=0): "
        "speed and FLOPs are those of the real network, the FID effect of "
        "bfloat16 is not)")


def smooth_images(n: int, size: int, seed: int) -> np.ndarray:
  """[n, size, size, 3] in [0, 1]: random low-frequency images (8x8 noise
  upsampled), a stand-in for photos or GAN samples."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  coarse = np.random.RandomState(seed).rand(n, 8, 8, 3).astype(np.float32)
  return tf.image.resize(coarse, [size, size], "bicubic").numpy().clip(0, 1)


def best_of(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
  """Best-of-`repeats` seconds of each call, the calls interleaved (one
  warm-up call each first), so that a change of load hits all alike."""
  for name, call in calls.items():
    start = time.perf_counter()
    call()
    log(f"  {name} warm-up: {time.perf_counter() - start:.2f} s")
  times: dict[str, list[float]] = {name: [] for name in calls}
  for r in range(repeats):
    for name, call in calls.items():
      start = time.perf_counter()
      call()
      times[name].append(time.perf_counter() - start)
    log(f"  repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
  return {name: min(v) for name, v in times.items()}


def fid_effect(model: Any, num: int, size: int, batch_size: int,
               dim: int | None = None) -> dict[str, Any]:
  """FID from float32 vs bfloat16 features for two pairs of image sets: a
  far pair (two sets of random images) and a near pair (images vs the same
  images with +-2/255 noise); the relative difference of each. `dim`: only
  the first `dim` features enter FID (--quick: the 2048-d eigenproblem
  dominates a smoke run)."""
  from compare_gan2.metrics import inception  # pylint: disable=g-import-not-at-top
  a = smooth_images(num, size, seed=1)
  pairs = {"far": (a, smooth_images(num, size, seed=2)),
           "near": (a, np.clip(a + np.random.RandomState(3).uniform(
               -2 / 255, 2 / 255, a.shape).astype(np.float32), 0, 1))}
  feats: dict[str, np.ndarray] = {}
  out: dict[str, Any] = {"images_per_set": num, "dim": dim or inception.POOL3_DIM}
  for dtype in ("float32", "bfloat16"):
    for key, x in (("a", a), ("far", pairs["far"][1]), ("near", pairs["near"][1])):
      feats[f"{key}_{dtype}"] = inception.extract(
          model, x, batch_size=batch_size, compute_dtype=dtype)["pool_3"][:, :dim]
  f32, bf = feats["a_float32"], feats["a_bfloat16"]
  out["feature_max_rel_error"] = float(np.abs(bf - f32).max() / np.abs(f32).max())
  worst = 0.0
  for pair in ("far", "near"):
    fid32 = frechet_distance(feats["a_float32"], feats[f"{pair}_float32"])
    fid16 = frechet_distance(feats["a_bfloat16"], feats[f"{pair}_bfloat16"])
    rel = abs(fid16 - fid32) / abs(fid32)
    worst = max(worst, rel)
    out[pair] = {"fid_float32": float(fid32), "fid_bfloat16": float(fid16),
                 "relative_difference": float(rel)}
  out["within_tolerance"] = bool(worst <= BF16_FID_TOLERANCE)
  out["tolerance"] = BF16_FID_TOLERANCE
  return out


def time_inception(num: int = 128, batch_size: int = 64, image_size: int = 64,
                   net_batch_sizes: tuple[int, ...] = (16, 32, 64), repeats: int = 3,
                   fid_images: int = 256, fid_dim: int | None = None,
                   load_start: float | None = None) -> dict[str, Any]:
  """The Inception record (see the module doc). `load_start`: the load
  average before this script's first timing (default: now)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from compare_gan2.metrics import inception  # pylint: disable=g-import-not-at-top
  ts = _train_speed()
  rec: dict[str, Any] = {"images": num, "batch_size": batch_size,
                         "image_size": image_size, "repeats": repeats,
                         "load_start": round(os.getloadavg()[0] if load_start is None
                                             else load_start, 2)}
  cpu_start = ts.cpu_seconds()
  log("matmul rates")
  start_rates = ts.matmul_rates()
  model, rec["weights"] = inception_model()
  flops, _ = ts.count_flops(lambda v: model(v)["pool_3"],
                            tf.zeros([1, inception.INCEPTION_SIZE,
                                      inception.INCEPTION_SIZE, 3]))
  rec["gflop_per_image"] = round(flops / 1e9, 3)
  images = smooth_images(num, image_size, seed=0)

  # Network alone on pre-scaled inputs, per batch size and format.
  rng = np.random.RandomState(0)
  calls: dict[str, Callable[[], Any]] = {}
  for b in net_batch_sizes:
    x = tf.constant(rng.uniform(-1, 1, [b, 299, 299, 3]).astype(np.float32))
    for dtype in inception.COMPUTE_DTYPES:
      fn = tf.function(lambda v, d=dtype: model(v, compute_dtype=d)["pool_3"])
      calls[f"network_{dtype}_b{b}"] = lambda fn=fn, x=x: fn(x).numpy()
  raw = tf.constant(images[:batch_size])
  prep = tf.function(inception.preprocess)
  calls[f"preprocess_b{batch_size}"] = lambda: prep(raw).numpy()
  for dtype in inception.COMPUTE_DTYPES:
    calls[f"extract_{dtype}"] = lambda d=dtype: inception.extract(
        model, images, batch_size=batch_size, compute_dtype=d)
  # What every call paid before extract cached its trace.
  cache = inception._EXTRACT_FNS  # pylint: disable=protected-access

  def extract_traced():
    saved = cache.pop(model, None)  # forget the traced functions for one call
    inception.extract(model, images, batch_size=batch_size)
    if saved is not None:
      cache[model] = saved
  calls["extract_float32_with_trace"] = extract_traced
  log(f"timing {len(calls)} variants, best of {repeats}")
  best = best_of(calls, repeats)
  # The machine's limit: the better of the rates measured before and after.
  end_rates = ts.matmul_rates()
  rates = {k: max(start_rates[k], end_rates[k]) for k in ("tf_gflops", "tf_bf16_gflops")}
  rec["matmul_tf_gflops"] = round(rates["tf_gflops"], 1)
  rec["matmul_tf_bf16_gflops"] = round(rates["tf_bf16_gflops"], 1)

  def rate(seconds: float, n: int, dtype: str = "float32") -> dict[str, float]:
    gflops = flops * n / seconds / 1e9
    return {"seconds": round(seconds, 3), "images_per_sec": round(n / seconds, 2),
            "gflops": round(gflops, 1),
            "share_of_f32_matmul": round(gflops / rates["tf_gflops"], 3),
            **({"share_of_bf16_matmul": round(gflops / rates["tf_bf16_gflops"], 3)}
               if dtype == "bfloat16" else {})}

  rec["network"] = {name.removeprefix("network_"): rate(t, int(name.rsplit("_b", 1)[1]),
                                                        name.split("_")[1])
                    for name, t in best.items() if name.startswith("network_")}
  # Padded batches: the network runs on ceil(num / batch) * batch images.
  padded = -(-num // batch_size) * batch_size
  for dtype in inception.COMPUTE_DTYPES:
    r = rate(best[f"extract_{dtype}"], num, dtype)
    r["images_run_padded"] = padded
    rec[f"extract_{dtype}"] = r
  rec["extract_float32_with_trace"] = rate(best["extract_float32_with_trace"], num)
  t_prep = best[f"preprocess_b{batch_size}"]
  rec["preprocess_seconds_per_batch"] = round(t_prep, 4)
  rec["preprocess_share"] = round(
      t_prep * padded / batch_size / best["extract_float32"], 4)
  rec["bf16_speedup"] = round(best["extract_float32"] / best["extract_bfloat16"], 2)
  log("bfloat16 effect on FID")
  rec["bf16_fid"] = fid_effect(model, fid_images, image_size, batch_size, fid_dim)
  rec["load_end"] = round(os.getloadavg()[0], 2)
  others = ts.others_cpu_share(cpu_start)
  rec["others_cpu_share"] = None if others is None else round(others, 3)
  rec["loaded"] = (rec["load_start"] > ts.load_limit()
                   or (others is not None and others > ts.OTHERS_CPU_LIMIT))
  return rec


def inception_table(rec: dict[str, Any]) -> list[str]:
  """The Inception record as markdown lines."""
  if not isinstance(rec, dict):
    return [f"Inception: {rec}"]
  lines = [f"Inception extraction: {rec['images']} images of {rec['image_size']} px, "
           f"batch {rec['batch_size']}, weights {rec['weights'].split(' (')[0]}; "
           f"{rec['gflop_per_image']} GFLOP/image; TF matmul 2048^2: "
           f"{rec['matmul_tf_gflops']} GFLOP/s float32, {rec['matmul_tf_bf16_gflops']} "
           f"bfloat16 (best of before and after); load average {rec['load_start']} -> {rec['load_end']}"
           + (f", other processes {rec['others_cpu_share']:.0%} of the CPU"
              if rec.get("others_cpu_share") is not None else "")
           + (" (LOADED: not a record)" if rec["loaded"] else "") + ".", "",
           "| what | images/s | GFLOP/s | share of f32 matmul | share of bf16 matmul |",
           "|---|---|---|---|---|"]
  rows = [(f"extract float32 (batch {rec['batch_size']})", rec["extract_float32"]),
          (f"extract bfloat16 (batch {rec['batch_size']})", rec["extract_bfloat16"]),
          ("extract float32, tracing included (before: every call)",
           rec["extract_float32_with_trace"])]
  rows += [(f"network alone, {k.replace('_b', ', batch ')}", v)
           for k, v in rec["network"].items()]
  for name, r in rows:
    bf16 = r.get("share_of_bf16_matmul")
    lines.append(f"| {name} | {r['images_per_sec']} | {r['gflops']} | "
                 f"{r['share_of_f32_matmul']:.0%} | "
                 f"{'' if bf16 is None else f'{bf16:.0%}'} |")
  fid = rec["bf16_fid"]
  lines += ["", f"Preprocessing (quantise, resize to 299, scale): "
            f"{rec['preprocess_share']:.1%} of extract. bfloat16 speed-up of extract: "
            f"{rec['bf16_speedup']}x.", "",
            f"bfloat16 vs float32 FID ({fid['images_per_set']} images per set, "
            f"{fid['dim']}-d): far pair "
            f"{fid['far']['fid_float32']:.4g} vs {fid['far']['fid_bfloat16']:.4g} "
            f"(relative {fid['far']['relative_difference']:.2g}), near pair "
            f"{fid['near']['fid_float32']:.4g} vs {fid['near']['fid_bfloat16']:.4g} "
            f"(relative {fid['near']['relative_difference']:.2g}); tolerance "
            f"{fid['tolerance']:g}: {'within' if fid['within_tolerance'] else 'NOT within'}"
            + (" (random weights: not evidence for the real network)"
               if rec["weights"].startswith("random") else "") + "."]
  return lines


def markdown(record: dict[str, Any]) -> str:
  lines = [f"# metrics_speed ({record['date']}, {record['cpus']} CPUs, "
           f"{record['machine']}{', QUICK smoke run' if record.get('quick') else ''})", ""]
  if record.get("fid"):
    lines += ["| FID samples | dim | eigenvalue route s | scipy sqrtm s | speed-up |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['n']} | {r['dim']} | {r['fid_eig_s']} | {r['fid_sqrtm_s']} | {r['speedup']} |"
              for r in record["fid"]]
    lines.append("")
  if "inception" in record:
    lines += inception_table(record["inception"])
  if record.get("prdc"):
    lines += [f"k-NN manifold metrics (precision_recall k = 3, density_coverage k = 5), "
              f"float32 features; load average {record['load_start']} -> "
              f"{record['load_end']} (`uptime`: {record['uptime']}); command: "
              f"`{record['command']}`.", ""] + prdc_table(record["prdc"]) + [""]
    if record.get("note"):
      lines += [f"Note: {record['note']}", ""]
  return "\n".join(lines) + "\n"


def latest_markdown(records: list[dict[str, Any]]) -> str:
  """The newest record, and below it the newest earlier record of each
  section (FID, Inception, k-NN metrics) that the newest one lacks."""
  parts = [markdown(records[-1])]
  for key in ("fid", "inception", "prdc"):
    if records[-1].get(key):
      continue
    earlier = [r for r in records[:-1] if r.get(key)]
    if earlier:
      keep = {k: v for k, v in earlier[-1].items()
              if k not in {"fid", "inception", "prdc"} - {key}}
      parts.append(markdown(keep))
  return "\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 50000])
  parser.add_argument("--dim", type=int, default=2048, help="feature dimension of the FID timing")
  parser.add_argument("--skip_fid", action="store_true")
  parser.add_argument("--skip_inception", action="store_true")
  parser.add_argument("--images", type=int, default=128,
                      help="images per timed extract call")
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--net_batch_sizes", type=int, nargs="+", default=[16, 32, 64, 128])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--fid_images", type=int, default=256,
                      help="images per set for the bfloat16 FID effect")
  parser.add_argument("--fid_dim", type=int, default=None,
                      help="features entering that FID (default all 2048)")
  parser.add_argument("--prdc_sizes", type=int, nargs="*", default=[],
                      help="N of the k-NN manifold metric timings (none: skip)")
  parser.add_argument("--prdc_dim", type=int, default=2048)
  parser.add_argument("--prdc_dtypes", nargs="+", default=["float32", "float64"],
                      choices=["float32", "float64"])
  parser.add_argument("--prdc_max_seconds", type=float, default=540,
                      help="time budget of all k-NN manifold metric timings")
  parser.add_argument("--quick", action="store_true",
                      help="smoke test: tiny sizes (not a record)")
  parser.add_argument("--out", default=RESULTS, help="directory of the results")
  args = parser.parse_args(argv)
  if args.quick:
    args.sizes, args.dim, args.images, args.batch_size = [500], 64, 3, 2
    args.net_batch_sizes, args.repeats, args.fid_images, args.fid_dim = [2], 1, 4, 16
    if args.prdc_sizes:
      args.prdc_sizes, args.prdc_dim = [50, 100], 16
  return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
  args = parse_args(argv)
  load_start = os.getloadavg()[0]  # before the FID timings load the CPU themselves
  record: dict[str, Any] = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(),
                            "machine": platform.machine(), "quick": args.quick, "fid": [],
                            "command": " ".join(["python benchmarks/metrics_speed.py",
                                                 *(sys.argv[1:] if argv is None else argv)]),
                            "load_start": round(load_start, 2),
                            "uptime": subprocess.run(["uptime"], capture_output=True,
                                                     text=True).stdout.strip()}
  if args.prdc_sizes:
    log(f"k-NN manifold metrics: sizes {args.prdc_sizes}, {args.prdc_dtypes}")
    record["prdc"] = time_prdc(args.prdc_sizes, args.prdc_dim, args.prdc_dtypes,
                               args.prdc_max_seconds)
  if not args.skip_fid:
    for n in args.sizes:
      record["fid"].append(time_fid(n, args.dim))
      print(record["fid"][-1], flush=True)
  if not args.skip_inception:
    record["inception"] = time_inception(
        args.images, args.batch_size, net_batch_sizes=tuple(args.net_batch_sizes),
        repeats=args.repeats, fid_images=args.fid_images, fid_dim=args.fid_dim,
        load_start=load_start)
    print(json.dumps(record["inception"], indent=1), flush=True)
  record["load_end"] = round(os.getloadavg()[0], 2)
  print(markdown(record))
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, "metrics_speed.json")
  records = json.load(open(path)) if os.path.exists(path) else []
  records.append(record)
  text = latest_markdown(records)
  with open(path, "w") as f:
    json.dump(records, f, indent=2)
  with open(os.path.join(args.out, "metrics_speed.md"), "w") as f:
    f.write(text)
  return record


if __name__ == "__main__":
  main()
