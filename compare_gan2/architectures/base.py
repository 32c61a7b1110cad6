"""What every architecture shares: gin options `G.*`/`D.*`, the base models and
`build`.

Contract: G(z, y, training) -> images in [0, 1], shape [B, res, res, colors];
D(x, y, training) -> (probs [B, 1], logits [B, 1], features h [B, F]).
`y` is a one-hot (or soft) label matrix [B, num_classes], or None when
unconditional (num_classes == 0).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import sys
from typing import Any, Callable, Iterator, Mapping

import gin
import keras
import tensorflow as tf

from compare_gan2.ops import packing as packing_lib
from compare_gan2.ops.layers import Linear
from compare_gan2.ops.normalization import make_normalization
from compare_gan2.core.registry import ARCHITECTURES, NORMALIZATIONS


@gin.configurable("G")
def generator_options(batch_norm_fn: Any = None,
                      spectral_norm: bool = False) -> dict[str, Any]:
  """gin `G.*`: the normalization of G's blocks and spectral norm in G."""
  return dict(batch_norm_fn=batch_norm_fn, spectral_norm=spectral_norm)


@gin.configurable("D")
def discriminator_options(batch_norm_fn: Any = None, layer_norm: bool = False,
                          spectral_norm: bool = False, packing: int = 1
                          ) -> dict[str, Any]:
  """gin `D.*`: normalization, layer norm and spectral norm in D, and PacGAN's
  packing (D judges `packing` samples at once; ops/packing.py)."""
  return dict(batch_norm_fn=batch_norm_fn, layer_norm=layer_norm,
              spectral_norm=spectral_norm, packing=packing)


def _norm_name(fn: Any) -> str | None:
  return None if fn is None else NORMALIZATIONS.name_of(fn)


def _float32(outputs: Any) -> Any:
  """Network outputs in float32 whatever the compute dtype (a mixed
  bfloat16 policy computes inside in bfloat16; losses stay float32)."""
  return tf.nest.map_structure(
      lambda t: tf.cast(t, tf.float32) if t is not None and t.dtype.is_floating else t,
      outputs)


OUTPUT_ACTIVATIONS = ("tanh", "sigmoid")
EMBEDDING_INITIALIZERS = ("glorot_normal", "weights")


def to_unit_range(net: tf.Tensor, activation: str) -> tf.Tensor:
  """Maps G's last pre-activation to [0, 1]: "tanh" is (tanh(x) + 1) / 2 =
  sigmoid(2x) (BigGAN, DCGAN, SNDCGAN in the original); "sigmoid" is
  sigmoid(x) (the original's resnet_cifar, resnet5, resnet_stl, resnet30)."""
  if activation == "tanh":
    return (tf.nn.tanh(net) + 1.0) / 2.0
  if activation == "sigmoid":
    return tf.nn.sigmoid(net)
  raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}. "
                   f"Received: output_activation={activation!r}")


def check_output_activation(activation: str) -> str:
  if activation not in OUTPUT_ACTIVATIONS:
    raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}. "
                     f"Received: output_activation={activation!r}")
  return activation


