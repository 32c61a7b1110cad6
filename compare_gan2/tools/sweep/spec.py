"""A sweep's spec (TOML) and its trials: `load_spec`, `expand`, `Trial`, and
the few file operations of a sweep (a local path or gs:// through
tf.io.gfile). The spec's keys are described in the package docstring."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import socket
import sys
import tempfile
import tomllib
from typing import Any

from compare_gan2.core import console, files
from compare_gan2.core.checks import is_int
from compare_gan2.core.config_files import CONFIG_DIR, resolve_config

DONE = "sweep_done.json"
SPEC_KEYS = {"configs", "bindings", "seeds", "grid", "variants", "schedule",
             "metrics", "options", "ray", "score_last"}
# The spec's [ray] table: the Ray backend's flags without their dashes.
RAY_KEYS = {"num_cpus_per_trial", "num_gpus_per_trial", "resources", "max_retries"}


def is_remote(path: str) -> bool:
  """A path TensorFlow's file systems open (gs://...), not the local one."""
  return "://" in path


def gfile() -> Any:
  console.import_tensorflow_quietly()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


# The few file operations of a sweep, on a local path or through tf.io.gfile.
def exists(path: str) -> bool:
  return gfile().exists(path) if is_remote(path) else os.path.exists(path)


def makedirs(path: str) -> None:
  if is_remote(path):
    gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def read_text(path: str) -> str:
  if is_remote(path):
    with gfile().GFile(path, "r") as f:
      return f.read()
  with open(path) as f:
    return f.read()


def write_text(path: str, text: str) -> None:
  if is_remote(path):
    with gfile().GFile(path, "w") as f:
      f.write(text)
  else:
    files.write_text(path, text)


def write_json(path: str, obj: Any) -> None:
  if is_remote(path):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
  else:
    files.write_json(path, obj)


class OutputNotWritable(OSError):
  """A trial's process cannot write the sweep directory."""


def check_writable(out: str) -> None:
  """Raises OutputNotWritable (one line) unless this process can create and
  delete a file in the sweep directory `out`: every worker of a distributed
  sweep must reach the same directory."""
  probe = os.path.join(out, f".probe-{socket.gethostname()}-{os.getpid()}")
  try:
    makedirs(out)
    write_text(probe, "")
    if is_remote(probe):
      gfile().remove(probe)
    else:
      os.remove(probe)
  except Exception as e:  # pylint: disable=broad-except
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise OutputNotWritable(
        f"Host {socket.gethostname()} cannot write the sweep directory {out} "
        f"({reason}); --out must be a shared file system path or a gs:// path "
        "that every worker can write.") from e


@dataclasses.dataclass(frozen=True)
class Trial:
  """One run of a sweep: a config (gin files and bindings) and a seed."""
  config: str  # the name shared by the seeds of one configuration
  seed: int
  gin_configs: tuple[str, ...]
  bindings: tuple[str, ...]
  model_dir: str
  schedule: str = "eval_after_train"
  options: tuple[str, ...] = ()  # further `compare_gan2` flags
  hparams: tuple[tuple[str, Any], ...] = ()  # (name, value) of its grid point
  score_last: int = 1  # its final scores: the mean over this many last checkpoints

  def command(self) -> list[str]:
    """The command line that runs this trial (where `python` runs it)."""
    command = [sys.executable, "-m", "compare_gan2", "--model_dir", self.model_dir,
               "--schedule", self.schedule]
    for path in self.gin_configs:
      command += ["--gin_config", path]
    for binding in self.bindings + (f"run_config.tf_random_seed = {self.seed}",):
      command += ["--gin_bindings", binding]
    return command + list(self.options)

  @property
  def sweep_dir(self) -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(self.model_dir)))

  @property
  def workdir(self) -> str:
    """Where the trial runs: the sweep directory, so that relative paths in
    bindings (a label file) mean the same to every trial (a remote sweep runs
    in the temporary directory: its bindings need absolute paths)."""
    return tempfile.gettempdir() if is_remote(self.model_dir) else self.sweep_dir

  @property
  def done(self) -> bool:
    return exists(os.path.join(self.model_dir, DONE))

  @property
  def name(self) -> str:
    return f"{self.config} seed {self.seed}"


