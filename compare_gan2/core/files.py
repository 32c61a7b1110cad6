"""Files a run directory keeps: written whole or not at all (a temporary
file beside the target, then a rename), so a kill never leaves half a file."""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Sequence


def write_text(path: str, text: str) -> None:
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def write_json(path: str, obj: Any) -> None:
  write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_csv(path: str, rows: Sequence[dict[str, Any]]) -> None:
  """`rows` as a CSV whose columns are the union of the rows' keys, in order
  of first appearance."""
  fields = list(dict.fromkeys(k for r in rows for k in r))
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  os.replace(tmp, path)


def writable(directory: str) -> bool:
  """Whether files can be created in `directory` (False on read-only
  mounts and without permission; root passes permission checks)."""
  return os.access(directory, os.W_OK | os.X_OK)


def recorded_compute_dtype(model_dir: str) -> str:
  """The compute format (float32 or bfloat16) that the run's run.json
  records for its training, or "not recorded" (runs older than the record,
  or none)."""
  try:
    with open(os.path.join(model_dir, "run.json")) as f:
      return json.load(f).get("compute_dtype", "not recorded")
  except (OSError, ValueError):
    return "not recorded"
