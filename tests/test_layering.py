"""The package's layering (docs/layers.md): every module of compare_gan2 sits
in one layer and imports only from layers below it or its own, and no two
modules import each other, directly or around a loop.

The imports are read with `ast`, not by importing: module-level imports and
imports inside functions alike (an import hidden in a function is an edge
all the same), `from . import x`, and `importlib.import_module("compare_gan2.
...")` with a literal name. Importing `a.b.c` also runs the package
`__init__` files of `a.b` (unless the importer is inside them already), so
those count as edges too.
"""

from __future__ import annotations

import ast
import os

import pytest

PACKAGE = "compare_gan2"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)

# The layer table of docs/layers.md: one line per folder of the package (a
# folder's entry covers its modules; the longest match wins).
LAYERS = {
    "compare_gan2.core": 1,  # registries, gin wiring and options, files, randomness
    "compare_gan2.ops": 2, "compare_gan2.data": 2, "compare_gan2.losses": 2,
    "compare_gan2.augment": 2,
    "compare_gan2.architectures": 3, "compare_gan2.penalties": 3, "compare_gan2.metrics": 3,
    "compare_gan2.gans": 4,
    "compare_gan2.runner": 5,
    "compare_gan2.tools": 6,  # hub, sample, score, sweep/, labels/
    "compare_gan2.cli": 7, "compare_gan2.__main__": 7,
}

# Modules whose imports are not checked, each with why.
EXEMPT = {
    # `register_all()` imports every registering module on demand (lazily,
    # so that `import compare_gan2` stays light); the package root belongs to
    # no layer. Edges *to* it are ignored as well: importing any submodule
    # runs it first anyway.
    "compare_gan2": "the package root: lazy register_all() and parse_gin()",
}

def _modules() -> dict[str, str]:
  """{module name: file path} of every module of the package."""
  found = {}
  for directory, dirs, names in os.walk(ROOT):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
    for name in names:
      if not name.endswith(".py"):
        continue
      rel = os.path.relpath(os.path.join(directory, name), os.path.dirname(ROOT))
      parts = rel[:-3].split(os.sep)
      if parts[-1] == "__init__":
        parts = parts[:-1]
      found[".".join(parts)] = os.path.join(directory, name)
  return found


MODULES = _modules()


def _is_package(module: str) -> bool:
  return MODULES[module].endswith("__init__.py")


def _resolve(module: str, name: str | None, level: int) -> str | None:
  """The absolute name of `from <level dots><name> import ...` in `module`."""
  if level == 0:
    return name
  base = module.split(".") if _is_package(module) else module.split(".")[:-1]
  base = base[:len(base) - (level - 1)]
  return ".".join(base + ([name] if name else []))


def _targets(module: str, tree: ast.AST) -> list[tuple[str, int]]:
  """(imported module of the package, line) for every import in `tree`."""
  out = []

  def add(name: str | None, line: int) -> None:
    if name and (name == PACKAGE or name.startswith(PACKAGE + ".")):
      # `import a.b.c` of a name that is not a module: its package.
      while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
      out.append((name, line))

  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        add(alias.name, node.lineno)
    elif isinstance(node, ast.ImportFrom):
      base = _resolve(module, node.module, node.level)
      for alias in node.names:
        full = f"{base}.{alias.name}"
        add(full if full in MODULES else base, node.lineno)
    elif isinstance(node, ast.Call):
      func = node.func
      fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
      if fname in ("import_module", "__import__") and node.args and isinstance(
          node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        add(node.args[0].value, node.lineno)
  return out


def _edges() -> dict[tuple[str, str], str]:
  """{(importer, imported): "file:line" of the first such import}, with the
  package __init__ files an import runs; the root left out."""
  edges = {}
  for module, path in sorted(MODULES.items()):
    if module in EXEMPT:
      continue
    with open(path) as f:
      tree = ast.parse(f.read(), path)
    own_packages = {".".join(module.split(".")[:i])
                    for i in range(1, module.count(".") + 1 + _is_package(module))}
    for target, line in _targets(module, tree):
      parts = target.split(".")
      chain = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
      for imported in chain:
        if imported == module or imported in own_packages or imported in EXEMPT:
          continue
        where = f"{os.path.relpath(path, os.path.dirname(ROOT))}:{line}"
        if imported != target:
          where += f" (runs the package __init__ of {imported})"
        edges.setdefault((module, imported), where)
  return edges


def layer_of(module: str) -> int | None:
  best = None
  for name, layer in LAYERS.items():
    if module == name or module.startswith(name + "."):
      if best is None or len(name) > len(best[0]):
        best = (name, layer)
  return best[1] if best else None


def test_every_module_has_a_layer():
  missing = [m for m in MODULES if m not in EXEMPT and layer_of(m) is None]
  assert not missing, (f"Modules with no layer: {missing}. Add them to LAYERS "
                       "here and to the table of docs/layers.md.")


def test_no_import_of_a_higher_layer():
  upward = [f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)}) at {where}"
            for (a, b), where in sorted(_edges().items())
            if layer_of(b) is not None and layer_of(b) > layer_of(a)]
  assert not upward, "Imports of a higher layer:\n" + "\n".join(upward)


