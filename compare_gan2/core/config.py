"""Gin wiring: the run-level `options` (typed: `RunOptions`), latent sampling (`z`, `eval_z`), the
original compare_gan vocabulary (`tf.train.AdamOptimizer`, `tf.random.normal`)
and parsing of gin files and bindings."""

from __future__ import annotations

import dataclasses
import logging
import re
import tokenize
from typing import Any, Callable, Sequence

import gin
import keras
import tensorflow as tf

from compare_gan2.core import gin_check
from compare_gan2.core.config_files import CONFIG_DIR
from compare_gan2.core.gin_check import GinConfigError


@gin.configurable("options", module="compare_gan2.core.config")
@dataclasses.dataclass(frozen=True)
class RunOptions:
  """Run-level options of the original (`options.*`), configured by gin and
  checked once here. `options()` (this class) builds them from gin;
  `opts["batch_size"]` reads a field too (the dict these options were), and
  `as_dict()` gives them all.

  Args:
    batch_size: int. Global batch size (all replicas together).
    gan_class: GAN class name or `@ModularGAN`.
    architecture: str. Registered architecture name.
    training_steps: int. Number of generator steps.
    lamba: float. Penalty weight (the original's spelling).
    disc_iters: int. Discriminator updates per generator update.
    z_dim: int. Latent size.
    discriminator_normalization: ignored legacy option; use `D.*`.
  """
  batch_size: int = 64
  gan_class: Any = "ModularGAN"
  architecture: str = "resnet_cifar_arch"
  training_steps: int = 1000
  lamba: float = 1.0
  disc_iters: int = 1
  z_dim: int = 128
  discriminator_normalization: dataclasses.InitVar[Any] = None

  def __post_init__(self, discriminator_normalization: Any) -> None:
    del discriminator_normalization
    for key in ("batch_size", "disc_iters", "z_dim", "training_steps"):
      value = getattr(self, key)
      if not isinstance(value, int) or value < 1:
        raise ValueError(f"`options.{key}` must be a positive integer. "
                         f"Received: {key}={value!r}")
    object.__setattr__(self, "lamba", float(self.lamba))

  def __getitem__(self, key: str) -> Any:
    names = [f.name for f in dataclasses.fields(self)]
    if key not in names:
      raise KeyError(f"No run option {key!r}; the options are {', '.join(names)}.")
    return getattr(self, key)

  def as_dict(self) -> dict[str, Any]:
    """{name: value}, the values as they are (a gin-given class stays one)."""
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


# `config.options()`: the run options from gin (the gin name `options`).
options = RunOptions


# The original's gin vocabulary: `@tf.random.normal`, `@tf.random.uniform`.
# TF's functions are named "random_normal" etc., so the names are explicit.
_DISTRIBUTIONS = {"random_normal": "normal", "random_uniform": "uniform",
                  "truncated_normal": "truncated_normal"}
for _name in _DISTRIBUTIONS.values():
  gin.external_configurable(getattr(tf.random, _name), name=_name,
                            module="tf.random")


@gin.configurable("AdamOptimizer", module="tf.train")
def adam_optimizer(learning_rate: float = 2e-4, beta1: float = 0.9,
                   beta2: float = 0.999, epsilon: float = 1e-8
                   ) -> keras.optimizers.Optimizer:
  """Adam under the original's name (`tf.train.AdamOptimizer.beta1 = 0.0`)."""
  return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta1,
                               beta_2=beta2, epsilon=epsilon)


@gin.configurable("GradientDescentOptimizer", module="tf.train")
def sgd_optimizer(learning_rate: float = 2e-4) -> keras.optimizers.Optimizer:
  """Plain SGD under the original's name (`@tf.train.GradientDescentOptimizer`)."""
  return keras.optimizers.SGD(learning_rate=learning_rate)


_STATELESS = {"normal": tf.random.stateless_normal,
              "uniform": tf.random.stateless_uniform,
              "truncated_normal": tf.random.stateless_truncated_normal}