def load_spec(path: str) -> dict[str, Any]:
  """The sweep spec at `path` (a file, or a spec shipped in configs/sweeps)."""
  if not os.path.isfile(path):
    name = path if path.endswith(".toml") else path + ".toml"
    shipped = os.path.join(CONFIG_DIR, "sweeps", os.path.basename(name))
    if not os.path.exists(shipped):
      names = sorted(f[:-5] for f in os.listdir(os.path.dirname(shipped))
                     if f.endswith(".toml"))
      raise FileNotFoundError(f"No sweep spec '{path}': not a file, and not one of "
                              f"the shipped specs: {', '.join(names)}.")
    path = shipped
  with open(path, "rb") as f:
    try:
      spec = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
      raise ValueError(f"Sweep spec {path} is not valid TOML: {e}") from e
  unknown = set(spec) - SPEC_KEYS
  if unknown:
    raise ValueError(f"Sweep spec {path}: unknown key(s) {sorted(unknown)}; "
                     f"a spec has {sorted(SPEC_KEYS)}.")
  if not spec.get("configs") and not all(v.get("configs") for v in
                                         spec.get("variants", [{}])):
    raise ValueError(f"Sweep spec {path} names no `configs`.")
  score_last = spec.get("score_last", 1)
  if not is_int(score_last, 1):
    raise ValueError(f"Sweep spec {path}: `score_last` must be a positive integer; "
                     f"got {score_last!r}.")
  return spec


def _gin_value(value: Any) -> str:
  return value if isinstance(value, str) else repr(value)


def _label(key: str, value: Any) -> str:
  text = str(value).strip("'\"@") or "none"
  return f"{key.split('.')[0]}={text}" if key.endswith(".fn") else f"{key}={text}"


def safe_name(name: str) -> str:
  return re.sub(r"[^A-Za-z0-9._=+,-]+", "_", name)


def expand(spec: dict[str, Any], out: str) -> list[Trial]:
  """The trials of `spec`, seed-major (a partial sweep covers every config)."""
  seeds = spec.get("seeds", [0])
  grid = spec.get("grid", {})
  for key, values in grid.items():
    if not isinstance(values, list) or not values:
      raise ValueError(f"Sweep grid '{key}' must be a non-empty list; got {values!r}.")
  variants = spec.get("variants") or [{}]
  names = [v.get("name") for v in variants]
  if len(variants) > 1 and (None in names or len(set(names)) < len(names)):
    raise ValueError("Sweep variants need distinct `name`s; got "
                     f"{names}.")
  out = out if is_remote(out) else os.path.abspath(out)
  configs = spec.get("configs") or [[]]
  points = list(itertools.product(*grid.values()))
  groups = []
  for config_name in configs:
    gin_files = [resolve_config(c) for c in
                 (config_name if isinstance(config_name, list) else [config_name])]
    for variant in variants:
      extra = [resolve_config(c) for c in variant.get("configs", [])]
      if not gin_files + extra:
        raise ValueError("Every trial needs a gin config: name `configs`, or "
                         "`configs` in every variant.")
      for point in points:
        parts, hparams = [], []
        if len(configs) > 1 and gin_files:
          parts.append(os.path.splitext(os.path.basename(gin_files[-1]))[0])
          hparams.append(("gin_config", parts[-1]))
        if variant.get("name"):
          parts.append(variant["name"])
          hparams.append(("variant", variant["name"]))
        parts += [_label(k, v) for k, v in zip(grid, point)]
        hparams += [(k, v if isinstance(v, (bool, int, float, str)) else str(v))
                    for k, v in zip(grid, point)]
        bindings = (list(spec.get("bindings", [])) + list(variant.get("bindings", []))
                    + [f"{k} = {_gin_value(v)}" for k, v in zip(grid, point)])
        groups.append((safe_name(",".join(parts) or "default"),
                       tuple(gin_files + extra), tuple(bindings), tuple(hparams)))
  if len({g[0] for g in groups}) < len(groups):
    raise ValueError("Two configurations of the sweep got the same name.")
  schedule = spec.get("schedule", "eval_after_train")
  options = tuple(spec.get("options", []))
  return [Trial(name, seed, files, bindings,
                os.path.join(out, "trials", name, f"seed{seed}"), schedule, options,
                hparams, spec.get("score_last", 1))
          for seed in seeds for name, files, bindings, hparams in groups]