class _Network(keras.Model):
  """What G and D share: the resolution and colors of the images, the number
  of classes, the normalization and spectral norm of their layers, and
  float32 outputs."""

  def __init__(self, *, resolution: int, colors: int, num_classes: int = 0,
               batch_norm_fn: Any = None, spectral_norm: bool = False,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.resolution = resolution
    self.colors = colors
    self.num_classes = num_classes
    self.batch_norm_fn = _norm_name(batch_norm_fn)
    self.spectral_norm = spectral_norm

  @property
  def conditional(self) -> bool:
    return self.num_classes > 0

  def __call__(self, *args: Any, **kwargs: Any) -> Any:
    return _float32(super().__call__(*args, **kwargs))

  def norm(self, name: str) -> keras.layers.Layer:
    """A new instance of the network's normalization."""
    return make_normalization(self.batch_norm_fn, name, self.spectral_norm)

  def get_config(self) -> dict[str, Any]:
    return {"name": self.name, "resolution": self.resolution,
            "colors": self.colors, "num_classes": self.num_classes,
            "batch_norm_fn": self.batch_norm_fn,
            "spectral_norm": self.spectral_norm}


class Generator(_Network):
  """Base generator.

  Args:
    resolution: int. Output height and width.
    colors: int. Output channels (1 or 3).
    z_dim: int. Latent size.
    num_classes: int. Number of classes; 0 for an unconditional G.
    batch_norm_fn: normalization name (or gin reference) used in G's blocks;
      `None` for none (the original's default).
    spectral_norm: bool. Spectral norm on G's layers.
  """

  def __init__(self, *, z_dim: int, **kwargs: Any):
    super().__init__(**kwargs)
    self.z_dim = z_dim

  def output_images(self, net: tf.Tensor, training: bool | None,
                    activation: str = "tanh", **condition: Any) -> tf.Tensor:
    """The ResNet generators' head: ReLU(self.final_norm) -> self.final_conv
    -> `to_unit_range(., activation)`, images in [0, 1]."""
    net = tf.nn.relu(self.final_norm(net, training=training, **condition))
    net = self.final_conv(net, training=training)
    return to_unit_range(net, activation)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "z_dim": self.z_dim}


class Discriminator(_Network):
  """Base discriminator.

  Args:
    resolution: int. Input height and width.
    colors: int. Input channels.
    num_classes: int. Number of classes; > 0 adds the projection term
      logit += sum(embed(y) * h) (Miyato & Koyama, 2018) where supported.
    batch_norm_fn: normalization name (or gin reference); `None` for none.
    layer_norm: bool. Layer norm in D's blocks.
    spectral_norm: bool. Spectral norm on D's layers.
    packing: int. PacGAN's packing: D takes B = n * packing samples and
      judges them in n groups of `packing` (concatenated along channels), so
      its outputs have n rows. 1 (the default) is a plain D.
  """

  def __init__(self, *, layer_norm: bool = False, packing: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self.layer_norm = layer_norm
    self.packing = packing_lib.check_packing(packing)
    if packing > 1 and self.conditional:
      raise ValueError("D.packing is for an unconditional D (PacGAN packs "
                       f"unlabelled samples). Received: packing={packing}, "
                       f"num_classes={self.num_classes}")

  @property
  def input_colors(self) -> int:
    """Channels of what D's layers see: colors * packing."""
    return self.colors * self.packing

  def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
    return super().__call__(packing_lib.pack(x, self.packing), *args, **kwargs)

  def make_head(self, features: int, project_y: bool = True,
                embedding_initializer: str = "glorot_normal") -> None:
    """Creates the final linear layer and, if conditional and `project_y`, the
    projection embedding [num_classes, features], initialised by
    `embedding_initializer`: "glorot_normal" (the original's BigGAN) or
    "weights" (gin `weights.initializer`, N(0, 0.02) by default: the
    original's resnet_cifar, which used its plain linear layer)."""
    if embedding_initializer not in EMBEDDING_INITIALIZERS:
      raise ValueError(
          f"embedding_initializer must be one of {EMBEDDING_INITIALIZERS}. "
          f"Received: embedding_initializer={embedding_initializer!r}")
    self.final_fc = Linear(1, use_sn=self.spectral_norm, name="final_fc")
    self.embedding_fc = None
    if project_y and self.conditional:
      init = None if embedding_initializer == "weights" else embedding_initializer
      self.embedding_fc = Linear(
          features, use_sn=self.spectral_norm, use_bias=False,
          kernel_initializer=init, name="embedding_fc")

  def pooled_features(self, net: tf.Tensor, y: tf.Tensor | None,
                      training: bool | None, *, pool: str) -> tf.Tensor:
    """h [B, F]: `self.blocks` (each followed by `self.attention[i]` where
    present), ReLU, then a global "sum" (BigGAN) or "mean" pool."""
    attention = getattr(self, "attention", {})
    for i, block in enumerate(self.blocks):
      net = block(net, y=y, training=training)
      if i in attention:
        net = attention[i](net, training=training)
    reduce = tf.reduce_sum if pool == "sum" else tf.reduce_mean
    return reduce(tf.nn.relu(net), axis=[1, 2])

  def head(self, h: tf.Tensor, y: tf.Tensor | None, training: bool | None):
    """(probs, logits, h) from features h [B, F]: linear plus projection."""
    logits = self.final_fc(h, training=training)
    if self.embedding_fc is not None:
      if y is None:
        raise ValueError(f"{self.name}: a conditional discriminator needs "
                         "labels y. Received: y=None")
      embedded_y = self.embedding_fc(y, training=training)
      logits += tf.reduce_sum(embedded_y * h, axis=1, keepdims=True)
    return tf.nn.sigmoid(logits), logits, h

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "layer_norm": self.layer_norm,
            "packing": self.packing}