def _cycles(edges: dict[tuple[str, str], str]) -> list[list[str]]:
  """Strongly connected components with more than one module (Tarjan)."""
  graph: dict[str, list[str]] = {}
  for a, b in edges:
    graph.setdefault(a, []).append(b)
  index, low, stack, on_stack, out = {}, {}, [], set(), []

  def visit(v: str) -> None:
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in graph.get(v, []):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def test_no_import_cycles():
  edges = _edges()
  messages = []
  for component in _cycles(edges):
    inside = [f"  {a} -> {b} at {w}" for (a, b), w in sorted(edges.items())
              if a in component and b in component]
    messages.append(f"Cycle among {component}:\n" + "\n".join(inside))
  assert not messages, "\n".join(messages)


def test_the_cycle_check_finds_a_cycle():
  edges = {("a", "b"): "", ("b", "c"): "", ("c", "a"): "", ("c", "d"): ""}
  assert _cycles(edges) == [["a", "b", "c"]]


def test_function_level_and_relative_imports_are_edges():
  tree = ast.parse("def f():\n  from compare_gan2.runner import train\n"
                   "from . import batching\n"
                   "import importlib\nimportlib.import_module('compare_gan2.tools.hub')\n")
  targets = {t for t, _ in _targets("compare_gan2.core.config", tree)}
  assert targets == {"compare_gan2.runner.train", "compare_gan2.core.batching",
                     "compare_gan2.tools.hub"}


def _imported_names(tree: ast.AST) -> list[tuple[str, str, int]]:
  """(module, name, line) of every `from compare_gan2... import name` that
  imports a name, not a module."""
  out = []
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.level == 0 and (
        node.module or "").startswith(PACKAGE):
      for alias in node.names:
        if f"{node.module}.{alias.name}" not in MODULES:
          out.append((node.module, alias.asname or alias.name, node.lineno))
  return out


def _used_names(tree: ast.AST) -> set[str]:
  return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def re_exports(source: str) -> list[str]:
  """Names a module imports from the package without using them: a
  re-export (an old path kept for a moved name). Package __init__ files may
  name their package's public face; other modules may not."""
  tree = ast.parse(source)
  used = _used_names(tree)
  return [f"{name} (from {module}, line {line})"
          for module, name, line in _imported_names(tree) if name not in used]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _is_package(m)))
def test_no_re_exports(module):
  with open(MODULES[module]) as f:
    found = re_exports(f.read())
  assert not found, (f"{module} imports without using: {found}. Import a name "
                     "from its home module; no module keeps an old path.")


def test_the_re_export_check_finds_one():
  source = ("from compare_gan2.core.config_files import resolve_config  # noqa: F401\n"
            "from compare_gan2.core.registry import GANS\nGANS.names()\n")
  assert re_exports(source) == ["resolve_config (from compare_gan2.core.config_files, line 1)"]


def test_layers_are_folders():
  """Every entry of LAYERS is a folder (or __main__), and the package root
  holds no module but __init__ and __main__."""
  assert all(_is_package(name) or name == "compare_gan2.__main__" for name in LAYERS)
  root = sorted(m for m in MODULES if m.count(".") == 1 and not _is_package(m))
  assert root == ["compare_gan2.__main__"], root
