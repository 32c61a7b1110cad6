"""Where gin configs are found: a path, or the name of a config shipped in
compare_gan2/configs. Without TensorFlow or gin (the command line resolves
names before they load)."""

from __future__ import annotations

import difflib
import os

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
QUICKSTART = "quickstart.gin"  # the config of a run given none


def shipped_configs() -> list[str]:
  """The names of the shipped configs (relative to CONFIG_DIR, without
  .gin), leaving out the parts that others include: `*_base.gin`, `_*.gin`
  and `fewer_labels/methods/` (those names still resolve)."""
  return sorted(os.path.relpath(os.path.join(d, f), CONFIG_DIR)[:-4]
                for d, _, files in os.walk(CONFIG_DIR) for f in files
                if f.endswith(".gin") and not f.endswith("_base.gin")
                and not f.startswith("_") and os.path.basename(d) != "methods")


def resolve_config(path: str) -> str:
  """A gin file path, or the name of a config shipped in compare_gan2/configs
  ("resnet_cifar10" or "resnet_cifar10.gin")."""
  if os.path.exists(path):
    return path
  name = path if path.endswith(".gin") else path + ".gin"
  shipped = os.path.join(CONFIG_DIR, os.path.normpath(name))
  if os.path.exists(shipped):
    return shipped
  names = shipped_configs()
  close = difflib.get_close_matches(name[:-4], names, n=3, cutoff=0.6)
  hint = (f"Did you mean {' or '.join(repr(c) for c in close)}?" if close
          else f"The shipped configs: {', '.join(names)}.")
  raise FileNotFoundError(f"No gin config '{path}': not a file, and not one of "
                          f"the shipped configs. {hint}")