def gin_options(cls: type, name: str, module: str) -> Callable[[], dict[str, Any]]:
  """Makes `module.name.<arg>` gin bindings for the keyword-only arguments of
  `cls.__init__`; returns a function giving the bound values.

  Keras models cannot take gin's decorated `__init__`, so the bindings are
  read here and passed to the constructor explicitly.
  """
  allowed = [p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.kind == inspect.Parameter.KEYWORD_ONLY]

  def options(**bound: Any) -> dict[str, Any]:
    unknown = sorted(set(bound) - set(allowed))
    if unknown:
      raise ValueError(f"Unknown gin parameter(s) {unknown} of {module}.{name}. "
                       f"Allowed: {allowed}")
    return bound

  options.__name__ = name
  options.gin_parameters = tuple(allowed)  # what gin_check accepts before TF loads
  return gin.configurable(name, module=module)(options)


@dataclasses.dataclass(frozen=True)
class Architecture:
  """A registered generator/discriminator pair.

  resolutions: the supported resolutions; None means any power of two >= 8.
  generator_options / discriminator_options: gin bindings of the classes.
  """
  generator: type
  discriminator: type
  resolutions: tuple[int, ...] | None
  generator_options: Callable[[], dict[str, Any]]
  discriminator_options: Callable[[], dict[str, Any]]


# The keys of an architecture's test settings (`register(test=...)`) and
# their defaults; resolution is required.
TEST_DEFAULTS = {"colors": 3, "widths": {}, "bindings": (), "slow": False,
                 "output": "unit", "progressive": False, "batch_norm": True}
_OUTPUTS = ("unit", "unbounded", "unbounded_in_training")


def harness_settings(name: str, gin_module: str, test: Mapping[str, Any]
                     ) -> dict[str, Any]:
  """The harness settings of an architecture (tests/test_registered_parts.py):

    resolution: int, required; the smallest it supports, so steps are fast.
    colors: int (3). widths: {option: value} set on both networks
      (`<gin_module>.Generator.<option>`, ...): tiny widths. bindings: more
      gin bindings. slow: bool, run under `-m slow` only.
    output: "unit" (G's output in [0, 1]), "unbounded" (2-D points) or
      "unbounded_in_training" (clipped in inference only).
    progressive: bool, layers of other levels get no gradient (ProGAN).
    batch_norm: bool, whether it takes G/D.batch_norm_fn.

  Returns them with the defaults filled in and `widths` turned into
  `bindings`. Raises ValueError naming an unknown key or a bad value."""
  unknown = set(test) - set(TEST_DEFAULTS) - {"resolution"}
  if unknown or "resolution" not in test or test.get("output", "unit") not in _OUTPUTS:
    raise ValueError(f"Architecture '{name}': test settings take `resolution` and "
                     f"{sorted(TEST_DEFAULTS)} (output one of {_OUTPUTS}). "
                     f"Received: {dict(test)}")
  settings = {**TEST_DEFAULTS, **test}
  widths = [f"{gin_module}.{net}.{option} = {value!r}"
            for option, value in settings.pop("widths").items()
            for net in ("Generator", "Discriminator")]
  settings["bindings"] = widths + list(settings["bindings"])
  return settings


