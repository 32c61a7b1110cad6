"""compare_gan2: train and compare GANs in TensorFlow 2 / Keras 3, configured by gin.

`import compare_gan2` is light, so that the command line (`compare_gan2
--help`) starts without TensorFlow. The components register themselves (in
the registries and as gin configurables) when their modules are imported:
`compare_gan2.LOSSES` and the other registries below, `register_all()` and
`config.parse` import them all.
"""

from __future__ import annotations

import importlib
from typing import Any

from compare_gan2 import console

__version__ = "0.1.0"

# Before TensorFlow loads (when compare_gan2 is imported first, as the
# command line and the notebooks do): TF_CPP_MIN_LOG_LEVEL=3 unless the user
# set one, so TF's C++ log lines (cuInit failing without a GPU, grappler's
# remapper skipping a fusion) do not reach the user's output.
console.quiet_tensorflow_logs()

# Importing these registers every component and gin configurable.
_COMPONENT_MODULES = ("config", "losses", "penalties", "augment", "ada", "ops", "architectures",
                      "gans", "data", "labels", "metrics.scores", "metrics.extractors",
                      "metrics.evaluation", "runner")
_REGISTRY_NAMES = ("ARCHITECTURES", "AUGMENTATIONS", "DATASETS", "EXTRACTORS", "GANS",
                   "LABEL_SOURCES", "LOSSES", "METRICS", "NORMALIZATIONS", "PENALTIES",
                   "REGISTRIES", "REGULARIZERS", "Registry", "UnknownNameError")


def register_all() -> None:
  """Imports every component module (what `import compare_gan2` did eagerly)."""
  for name in _COMPONENT_MODULES:
    importlib.import_module(f"compare_gan2.{name}")


def __getattr__(name: str) -> Any:
  # PEP 562: `compare_gan2.LOSSES` etc. as before, loaded on first use.
  if name in _REGISTRY_NAMES:
    register_all()
    from compare_gan2 import registry  # pylint: disable=g-import-not-at-top
    return getattr(registry, name)
  if name in _COMPONENT_MODULES:
    return importlib.import_module(f"compare_gan2.{name}")
  raise AttributeError(f"module 'compare_gan2' has no attribute {name!r}")