def _sample(distribution_fn: Any, shape: Sequence[int], seed: tf.Tensor,
            minval: float, maxval: float, stddev: float) -> tf.Tensor:
  name = distribution_fn if isinstance(distribution_fn, str) else getattr(
      distribution_fn, "__name__", "")
  name = _DISTRIBUTIONS.get(name, name)
  if name not in _STATELESS:
    raise ValueError(f"z.distribution_fn must be one of {sorted(_STATELESS)} "
                     f"(or @tf.random.<name>). Received: {distribution_fn!r}")
  if name == "uniform":
    return tf.random.stateless_uniform(shape, seed, minval=minval, maxval=maxval)
  return _STATELESS[name](shape, seed, stddev=stddev)


@gin.configurable("z", denylist=["shape", "seed"])
def sample_z(shape: Sequence[int], seed: tf.Tensor,
             distribution_fn: Any = "uniform", minval: float = -1.0,
             maxval: float = 1.0, stddev: float = 1.0) -> tf.Tensor:
  """Latents for training: U(-1, 1) by default, `z.distribution_fn =
  @tf.random.normal` for N(0, 1). Stateless: same seed, same z."""
  return _sample(distribution_fn, shape, seed, minval, maxval, stddev)


@gin.configurable("eval_z", denylist=["shape", "seed"])
def sample_eval_z(shape: Sequence[int], seed: tf.Tensor,
                  distribution_fn: Any = "uniform", minval: float = -1.0,
                  maxval: float = 1.0, stddev: float = 1.0) -> tf.Tensor:
  """Latents for evaluation and samples (`eval_z.distribution_fn`)."""
  return _sample(distribution_fn, shape, seed, minval, maxval, stddev)


def parse(gin_configs: Sequence[str] = (), gin_bindings: Sequence[str] = (),
          skip_unknown: bool = False) -> None:
  """Parses gin files and bindings against the parts registered so far
  (`compare_gan2.parse_gin` registers them all first). `include "name.gin"`
  in a file finds the shipped configs."""
  if CONFIG_DIR not in gin.config._LOCATION_PREFIXES:  # noqa: SLF001  (no public getter)
    gin.add_config_file_search_path(CONFIG_DIR)
  # gin tries each search path in turn and logs an ERROR for every miss
  # before it finds a shipped include; only a file found nowhere is an error.
  root = logging.getLogger()
  root.addFilter(_quiet_search_misses)
  try:
    gin.parse_config_files_and_bindings(list(gin_configs), list(gin_bindings),
                                        skip_unknown=skip_unknown)
  except (SyntaxError, tokenize.TokenError) as e:
    raise GinConfigError(gin_check.syntax_error_message(e)) from e
  except OSError as e:
    if not str(e).startswith("Unable to open file: "):
      raise
    raise GinConfigError(_missing_include_message(e)) from e
  except (ValueError, KeyError) as e:
    if skip_unknown:
      raise
    # gin's "No configurable matching 'optoins'.": the same check, worded
    # with the file, the line and the close matches.
    gin_check.check(gin_configs, gin_bindings, gin_check.registry_table())
    raise
  finally:
    root.removeFilter(_quiet_search_misses)


def _missing_include_message(e: OSError) -> str:
  text = str(e)
  name = re.search(r"Unable to open file: (.*?)\. Searched", text)
  name = name.group(1) if name else text.splitlines()[0]
  # gin appends the including file's location, innermost include last.
  found = re.findall(r'In file "([^"]*)", line (\d+)', text)
  where = f" (included from {found[-1][0]}, line {found[-1][1]})" if found else ""
  return gin_check.missing_include_message(name, where)


def _quiet_search_misses(record: logging.LogRecord) -> bool:
  return not str(record.msg).startswith("Path not found: ")


def optimizer_from(fn: Callable[..., Any] | None, learning_rate: float
                   ) -> keras.optimizers.Optimizer:
  """An optimizer from a gin-chosen factory taking `learning_rate`."""
  return (fn or adam_optimizer)(learning_rate=learning_rate)
