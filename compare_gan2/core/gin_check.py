"""Gin configs checked by name before anything is built: an unknown
configurable, parameter or `@reference` is one line with the close matches
("did you mean"), a syntax error or a missing `include` names the file and
line. No TensorFlow: the command line checks its gin flags against
`gin_names.CONFIGURABLES` (every configurable compare_gan2 registers, kept in
step with the registrations by tests/core/test_gin_names.py) before TensorFlow
loads; `config.parse` words gin's own errors with the same check.

Also reads a gin text into its bindings (`bindings_of`), which the runner
compares on resume (`changed_bindings`)."""

from __future__ import annotations

import difflib
import inspect
import os
import textwrap
import tokenize
from typing import Any, Iterator, NamedTuple, Sequence

import gin
from gin import config_parser, selector_map

from compare_gan2.core.config_files import CONFIG_DIR

ANY = "**"  # among a configurable's parameters: it takes **kwargs (any name)
_MAX_INCLUDE_DEPTH = 20


class GinConfigError(ValueError):
  """A gin file or binding that does not parse, names an unknown
  configurable, parameter or reference, or includes a file found nowhere;
  the message is one line naming the file and the line."""


class _Reference(NamedTuple):
  selector: str  # without its scopes
  evaluate: bool

  def __str__(self) -> str:
    return f"@{self.selector}" + ("()" if self.evaluate else "")


class _Macro(NamedTuple):
  name: str

  def __str__(self) -> str:
    return f"%{self.name}"


class _Delegate(config_parser.ParserDelegate):
  """Parses references and macros into plain values (gin's own delegate
  looks them up in its registry)."""

  def configurable_reference(self, scoped_configurable_name: str, evaluate: bool) -> Any:
    return _Reference(scoped_configurable_name.rsplit("/", 1)[-1], evaluate)

  def macro(self, macro_name: str) -> Any:
    return _Macro(macro_name)


def registry_table() -> dict[str, tuple[str, ...]]:
  """{complete selector: the parameters gin accepts} of every configurable
  registered in this process, as gin validates a binding (signature, allow-
  and denylist; `ANY` for **kwargs), or as the function declares in its
  `gin_parameters` (a **kwargs function that checks its names itself)."""
  table = {}
  for selector, configurable in gin.config._REGISTRY.items():  # noqa: SLF001
    fn = configurable.wrapper
    if inspect.isclass(fn):
      fn = gin.config._find_class_construction_fn(fn)  # noqa: SLF001
    while hasattr(fn, "__wrapped__"):
      fn = fn.__wrapped__
    declared = getattr(fn, "gin_parameters", None)  # a **kwargs function's own check
    if declared is not None:
      table[selector] = tuple(sorted(declared))
      continue
    spec = gin.config._get_cached_arg_spec(fn)  # noqa: SLF001
    names = set(spec.args + spec.kwonlyargs)
    if configurable.allowlist:
      names = {n for n in configurable.allowlist if spec.varkw or n in names}
    names -= set(configurable.denylist or ())
    table[selector] = tuple(sorted(names)) + (
        (ANY,) if spec.varkw and not configurable.allowlist else ())
  return table


def known_configurables() -> dict[str, tuple[str, ...]]:
  """The shipped table with whatever this process registered on top (a
  user's own parts, imported before the command line runs)."""
  from compare_gan2.core.gin_names import CONFIGURABLES  # pylint: disable=g-import-not-at-top
  return {**CONFIGURABLES, **registry_table()}


# --- Reading gin text -------------------------------------------------------------------

def _find_include(name: str) -> str | None:
  """Where gin finds an `include`d file: as given, else under each search
  path (config.parse adds the shipped configs' folder)."""
  prefixes = [""] if os.path.isabs(name) else (
      [*gin.config._LOCATION_PREFIXES, CONFIG_DIR])  # noqa: SLF001
  for prefix in prefixes:
    path = os.path.join(prefix, name)
    if os.path.isfile(path):
      return path
  return None


def _parse(text: str, where: str) -> list[Any]:
  try:
    return list(config_parser.ConfigParser(text, _Delegate()))
  except (SyntaxError, tokenize.TokenError) as e:
    raise GinConfigError(syntax_error_message(e, where)) from e


