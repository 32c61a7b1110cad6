"""compare_gan2: train and compare GANs in TensorFlow 2 / Keras 3, configured by gin.

`import compare_gan2` is light, so that the command line (`compare_gan2
--help`) starts without TensorFlow. The parts register themselves (in the
registries of `compare_gan2.core.registry` and as gin configurables) when
their modules are imported; `register_all()` imports them all and
`parse_gin()` parses gin files and bindings after it.
"""

from __future__ import annotations

import importlib
from typing import Any, Sequence

from compare_gan2.core import console

__version__ = "0.1.0"

# Before TensorFlow loads (when compare_gan2 is imported first, as the
# command line and the notebooks do): TF_CPP_MIN_LOG_LEVEL=3 unless the user
# set one, so TF's C++ log lines (cuInit failing without a GPU, grappler's
# remapper skipping a fusion) do not reach the user's output.
console.quiet_tensorflow_logs()

# Importing these registers every part and gin configurable of layers 1-5
# (the tools of layer 6 register none).
_PART_MODULES = ("core.config", "losses", "penalties", "augment.diffaugment", "augment.ada",
                 "ops", "architectures", "gans", "data", "metrics.scores",
                 "metrics.extractors", "metrics.evaluation", "runner")
_SUBPACKAGES = ("architectures", "augment", "cli", "core", "data", "gans", "losses", "metrics",
                "ops", "penalties", "runner", "tools")


def register_all() -> None:
  """Imports every module that registers parts or gin configurables."""
  for name in _PART_MODULES:
    importlib.import_module(f"compare_gan2.{name}")


def parse_gin(gin_configs: Sequence[str] = (), gin_bindings: Sequence[str] = (),
              skip_unknown: bool = False) -> None:
  """Parses gin files and bindings (`include "name.gin"` finds the shipped
  configs) with every part registered: what the command line does before a
  run. `compare_gan2.core.config.parse` parses with what is registered so far."""
  register_all()
  from compare_gan2.core import config  # pylint: disable=g-import-not-at-top
  config.parse(gin_configs, gin_bindings, skip_unknown=skip_unknown)


def __getattr__(name: str) -> Any:
  # PEP 562: `compare_gan2.gans` etc. after a bare `import compare_gan2`.
  if name in _SUBPACKAGES:
    return importlib.import_module(f"compare_gan2.{name}")
  raise AttributeError(f"module 'compare_gan2' has no attribute {name!r}")
