"""Tests mirror the package (docs/layers.md): a test file sits in the tests/
folder of the package folder it tests, and a module's own tests are at its
mirrored path, tests/<folder>/test_<module>.py (a package's __init__ at
tests/<folder>/test_<package>.py)."""

from __future__ import annotations

import os

TESTS = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(TESTS), "compare_gan2")
# Test folders that mirror no package folder, each with why.
OTHER_FOLDERS = {
    "benchmarks": "the scripts under benchmarks/ (their --quick runs and tables)",
    "runner/testdata": "a run written by an older main, restored by the tests",
}


def folders(root: str) -> set[str]:
  """Every folder below `root` that holds Python files, relative to it."""
  out = set()
  for directory, dirs, names in os.walk(root):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    if any(n.endswith(".py") for n in names) and directory != root:
      out.add(os.path.relpath(directory, root))
  return out


def mirrored_test(module_path: str) -> str:
  """tests/... path of a package module's own tests."""
  rel = os.path.relpath(module_path, PACKAGE)
  folder, name = os.path.split(rel)
  stem = os.path.basename(folder) if name == "__init__.py" else name[:-3]
  return os.path.join(TESTS, folder, f"test_{stem}.py")


def modules() -> list[str]:
  out = []
  for directory, dirs, names in os.walk(PACKAGE):
    dirs[:] = [d for d in dirs if d not in ("__pycache__", "configs", "weights")]
    out += [os.path.join(directory, n) for n in names
            if n.endswith(".py") and directory != PACKAGE]
  return sorted(out)


def test_every_test_folder_mirrors_a_package_folder():
  stray = sorted(f for f in folders(TESTS) - folders(PACKAGE)
                 if f not in OTHER_FOLDERS and f != "configs")
  assert not stray, (f"tests/{stray} mirror no folder of compare_gan2/; put a test "
                     "beside the folder it tests (docs/layers.md).")


def test_the_mirror_of_a_module():
  assert mirrored_test(os.path.join(PACKAGE, "core", "registry.py")) == os.path.join(
      TESTS, "core", "test_registry.py")
  assert mirrored_test(os.path.join(PACKAGE, "losses", "__init__.py")) == os.path.join(
      TESTS, "losses", "test_losses.py")


def test_most_modules_have_a_test_at_their_mirrored_path():
  """A floor, not a goal: the share grows as tests are added (it was 14 of
  93 before the tests moved, 32 of 111 before the files covering many
  modules were split); a module without one is tested through its folder's
  shared harness (test_registered_parts) or a neighbour, or shares its
  basename with a mirrored module (test basenames are unique: cli/train.py
  and runner/train.py)."""
  mods = [m for m in modules() if not m.endswith("__init__.py") or
          os.path.basename(os.path.dirname(m)) in ("losses", "penalties")]
  mirrored = [m for m in mods if os.path.exists(mirrored_test(m))]
  assert len(mirrored) >= 83, (len(mirrored), len(mods))
