"""The tiny settings of the registered architectures and GAN classes, read
from their registrations (`architectures.base.register(test=...)`,
`GANS.register(test=...)`), so that tests of the training step run in seconds
on a CPU. A new part brings its own: no row here."""

import compare_gan2
from compare_gan2.core.registry import ARCHITECTURES, GANS

compare_gan2.register_all()

# A GAN class's setting when it registers none.
GAN_DEFAULTS = {"architecture": "dcgan_arch", "conditional": False, "bindings": (),
                "kwargs": {}}


def tiny(name: str) -> tuple[int, int, list[str]]:
  """(resolution, colors, gin bindings) of a tiny architecture `name`."""
  settings = ARCHITECTURES.test_settings(name)
  return settings["resolution"], settings["colors"], list(settings["bindings"])


def gan_class(name: str) -> tuple[str, bool, list[str], dict]:
  """(architecture, conditional, extra bindings, constructor arguments): the
  smallest setting of GAN class `name`."""
  settings = {**GAN_DEFAULTS, **GANS.test_settings(name)}
  return (settings["architecture"], settings["conditional"], list(settings["bindings"]),
          dict(settings["kwargs"]))


def _flagged(key, value=True):
  return tuple(n for n in ARCHITECTURES.package_names()
               if ARCHITECTURES.test_settings(n).get(key) == value)


# The package's own architectures and GAN classes (read once, at import).
TINY = {n: tiny(n) for n in ARCHITECTURES.package_names()
        if ARCHITECTURES.test_settings(n)}
GAN_CLASSES = {n: gan_class(n) for n in GANS.package_names()}
# G's output not squashed into [0, 1] (2-D points) ...
UNBOUNDED = _flagged("output", "unbounded")
# ... or clipped to [0, 1] in inference mode only (ProGAN's linear toRGB).
UNBOUNDED_IN_TRAINING = _flagged("output", "unbounded_in_training")
# Layers that the current level of detail does not run (ProGAN's toRGB/fromRGB).
PROGRESSIVE = _flagged("progressive")
# No G/D.batch_norm_fn (pixel norm built in).
NO_BATCH_NORM = _flagged("batch_norm", False)
# Too slow for every test run (128 px, or a second name of the same networks).
SLOW = _flagged("slow")