def _statements(configs: Sequence[str], bindings: Sequence[str]) -> Iterator[tuple[str, Any]]:
  """(where, statement) of the config files (their includes in place) and
  then the bindings, as gin reads them."""

  def read(path: str, depth: int) -> Iterator[tuple[str, Any]]:
    with open(path) as f:
      text = f.read()
    for statement in _parse(text, path):
      if isinstance(statement, config_parser.IncludeStatement) and depth < _MAX_INCLUDE_DEPTH:
        found = _find_include(statement.filename)
        if found is None:
          raise GinConfigError(missing_include_message(
              statement.filename, f" (included from {path}, line "
              f"{statement.location.line_num})"))
        yield from read(found, depth + 1)
      else:
        yield path, statement

  for path in configs:
    yield from read(path, 0)
  if bindings:
    for statement in _parse("\n".join(bindings), "--gin_bindings"):
      yield "--gin_bindings", statement


def _values(value: Any) -> Iterator[Any]:
  """`value` and everything inside it (lists, tuples, dicts)."""
  yield value
  if isinstance(value, dict):
    for k, v in value.items():
      yield from _values(k)
      yield from _values(v)
  elif isinstance(value, (list, tuple)) and not isinstance(value, (_Reference, _Macro)):
    for v in value:
      yield from _values(v)


# --- Checking names ---------------------------------------------------------------------

def _close(name: str, candidates: Any, prefix: str = "") -> str:
  close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
  return f" Did you mean {' or '.join(repr(prefix + c) for c in close)}?" if close else ""


def _suffixes(selectors: Any, length: int) -> set[str]:
  """The last `length` components of each selector ("options", "tf.train.
  AdamOptimizer"): what a user writes."""
  return {".".join(s.split(".")[-length:]) for s in selectors}


def _location(where: str, statement: Any) -> str:
  line = statement.location.line_content.strip()
  return f"{where}, line {statement.location.line_num}: {line!r}"


def check(configs: Sequence[str] = (), bindings: Sequence[str] = (),
          table: dict[str, tuple[str, ...]] | None = None) -> None:
  """Raises `GinConfigError` (one line, with close matches) for the first
  unknown configurable, parameter or reference in the gin files `configs`
  (paths) and `bindings`, a syntax error or a missing include. `table`:
  {complete selector: parameters}, default `known_configurables()`. A config
  that imports modules (which may register more) is checked for syntax and
  includes only."""
  statements = list(_statements(configs, bindings))
  if any(isinstance(s, config_parser.ImportStatement) for _, s in statements):
    return
  table = known_configurables() if table is None else table
  names = selector_map.SelectorMap()
  for selector in table:
    names[selector] = selector
  for where, statement in statements:
    if isinstance(statement, config_parser.BindingStatement):
      _check_binding(names, table, where, statement)
      for value in _values(statement.value):
        if isinstance(value, _Reference):
          _check_name(names, table, value.selector, "reference", f"'{value}' in "
                      + _location(where, statement), "@")
    elif isinstance(statement, config_parser.BlockDeclaration):
      _check_selector(names, table, where, statement)


def _check_selector(names: selector_map.SelectorMap, table: dict[str, tuple[str, ...]],
                    where: str, statement: Any) -> str:
  return _check_name(names, table, statement.selector, "configurable",
                     f"'{statement.selector}' in {_location(where, statement)}")


def _check_name(names: selector_map.SelectorMap, table: dict[str, tuple[str, ...]],
                selector: str, kind: str, what: str, prefix: str = "") -> str:
  """The complete selector that `selector` names; raises for none or several."""
  found = names.matching_selectors(selector)
  if len(found) > 1:
    raise GinConfigError(
        f"Ambiguous gin {kind} {what}: it matches {', '.join(sorted(found))}; "
        "write enough of the module to pick one.")
  if not found:
    raise GinConfigError(
        f"Unknown gin {kind} {what}."
        + _close(selector, _suffixes(table, selector.count(".") + 1), prefix)
        + " (`compare_gan2 list` names the parts.)")
  return found[0]


