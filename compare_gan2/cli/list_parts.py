"""`compare_gan2 list [KIND]`: the registered parts (compare_gan2/registry.py).

  compare_gan2 list                 # every kind with its names
  compare_gan2 list architecture    # each name with the first line of its doc
"""

from __future__ import annotations

import argparse
import difflib

from compare_gan2.registry import REGISTRIES  # gin only, no TensorFlow


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("kind", nargs="?", default=None,
                 help=f"One of {', '.join(REGISTRIES)} (default: every kind).")


def listing(kind: str | None = None) -> str:
  """Without `kind`: each kind and its names; with one: each name of that
  kind and its one-line summary, aligned. Raises KeyError for an unknown
  kind, naming the close matches."""
  import compare_gan2  # pylint: disable=g-import-not-at-top
  if kind is not None and kind not in REGISTRIES:
    close = difflib.get_close_matches(kind, REGISTRIES, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(f"Unknown kind '{kind}'.{hint} The kinds: {', '.join(REGISTRIES)}.")
  compare_gan2.register_all()
  if kind is None:
    width = max(len(k) for k in REGISTRIES)
    return "\n".join(f"{k:<{width}}  {', '.join(r.names())}" for k, r in REGISTRIES.items())
  registry = REGISTRIES[kind]
  names = registry.names()
  width = max((len(n) for n in names), default=0)
  return "\n".join(f"{n:<{width}}  {registry.summary(n)}".rstrip() for n in names)


def run(args: argparse.Namespace) -> None:
  print(listing(args.kind))
