"""One registry type for every pluggable kind (architectures, losses, ...).

A registry maps a name to a factory. Registering a callable also makes it a gin
configurable under the same name, so `loss.fn = @hinge` works in gin files.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil
import re
from typing import Any, Callable, Iterable, Mapping

import gin


class UnknownNameError(KeyError):
  """Raised for a name that is not in a registry; the message lists close matches."""

  def __str__(self) -> str:  # KeyError quotes its message; we want plain text.
    return str(self.args[0])


class Registry:
  """Maps names to factories for one kind of component.

  Args:
    kind: str. What the registry holds, used in error messages ("loss").
  """

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, Any] = {}
    self._factories: dict[str, Callable[..., Any]] = {}
    self._modules: dict[str, str] = {}
    self._tests: dict[str, dict[str, Any]] = {}

  def register(self, name: str | None = None, *, aliases: Iterable[str] = (),
               gin_configurable: bool = True, module: str | None = None,
               test: Mapping[str, Any] | None = None) -> Callable[[Any], Any]:
    """Decorator: registers `obj` under `name` (default `obj.__name__`).

    With `gin_configurable`, the name is also a gin configurable (module
    `compare_gan2.<kind>`), so gin files can write `@name` and `name.arg = ...`.
    Functions and plain classes are decorated in place; a Keras layer (which
    cannot take gin's decorated `__init__`) gets a gin-configurable factory,
    used by `make`. `module` names the module that defines the part (default
    `obj.__module__`; a helper that registers on a module's behalf passes it).
    `test`: what tests/test_registered_parts.py needs to check the part
    (`test_settings`), so that a new part needs no row in a test table.
    """

    def decorator(obj: Any) -> Any:
      key = name or obj.__name__
      # Check every name before registering anything (also with gin), so that a
      # clash raises our error and leaves the registry and gin unchanged.
      for k in (key, *aliases):
        if k in self._entries:
          raise ValueError(f"{self.kind} '{k}' is already registered.")
      entry = obj
      origin = module or getattr(obj, "__module__", None) or ""
      if gin_configurable and callable(obj):
        gin_module = f"compare_gan2.{self.kind}"
        if isinstance(obj, type) and _is_keras_layer(obj):
          factory = functools.partial(_construct, obj)
          factory = functools.update_wrapper(factory, obj.__init__)
          factory.__name__ = key
          self._factories[key] = gin.configurable(key, module=gin_module)(factory)
          self._factories[key].registry_name = key
        else:
          entry = obj = gin.configurable(key, module=gin_module)(obj)
      try:
        entry.registry_name = key
      except (AttributeError, TypeError):
        pass
      for k in (key, *aliases):
        self._entries[k] = entry
        self._modules[k] = origin
        self._tests[k] = dict(test or {})
        if key in self._factories:
          self._factories[k] = self._factories[key]
      return obj

    return decorator

  def name_of(self, obj: Any) -> str:
    """The registered name of `obj`: a name, an entry, or gin's `@name` value."""
    if isinstance(obj, str):
      self.get(obj)
      return obj
    # Own attribute only: an unregistered subclass of a registered class must
    # not pass for its parent.
    key = getattr(obj, "__dict__", {}).get("registry_name")
    if key in self._entries:
      return key
    raise UnknownNameError(
        f"{obj!r} is not a registered {self.kind}. "
        f"Registered: {', '.join(self.names())}.")

  def get(self, name: Any) -> Any:
    """Returns the entry registered under `name` (or under an entry's name)."""
    if not isinstance(name, str):
      return self._entries[self.name_of(name)]
    if name not in self._entries:
      close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
      hint = f" Did you mean: {', '.join(close)}?" if close else ""
      raise UnknownNameError(
          f"Unknown {self.kind} '{name}'.{hint} "
          f"Registered: {', '.join(self.names())}.")
    return self._entries[name]

  def make(self, entry: Any, /, **kwargs: Any) -> Any:
    """Calls `entry` (a name or entry) with `kwargs`, applying gin bindings."""
    key = self.name_of(entry)
    return self._factories.get(key, self._entries[key])(**kwargs)

  def names(self) -> list[str]:
    return sorted(self._entries)

  def module_of(self, name: str) -> str:
    """The module that defined the entry registered as `name`."""
    self.get(name)
    return self._modules[name]

  def test_settings(self, name: str) -> dict[str, Any]:
    """The harness settings registered with `name` (`register(test=...)`;
    {} when the part needs none): tiny widths, sample inputs, ..."""
    self.get(name)
    return dict(self._tests[name])

  def package_names(self) -> list[str]:
    """The names registered by compare_gan2's own modules (not by a user's
    module or docs/examples/, which may have been imported in this process)."""
    return [n for n in self.names()
            if self._modules[n].split(".")[0] == "compare_gan2"]

  def summary(self, name: str) -> str:
    """The first sentence of the docstring of the entry registered as `name`,
    on one line ("" when it has none)."""
    doc = (getattr(self.get(name), "__doc__", None) or "").strip()
    paragraph = " ".join(doc.split("\n\n")[0].split())
    # A sentence ends at a full stop before a capital letter (not at
    # "et al., 2017" or "model.py").
    return re.split(r"(?<=\.)\s+(?=[A-Z])", paragraph, maxsplit=1)[0]

  def __contains__(self, name: str) -> bool:
    return name in self._entries

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {self.names()})"


def import_submodules(package: str, path: Iterable[str],
                      skip: Iterable[str] = ()) -> list[str]:
  """Imports every module in a kind's folder (`package`'s `__path__`) but
  `skip` and private ones, in name order, so that each registers its parts:
  a new part's file needs no import line. Returns the imported names."""
  names = sorted(m.name for m in pkgutil.iter_modules(list(path))
                 if not m.name.startswith("_") and m.name not in set(skip))
  for name in names:
    importlib.import_module(f"{package}.{name}")
  return names


def _is_keras_layer(cls: type) -> bool:
  return any(c.__module__.startswith("keras") and c.__name__ == "Layer"
             for c in cls.__mro__)


def _construct(cls: type, **kwargs: Any) -> Any:
  return cls(**kwargs)


# Every registry lives here, keyed by the kind `compare_gan2 list KIND` takes;
# the modules that fill them import them from here.
ARCHITECTURES = Registry("architecture")
GANS = Registry("gan")
LOSSES = Registry("loss")
PENALTIES = Registry("penalty")
REGULARIZERS = Registry("regularizer")
NORMALIZATIONS = Registry("normalization")
AUGMENTATIONS = Registry("augmentation")
DATASETS = Registry("dataset")
LABEL_SOURCES = Registry("label_source")
METRICS = Registry("metric")
EXTRACTORS = Registry("feature extractor")

REGISTRIES: dict[str, Registry] = {
    "architecture": ARCHITECTURES, "gan": GANS, "loss": LOSSES,
    "penalty": PENALTIES, "regularizer": REGULARIZERS,
    "normalization": NORMALIZATIONS,
    "augmentation": AUGMENTATIONS, "dataset": DATASETS,
    "label_source": LABEL_SOURCES, "metric": METRICS, "extractor": EXTRACTORS,
}