def _check_binding(names: selector_map.SelectorMap, table: dict[str, tuple[str, ...]],
                   where: str, statement: Any) -> None:
  if not statement.arg_name:  # a macro: `NAME = value`
    return
  params = table[_check_selector(names, table, where, statement)]
  if ANY not in params and statement.arg_name not in params:
    raise GinConfigError(
        f"Gin configurable '{statement.selector}' has no parameter "
        f"'{statement.arg_name}' ({_location(where, statement)})."
        + _close(statement.arg_name, params)
        + f" Its parameters: {', '.join(params) or 'none'}.")


def check_flags(gin_configs: Sequence[str], gin_bindings: Sequence[str]) -> None:
  """The command line's check of --gin_config (a path or a shipped config's
  name) and --gin_bindings, before TensorFlow loads."""
  from compare_gan2.core.config_files import resolve_config  # pylint: disable=g-import-not-at-top
  check([resolve_config(c) for c in gin_configs], gin_bindings)


# --- Messages ---------------------------------------------------------------------------

def syntax_error_message(e: SyntaxError | tokenize.TokenError, where: str | None = None
                         ) -> str:
  """One line naming the file (`where`: default the file gin was reading)
  and the line of a gin syntax error."""
  if isinstance(e, SyntaxError):
    where = where or e.filename or "--gin_bindings"  # bindings: one string
    text = f": {e.text.strip()!r}" if e.text and e.text.strip() else ""
    return f"gin syntax error in {where}, line {e.lineno}: {e.msg.rstrip('.')}{text}"
  if where is None:  # tokenize's error names no file: the innermost gin file being read
    where, frame = "--gin_bindings", e.__traceback__
    while frame is not None:
      if frame.tb_frame.f_code.co_name == "parse_config_file":
        where = frame.tb_frame.f_locals.get("config_file_with_prefix", where)
      frame = frame.tb_next
  message, (line, _) = e.args
  return (f"gin syntax error in {where}: {message} (at line {line}; an "
          "unclosed bracket or string?)")


def missing_include_message(name: str, where: str = "") -> str:
  return (f"gin file '{name}' not found{where}; looked in the working "
          f"directory and in {CONFIG_DIR}.")


# --- Bindings of an operative config ----------------------------------------------------

def bindings_of(text: str) -> dict[str, str]:
  """{"[scope/]configurable.parameter": value as gin writes it} of a gin
  text (an operative config); macros as "NAME"."""
  found = {}
  for statement in _parse(text, "operative config"):
    if isinstance(statement, config_parser.BindingStatement):
      key = ".".join(p for p in (statement.selector, statement.arg_name) if p)
      found[f"{statement.scope}/{key}" if statement.scope else key] = _text(statement.value)
  return found


def _text(value: Any) -> str:
  if isinstance(value, (_Reference, _Macro)):
    return str(value)
  if isinstance(value, dict):
    return "{" + ", ".join(f"{_text(k)}: {_text(v)}" for k, v in value.items()) + "}"
  if isinstance(value, list):
    return "[" + ", ".join(_text(v) for v in value) + "]"
  if isinstance(value, tuple):
    return "(" + ", ".join(_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
  return repr(value)


def changed_bindings(old_text: str, new_text: str) -> list[str]:
  """"name: old -> new" for each binding that differs between two gin texts
  ("(unset)" where one of them lacks it), in name order."""
  old, new = bindings_of(old_text), bindings_of(new_text)
  return [f"{k}: {old.get(k, '(unset)')} -> {new.get(k, '(unset)')}"
          for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


def table_source(table: dict[str, tuple[str, ...]]) -> str:
  """gin_names.py for `table` (scripts/update_gin_names.py writes it)."""
  rows = ""
  for selector, params in sorted(table.items()):
    text = textwrap.fill(repr(params), 92, initial_indent=" " * 8, subsequent_indent=" " * 9,
                         break_long_words=False)
    rows += f"    {selector!r}:\n{text},\n"
  return ('"""Every gin configurable compare_gan2 registers, with the parameters gin\n'
          'accepts ("**": any), for checking configs before TensorFlow loads\n'
          "(gin_check). Generated by scripts/update_gin_names.py; tests/core/test_gin_names.py\n"
          'fails when it differs from the registrations."""\n\n'
          f"CONFIGURABLES: dict[str, tuple[str, ...]] = {{\n{rows}}}\n")
