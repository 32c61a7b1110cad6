"""Size limits of the package's code (docs/layers.md, issue 27): no module
over 600 lines, no class over 300 and no function over 60, a class or
function counted from its `def`/`class` line to its last line without its
own docstring (nested functions count inside their parent too).

What does not fit yet is listed in ALLOWED with its size today. A listed
item may shrink but not grow, and leaves the list once it fits, so the list
only ever gets shorter.
"""

from __future__ import annotations

import ast
import os

import pytest

PACKAGE = "compare_gan2"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)
LIMITS = {"file": 600, "class": 300, "function": 60}

# (kind, "path relative to the package[:qualified name]") -> today's size.
ALLOWED = {
    ("function", "tools/labels/pretrain.py:pretrain"): 61,
    ("function", "tools/labels/infer.py:infer_labels"): 73,
    ("function", "data/base.py:ImageDataset._pipeline"): 77,
    ("class", "gans/modular.py:ModularGAN"): 398,
}


def _span(node: ast.AST) -> int:
  """Lines of a class or function, its own docstring left out."""
  lines = node.end_lineno - node.lineno + 1
  first = node.body[0] if node.body else None
  if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
      and isinstance(first.value.value, str)):
    lines -= first.end_lineno - first.lineno + 1
  return lines


def measure(path: str, rel: str) -> dict[tuple[str, str], int]:
  """{(kind, name): lines} of the module at `path` and every class and
  function in it (`rel`: its name in the keys)."""
  with open(path) as f:
    text = f.read()
  sizes = {("file", rel): len(text.splitlines())}

  def visit(node: ast.AST, prefix: str) -> None:
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        kind = "class" if isinstance(child, ast.ClassDef) else "function"
        sizes[(kind, f"{rel}:{prefix}{child.name}")] = _span(child)
        visit(child, f"{prefix}{child.name}.")
      else:
        visit(child, prefix)

  visit(ast.parse(text, path), "")
  return sizes


def _all_sizes() -> dict[tuple[str, str], int]:
  sizes = {}
  for directory, dirs, names in os.walk(ROOT):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
    for name in sorted(names):
      if name.endswith(".py"):
        path = os.path.join(directory, name)
        sizes.update(measure(path, os.path.relpath(path, ROOT).replace(os.sep, "/")))
  return sizes


SIZES = _all_sizes()


def test_nothing_new_exceeds_the_limits():
  over = [f"{name} ({kind}): {n} lines, limit {LIMITS[kind]}"
          for (kind, name), n in sorted(SIZES.items())
          if n > LIMITS[kind] and (kind, name) not in ALLOWED]
  assert not over, ("Over the size limits (split it; see docs/layers.md):\n"
                    + "\n".join(over))


@pytest.mark.parametrize("key", sorted(ALLOWED), ids=lambda k: f"{k[0]}:{k[1]}")
def test_allowed_items_only_shrink(key):
  kind, name = key
  assert key in SIZES, f"{name} is gone: remove it from ALLOWED."
  assert SIZES[key] <= ALLOWED[key], (
      f"{name} ({kind}) grew to {SIZES[key]} lines from {ALLOWED[key]}; it is "
      f"over the limit of {LIMITS[kind]} already: split it instead.")
  assert SIZES[key] > LIMITS[kind], (
      f"{name} ({kind}) fits now ({SIZES[key]} lines, limit {LIMITS[kind]}): "
      "remove it from ALLOWED so that it stays within.")


def test_the_measure_counts_without_docstrings(tmp_path):
  path = tmp_path / "m.py"
  path.write_text('class A:\n  """Doc\n  string."""\n\n  def f(self):\n'
                  '    """One line."""\n    x = 1\n    return x\n')
  assert measure(str(path), "m.py") == {
      ("file", "m.py"): 8, ("class", "m.py:A"): 6, ("function", "m.py:A.f"): 3}