def register(name: str, generator: type, discriminator: type, *,
             gin_module: str, resolutions: tuple[int, ...] | None = None,
             test: Mapping[str, Any] | None = None) -> Architecture:
  """Registers an architecture; gin sees `<gin_module>.Generator.<arg>` and
  `<gin_module>.Discriminator.<arg>`. `test`: its tiny setting for the tests
  of every registered part (`harness_settings`); required there."""
  arch = Architecture(generator, discriminator, resolutions,
                      gin_options(generator, "Generator", gin_module),
                      gin_options(discriminator, "Discriminator", gin_module))
  # Its line in `compare_gan2 list`: its module's docstring, else G's.
  module = sys.modules.get(generator.__module__)
  object.__setattr__(arch, "__doc__", getattr(module, "__doc__", None) or generator.__doc__)
  ARCHITECTURES.register(
      name, gin_configurable=False, module=generator.__module__,
      test=None if test is None else harness_settings(name, gin_module, test))(arch)
  return arch


def check_resolution(name: str, resolution: int,
                     resolutions: tuple[int, ...] | None) -> None:
  if resolutions is None:
    ok = resolution >= 8 and resolution & (resolution - 1) == 0
    allowed = "a power of two >= 8"
  else:
    ok = resolution in resolutions
    allowed = f"one of {resolutions}"
  if not ok:
    raise ValueError(f"Architecture '{name}' supports resolution {allowed}. "
                     f"Received: resolution={resolution}")


def build(name: str, *, resolution: int, colors: int, z_dim: int,
          num_classes: int = 0, mixed_precision: bool = False
          ) -> tuple[Generator, Discriminator]:
  """Builds (generator, discriminator) of architecture `name`, with variables.

  Options beyond these come from gin (`G.*`, `D.*`, `<arch module>.Generator.*`).
  Call under `strategy.scope()` to create distributed variables. With
  `mixed_precision` the layers compute in bfloat16 on float32 weights (Keras
  policy "mixed_bfloat16"); the networks' outputs are float32 either way.
  """
  arch = ARCHITECTURES.get(name)
  check_resolution(name, resolution, arch.resolutions)
  if num_classes < 0:
    raise ValueError(f"num_classes must be >= 0. Received: num_classes={num_classes}")
  g_opts = generator_options()
  d_opts = discriminator_options()
  with dtype_policy("mixed_bfloat16" if mixed_precision else "float32"):
    generator = arch.generator(resolution=resolution, colors=colors, z_dim=z_dim,
                               num_classes=num_classes, **g_opts,
                               **arch.generator_options())
    discriminator = arch.discriminator(resolution=resolution, colors=colors,
                                       num_classes=num_classes, **d_opts,
                                       **arch.discriminator_options())
    build_variables(generator, discriminator)
  return generator, discriminator


@contextlib.contextmanager
def dtype_policy(policy: Any) -> Iterator[None]:
  """Within: Keras' global dtype policy is `policy` (a name or a
  DTypePolicy). A layer takes the policy in force when it is made, so the
  sublayers of a network copied with `from_config` need this too."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(policy)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def build_variables(generator: Generator, discriminator: Discriminator,
                    batch_size: int = 2) -> None:
  """Creates all variables by one inference call of each network (on
  batch_size * D.packing samples)."""
  batch_size *= discriminator.packing
  z = tf.zeros([batch_size, generator.z_dim])
  y = None
  if generator.conditional:
    y = tf.one_hot(tf.zeros([batch_size], tf.int32), generator.num_classes)
  images = generator(z, y, training=False)
  expected = (batch_size, generator.resolution, generator.resolution, generator.colors)
  if tuple(images.shape) != expected:
    raise ValueError(f"{type(generator).__name__} made images of shape "
                     f"{tuple(images.shape)}; expected {expected}.")
  discriminator(images, y if discriminator.conditional else None, training=False)
