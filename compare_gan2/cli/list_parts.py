"""`compare_gan2 list [KIND]`: the registered parts (compare_gan2/core/registry.py),
with those of your own modules.

  compare_gan2 list                 # every kind with its names
  compare_gan2 list architecture    # each name with the first line of its doc
  compare_gan2 list --module my_parts            # after importing my_parts.py
  compare_gan2 list --gin_config my_run.gin      # the gin file's `import` lines
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import os
import re
import sys
from typing import Sequence

from compare_gan2.core.config_files import resolve_config
from compare_gan2.core.registry import REGISTRIES  # gin only, no TensorFlow

# A gin `import a.b` or `from a import b` line (gin imports them when it
# parses the file, before any binding).
_GIN_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+)?import\s+([\w.]+)\s*(?:#.*)?$")


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("kind", nargs="?", default=None,
                 help=f"One of {', '.join(REGISTRIES)} (default: every kind).")
  p.add_argument("--module", action="append", default=[],
                 help="A Python module that registers parts (a name importable from "
                      "here, or a .py file), imported first; repeatable.")
  p.add_argument("--gin_config", action="append", default=[],
                 help="A gin file (or shipped config name) whose `import` lines are "
                      "imported first, as a run does; repeatable.")


def gin_imports(path: str) -> list[str]:
  """The modules the `import` lines of the gin file at `path` name."""
  with open(resolve_config(path)) as f:
    lines = f.read().splitlines()
  modules = []
  for line in lines:
    match = _GIN_IMPORT.match(line)
    if match:
      modules.append(".".join(filter(None, match.groups())))
  return modules


def _import(module: str) -> None:
  """Imports `module` (a dotted name, or a .py file) as a run would, with
  the working directory on the path; a ValueError names what failed."""
  try:
    if module.endswith(".py"):
      name = os.path.splitext(os.path.basename(module))[0]
      if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, module)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
      return
    if os.getcwd() not in sys.path:
      sys.path.insert(0, os.getcwd())
    try:
      importlib.import_module(module)
    except ModuleNotFoundError:
      if "." not in module:
        raise
      importlib.import_module(module.rsplit(".", 1)[0])  # `from a import b`: b a name
  except Exception as e:  # pylint: disable=broad-except
    if module.endswith(".py"):  # not left half-imported
      sys.modules.pop(os.path.splitext(os.path.basename(module))[0], None)
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise ValueError(f"Cannot import module '{module}': {first}") from None


def import_user_modules(modules: Sequence[str] = (), gin_configs: Sequence[str] = ()
                        ) -> None:
  """Imports `modules` and the modules the gin files' `import` lines name."""
  for path in gin_configs:
    for module in gin_imports(path):
      _import(module)
  for module in modules:
    _import(module)


def listing(kind: str | None = None) -> str:
  """Without `kind`: each kind and its names; with one: each name of that
  kind and its one-line summary, aligned (a part of a module outside the
  package shows its module first, in brackets). Raises KeyError for an
  unknown kind, naming the close matches."""
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
  package = set(registry.package_names())
  width = max((len(n) for n in names), default=0)
  rows = []
  for n in names:
    origin = "" if n in package else f"[{registry.module_of(n)}] "
    rows.append(f"{n:<{width}}  {origin}{registry.summary(n)}".rstrip())
  return "\n".join(rows)


def parts_page() -> str:
  """docs/parts.md: per kind, a table of the package's registered parts (names
  with their aliases, the first sentence of the docstring, the module),
  generated so that a new part needs no hand-written doc row."""
  import compare_gan2  # pylint: disable=g-import-not-at-top
  compare_gan2.register_all()
  out = ["# Registered parts", "",
         "Generated from the registries by `python scripts/update_parts_doc.py`; "
         "`tests/test_docs.py` fails while it lags behind them. `compare_gan2 list "
         "KIND` prints the same, with the parts of your own modules "
         "([extending.md](extending.md)).", ""]
  for kind, registry in REGISTRIES.items():
    groups: dict[int, list[str]] = {}
    for name in registry.package_names():
      groups.setdefault(id(registry.get(name)), []).append(name)
    out += [f"## {kind}", "", f"<!-- registry: {kind} -->", "| name | summary | module |",
            "|---|---|---|"]
    for names in sorted(groups.values(), key=lambda g: g[0]):
      summary = registry.summary(names[0]).replace("|", "\\|")
      out.append(f"| {', '.join(f'`{n}`' for n in names)} | {summary} | "
                 f"`{registry.module_of(names[0])}` |")
    out.append("")
  return "\n".join(out)


def run(args: argparse.Namespace) -> None:
  import compare_gan2  # pylint: disable=g-import-not-at-top
  compare_gan2.register_all()  # the package's parts before the user's (which may extend them)
  import_user_modules(args.module, args.gin_config)
  print(listing(args.kind))
