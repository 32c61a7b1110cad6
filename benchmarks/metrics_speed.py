"""Speed of the evaluation pieces: FID (eigenvalue route vs the
scipy.linalg.sqrtm formula) on 2048-d features of 10k and 50k samples, and
FID Inception feature extraction in images/s (where weights are available).

  python benchmarks/metrics_speed.py [--sizes 10000 50000] [--skip_inception]

Appends a record to benchmarks/results/metrics_speed.json.
"""

import argparse
import datetime
import json
import os
import platform
import time

import numpy as np
import scipy.linalg

from compare_gan2.metrics import frechet_distance

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


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


def time_inception(num: int = 256) -> dict:
  from compare_gan2.metrics import inception
  model = inception.get_inception()
  images = np.random.RandomState(0).rand(num, 64, 64, 3).astype(np.float32)
  inception.extract(model, images[:64])  # trace
  start = time.perf_counter()
  inception.extract(model, images, batch_size=64)
  return {"images": num, "images_per_sec": round(num / (time.perf_counter() - start), 1)}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 50000])
  parser.add_argument("--skip_inception", action="store_true")
  args = parser.parse_args()
  record = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(),
            "machine": platform.machine(), "fid": []}
  for n in args.sizes:
    record["fid"].append(time_fid(n))
    print(record["fid"][-1], flush=True)
  if not args.skip_inception:
    try:
      record["inception"] = time_inception()
    except FileNotFoundError as e:
      record["inception"] = f"skipped: {str(e).splitlines()[0]}"
    print(record["inception"])
  os.makedirs(RESULTS, exist_ok=True)
  path = os.path.join(RESULTS, "metrics_speed.json")
  records = json.load(open(path)) if os.path.exists(path) else []
  records.append(record)
  with open(path, "w") as f:
    json.dump(records, f, indent=2)


if __name__ == "__main__":
  main()
