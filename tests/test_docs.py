"""The documentation against the code: docs/parts.md is generated from the
registries and the hand-written tables name registered parts only, gin knobs named in the docs exist, relative links resolve, and the
README stays an entry page (under 200 lines)."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

# Pages that other parts of issue 17 add; links to them may dangle until then.

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`\n]+)`")
_MARKER = re.compile(r"<!--\s*(registry|gin knobs)\s*(?::\s*([\w.]+))?\s*-->")
_KNOB = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")


def _rel(path: pathlib.Path) -> str:
  return path.relative_to(ROOT).as_posix()


def _text(path: pathlib.Path) -> str:
  """The page without its fenced code blocks (shell and Python examples)."""
  return _FENCE.sub("", path.read_text(encoding="utf-8"))


def _marked_tables(kind_of_marker: str) -> list[tuple[str, str, list[list[str]]]]:
  """(page, marker argument, cells of each body row) of each table that
  follows a `<!-- registry: KIND -->` / `<!-- gin knobs[: prefix] -->` line."""
  tables = []
  for path in DOCS:
    lines = _text(path).splitlines()
    for i, line in enumerate(lines):
      match = _MARKER.fullmatch(line.strip())
      if not match or match.group(1) != kind_of_marker:
        continue
      rows = []
      for row in lines[i + 1:]:
        if not row.startswith("|"):
          break
        rows.append(row)
      if len(rows) < 3:
        raise AssertionError(f"{_rel(path)}:{i + 1}: marker {line.strip()!r} "
                             "is not followed by a table with a body.")
      cells = [row.strip().strip("|").split("|") for row in rows[2:]]
      tables.append((_rel(path), match.group(2) or "", cells))
  return tables


def _slug(heading: str) -> str:
  """GitHub's anchor for a heading."""
  text = heading.strip().lower().replace("`", "")
  text = re.sub(r"[^\w\- ]", "", text)
  return text.replace(" ", "-")


def _anchors(path: pathlib.Path) -> set[str]:
  anchors, seen = set(), {}
  for line in _text(path).splitlines():
    match = re.match(r"#{1,6} (.+)", line)
    if match:
      slug = _slug(match.group(1))
      count = seen.get(slug, 0)
      seen[slug] = count + 1
      anchors.add(slug if count == 0 else f"{slug}-{count}")
  return anchors


@pytest.fixture(scope="module")
def registries():
  import compare_gan2
  from compare_gan2.core import registry
  compare_gan2.register_all()
  return registry.REGISTRIES


def test_readme_is_an_entry_page():
  lines = README.read_text(encoding="utf-8").count("\n")
  assert lines < 200, f"README.md has {lines} lines; move sections into docs/."


def test_readme_keeps_the_install_and_test_commands():
  # .ci/run installs and tests the way the README says; keep the two in step.
  text = README.read_text(encoding="utf-8")
  ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
  assert "pip install -e '.[test]'" in text
  assert "pip install --quiet -e '.[test]'" in ci
  assert "python -m pytest -n 2 " in text and "python -m pytest -q -n 2\n" in ci
  assert "python -m pytest -n 2 -m slow" in text
  assert "python -m pytest -q -n 2 -m slow" in ci


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_relative_links_resolve(path):
  broken = []
  for target in _LINK.findall(_text(path)):
    if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
      continue
    file_part, _, anchor = target.partition("#")
    dest = (path.parent / file_part).resolve() if file_part else path
    try:
      rel = _rel(dest)
    except ValueError:
      broken.append(f"{target} (outside the repository)")
      continue
    if not dest.exists():
      broken.append(f"{target} (no file {rel})")
    elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
      broken.append(f"{target} (no heading #{anchor} in {rel})")
  assert not broken, f"{_rel(path)}: broken links: {broken}"


def test_every_registry_kind_has_a_table(registries):
  documented = {kind for _, kind, _ in _marked_tables("registry")}
  missing = sorted(set(registries) - documented)
  assert not missing, (f"No `<!-- registry: KIND -->` table in docs/ for: "
                       f"{missing}")


def test_registry_tables_name_registered_parts(registries):
  """A hand-written table (a selection, with more to say) names only
  registered parts; docs/parts.md, generated, names every one."""
  tables = _marked_tables("registry")
  assert tables
  by_kind: dict[str, set[str]] = {}
  for page, kind, rows in tables:
    assert kind in registries, f"{page}: unknown registry kind {kind!r}"
    # The names are the code spans of the first column (aliases included).
    names = {name for row in rows for name in _CODE.findall(row[0])}
    by_kind.setdefault(kind, set()).update(names)
    registered = set(registries[kind].package_names())
    assert names <= registered, (
        f"{page}: the `{kind}` table names unregistered parts "
        f"{sorted(names - registered)}")
  for kind, registry in registries.items():
    assert by_kind.get(kind, set()) == set(registry.package_names()), kind


def test_parts_page_is_generated_from_the_registries(registries):
  from compare_gan2.cli import list_parts
  del registries  # registered first
  page = (ROOT / "docs" / "parts.md").read_text(encoding="utf-8")
  assert page == list_parts.parts_page(), (
      "docs/parts.md lags behind the registries: run python scripts/update_parts_doc.py")


def _gin_knobs() -> list[tuple[str, str]]:
  """(page, `configurable.parameter`) for every binding in the docs' inline
  code (`X.y = ...`) and every knob in a `<!-- gin knobs -->` table: the
  first column's `X.y`, and for a row `X.*` the parameters its second column
  names (`ModularGAN.*` | `g_lr`, `d_lr`, ...)."""
  knobs = []
  for path in DOCS:
    if path.name == "extending.md":
      continue  # its knobs belong to docs/examples/, which test_extending runs
    for code in _CODE.findall(_text(path)):
      match = re.match(r"([A-Za-z_][\w./]*\.[A-Za-z_]\w*) = ", code)
      if match:
        knobs.append((_rel(path), match.group(1)))
  for page, prefix, rows in _marked_tables("gin knobs"):
    for row in rows:
      for code in _CODE.findall(row[0]):
        knob = f"{prefix}.{code}" if prefix else code
        if _KNOB.match(knob):
          knobs.append((page, knob))
        elif re.fullmatch(r"[A-Za-z_][\w.]*\.\*", knob):
          # `<module>.Generator.*` has no one configurable: skipped.
          knobs.extend((page, f"{knob[:-2]}.{param}")
                       for param in _CODE.findall(row[1])
                       if re.fullmatch(r"[a-z_]\w*", param))
  return knobs


def test_gin_knobs_in_the_docs_exist(registries):
  import gin
  import compare_gan2.runner  # noqa: F401  (run_config, eval, labels, ...)
  knobs = _gin_knobs()
  assert len(knobs) > 20
  unknown = []
  for page, knob in knobs:
    try:
      gin.config.ParsedBindingKey.parse(knob)
    except ValueError as e:
      unknown.append(f"{page}: {knob} ({e})")
  assert not unknown, "gin knobs in the docs that gin does not know:\n" + (
      "\n".join(unknown))
