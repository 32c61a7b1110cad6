"""Weight loaders for `FIDInception`: PyTorch ports, the TF graph, TF-Hub.

This module converts weights and never builds the model (`inception` imports
it, not the reverse): `inception.from_hub` builds one from a TF-Hub module.

Every source is reduced to one canonical form, a dict keyed by the TF graph's
node scopes ("mixed_9/tower/mixed/conv") holding HWIO kernels and batch-norm
vectors, which `assign_canonical` writes into the Keras layers (named after
the same scopes with "/" replaced by ".", since Keras forbids "/").
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import numpy as np

# TF graph's BatchNormWithGlobalNormalization epsilon (the NVIDIA TorchScript
# port calls batch_norm with eps=0.001 as well).
BN_EPSILON = 1e-3

# NVIDIA's port flattens the Inception-E scopes: "tower_1_mixed_conv_1" is
# "tower_1/mixed/conv_1" in the TF graph.
_E_BLOCK_FLAT = {
    "conv": "conv",
    "tower_conv": "tower/conv",
    "tower_mixed_conv": "tower/mixed/conv",
    "tower_mixed_conv_1": "tower/mixed/conv_1",
    "tower_1_conv": "tower_1/conv",
    "tower_1_conv_1": "tower_1/conv_1",
    "tower_1_mixed_conv": "tower_1/mixed/conv",
    "tower_1_mixed_conv_1": "tower_1/mixed/conv_1",
    "tower_2_conv": "tower_2/conv",
}


def _nvidia_scope(module_path: str) -> str:
  """'net.layers.mixed_9.tower_1_conv' -> 'mixed_9/tower_1/conv'."""
  path = module_path
  for prefix in ("net.layers.", "layers."):
    if path.startswith(prefix):
      path = path[len(prefix):]
      break
  parts = path.split(".")
  if parts[0] in ("mixed_9", "mixed_10") and len(parts) == 2:
    return parts[0] + "/" + _E_BLOCK_FLAT[parts[1]]
  return "/".join(parts)


# pytorch-fid (pt_inception-2015-12-05-6726825d.pth) uses torchvision names.
_PTFID_BLOCKS = {
    "Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1",
    "Conv2d_2b_3x3": "conv_2", "Conv2d_3b_1x1": "conv_3",
    "Conv2d_4a_3x3": "conv_4",
    "Mixed_5b": "mixed", "Mixed_5c": "mixed_1", "Mixed_5d": "mixed_2",
    "Mixed_6a": "mixed_3", "Mixed_6b": "mixed_4", "Mixed_6c": "mixed_5",
    "Mixed_6d": "mixed_6", "Mixed_6e": "mixed_7", "Mixed_7a": "mixed_8",
    "Mixed_7b": "mixed_9", "Mixed_7c": "mixed_10",
}
_PTFID_A = {"branch1x1": "conv", "branch5x5_1": "tower/conv",
            "branch5x5_2": "tower/conv_1", "branch3x3dbl_1": "tower_1/conv",
            "branch3x3dbl_2": "tower_1/conv_1",
            "branch3x3dbl_3": "tower_1/conv_2", "branch_pool": "tower_2/conv"}
_PTFID_B = {"branch3x3": "conv", "branch3x3dbl_1": "tower/conv",
            "branch3x3dbl_2": "tower/conv_1", "branch3x3dbl_3": "tower/conv_2"}
_PTFID_C = {"branch1x1": "conv", "branch7x7_1": "tower/conv",
            "branch7x7_2": "tower/conv_1", "branch7x7_3": "tower/conv_2",
            "branch7x7dbl_1": "tower_1/conv",
            "branch7x7dbl_2": "tower_1/conv_1",
            "branch7x7dbl_3": "tower_1/conv_2",
            "branch7x7dbl_4": "tower_1/conv_3",
            "branch7x7dbl_5": "tower_1/conv_4", "branch_pool": "tower_2/conv"}
_PTFID_D = {"branch3x3_1": "tower/conv", "branch3x3_2": "tower/conv_1",
            "branch7x7x3_1": "tower_1/conv", "branch7x7x3_2": "tower_1/conv_1",
            "branch7x7x3_3": "tower_1/conv_2",
            "branch7x7x3_4": "tower_1/conv_3"}
_PTFID_E = {"branch1x1": "conv", "branch3x3_1": "tower/conv",
            "branch3x3_2a": "tower/mixed/conv",
            "branch3x3_2b": "tower/mixed/conv_1",
            "branch3x3dbl_1": "tower_1/conv",
            "branch3x3dbl_2": "tower_1/conv_1",
            "branch3x3dbl_3a": "tower_1/mixed/conv",
            "branch3x3dbl_3b": "tower_1/mixed/conv_1",
            "branch_pool": "tower_2/conv"}
_PTFID_BRANCHES = {
    "Mixed_5b": _PTFID_A, "Mixed_5c": _PTFID_A, "Mixed_5d": _PTFID_A,
    "Mixed_6a": _PTFID_B, "Mixed_6b": _PTFID_C, "Mixed_6c": _PTFID_C,
    "Mixed_6d": _PTFID_C, "Mixed_6e": _PTFID_C, "Mixed_7a": _PTFID_D,
    "Mixed_7b": _PTFID_E, "Mixed_7c": _PTFID_E,
}


def _ptfid_scope(module_path: str) -> str:
  """'Mixed_7b.branch3x3_2a' -> 'mixed_9/tower/mixed/conv'."""
  parts = module_path.split(".")
  block = _PTFID_BLOCKS[parts[0]]
  if len(parts) == 1:
    return block
  return block + "/" + _PTFID_BRANCHES[parts[0]][parts[1]]


def _np(value: Any) -> np.ndarray:
  if hasattr(value, "detach"):  # torch.Tensor, without importing torch.
    value = value.detach().cpu().numpy()
  return np.asarray(value)


def canonical_from_torch(state_dict: dict[str, Any]) -> dict[str, dict]:
  """Maps a PyTorch-port state dict to {tf_scope: {kernel, beta, ...}}.

  Accepts NVIDIA's naming (".weight/.beta/.mean/.var", no gamma since the TF
  graph has scale_after_normalization=False) and pytorch-fid's torchvision
  naming (".conv.weight", ".bn.weight/bias/running_mean/running_var", "fc.*").
  Conv kernels go OIHW -> HWIO; fc [1008, 2048] -> softmax weights [2048, 1008].
  """
  out: dict[str, dict] = {}
  ptfid = any(k.startswith("Mixed_") or k.startswith("Conv2d_")
              for k in state_dict)
  for key, value in state_dict.items():
    arr = _np(value)
    if ptfid:
      if key.endswith("num_batches_tracked"):
        continue
      if key.startswith("fc."):
        entry = out.setdefault("softmax", {})
        if key == "fc.weight":
          entry["weights"] = arr.T
        else:
          entry["biases"] = arr
        continue
      m = re.fullmatch(r"(.*)\.(conv|bn)\.(weight|bias|running_mean|"
                       r"running_var)", key)
      if m is None:
        raise KeyError(f"Unexpected pytorch-fid tensor {key!r}.")
      scope = _ptfid_scope(m.group(1))
      field = {("conv", "weight"): "kernel", ("bn", "weight"): "gamma",
               ("bn", "bias"): "beta", ("bn", "running_mean"): "mean",
               ("bn", "running_var"): "var"}[(m.group(2), m.group(3))]
    else:
      module_path, _, name = key.rpartition(".")
      scope = _nvidia_scope(module_path)
      if name not in ("weight", "beta", "mean", "var", "gamma"):
        raise KeyError(f"Unexpected tensor {key!r}.")
      field = "kernel" if name == "weight" else name
    if field == "kernel":
      arr = np.transpose(arr, (2, 3, 1, 0))  # OIHW -> HWIO.
    out.setdefault(scope, {})[field] = arr.astype(np.float32)
  return out


def _graph_nodes(graph_def: Any):
  """Nodes of a GraphDef, including those of its function library (TF2)."""
  yield from graph_def.node
  for function in graph_def.library.function:
    yield from function.node_def


def _tensors_from_graph_def(graph_def: Any
                            ) -> tuple[dict[str, np.ndarray], dict]:
  """({const name: value}, {batchnorm node: (epsilon, scale)}) of a graph."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  consts = {}
  bn_attrs = {}
  for node in _graph_nodes(graph_def):
    if node.op == "Const":
      consts[node.name] = tf.make_ndarray(node.attr["value"].tensor)
    elif node.op == "BatchNormWithGlobalNormalization":
      bn_attrs[node.name] = (node.attr["variance_epsilon"].f,
                             node.attr["scale_after_normalization"].b)
  return consts, bn_attrs


def canonical_from_tensors(tensors: dict[str, Any], bn_attrs: dict,
                           source: str = "graph") -> dict[str, dict]:
  """Maps tensors named like the 2015-12-05 graph's nodes to canonical form.

  Conv kernels are "<scope>/conv2d_params" (already HWIO); batch norms are
  BatchNormWithGlobalNormalization nodes "<scope>/batchnorm" whose constant
  inputs are "<scope>/batchnorm/{beta,gamma,moving_mean,moving_variance}";
  the classifier is "softmax/weights" [2048, 1008] and "softmax/biases".
  `bn_attrs` maps batchnorm nodes to (epsilon, scale_after_normalization).
  """
  def get(name):
    if name not in tensors:
      raise KeyError(f"{source}: no tensor named {name!r} (expected by the "
                     "2015-12-05 Inception graph's layout).")
    return tensors[name]

  out: dict[str, dict] = {}
  for name, value in tensors.items():
    if name.endswith("/conv2d_params"):
      out.setdefault(name[:-len("/conv2d_params")], {})["kernel"] = value
  for scope, entry in out.items():
    bn = scope + "/batchnorm"
    eps, scale = bn_attrs.get(bn, (BN_EPSILON, False))
    if not np.isclose(eps, BN_EPSILON):
      raise ValueError(f"{bn}: epsilon {eps}, expected {BN_EPSILON}.")
    entry["beta"] = get(bn + "/beta")
    entry["mean"] = get(bn + "/moving_mean")
    entry["var"] = get(bn + "/moving_variance")
    # The graph stores gamma but ignores it unless scale_after_normalization.
    if scale:
      entry["gamma"] = get(bn + "/gamma")
  if "softmax/weights" in tensors:
    out["softmax"] = {"weights": tensors["softmax/weights"],
                      "biases": get("softmax/biases")}
  return {k: {f: np.asarray(v, np.float32) for f, v in e.items()}
          for k, e in out.items()}


def canonical_from_graph_def(graph_def: Any) -> dict[str, dict]:
  """Reads the constants of classify_image_graph_def.pb by node name."""
  return canonical_from_tensors(*_tensors_from_graph_def(graph_def))


# --------------------------------------------------------------- TF-Hub module

# TF-GAN's FID/IS Inception: the 2015-12-05 graph as a TF1 Hub module.
TFGAN_HUB_HANDLE = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
HUB_PIP = "pip install tensorflow-hub==0.16.1"
_HUB_PREFIXES = ("hub:", "tfhub:")
_HUB_URLS = ("https://tfhub.dev/", "https://www.kaggle.com/models/",
             "https://hub.tensorflow.google.cn/")
# Unambiguous node names of the graph, used to find a scope prefix.
_ANCHORS = ("softmax/weights", "conv/conv2d_params",
            "mixed_10/conv/conv2d_params")


def hub_source(weights: str) -> str | None:
  """The hub handle or module dir that `weights` names, else None.

  "hub:" (TF-GAN's module), "hub:<handle, URL or dir>", "tfhub:...", a
  tfhub.dev / Kaggle URL, or a directory holding saved_model.pb. Short
  handles ("tensorflow/tfgan/eval/inception/1") become tfhub.dev URLs.
  """
  spec = weights.strip()
  for prefix in _HUB_PREFIXES:
    if spec.startswith(prefix):
      spec = spec[len(prefix):] or TFGAN_HUB_HANDLE
      break
  else:
    if not (spec.startswith(_HUB_URLS) or _is_module_dir(spec)):
      return None
  if "://" in spec:
    return spec
  local = os.path.expanduser(spec)
  if os.path.isdir(local) or os.path.isabs(local) or spec.startswith("."):
    return local
  return "https://tfhub.dev/" + spec  # A short handle.


def _is_module_dir(path: str) -> bool:
  return any(os.path.isfile(os.path.join(os.path.expanduser(path), f))
             for f in ("saved_model.pb", "saved_model.pbtxt"))


def hub_cache_dir(cache_dir: str = "~/.cache/compare_gan2") -> str:
  """$TFHUB_CACHE_DIR if set (as hub does), else <cache_dir>/tfhub_modules."""
  return os.path.expanduser(os.environ.get("TFHUB_CACHE_DIR")
                            or os.path.join(cache_dir, "tfhub_modules"))


def _import_hub():
  try:
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    hint = (' and `pip install "setuptools<81"` (it imports pkg_resources)'
            if "pkg_resources" in str(e) else "")
    raise ImportError(f"Downloading a TF-Hub module needs tensorflow_hub: "
                      f"`{HUB_PIP}`{hint}.") from e
  return hub


def resolve_hub_module(handle: str, cache_dir: str = "~/.cache/compare_gan2",
                       download: bool = False) -> str:
  """Local directory of a hub module; no network unless `download`.

  A remote handle is looked up where tensorflow_hub caches it
  (<hub cache>/<sha1 of the handle>, see `hub_cache_dir`); if absent, raises
  FileNotFoundError naming the URL and where to extract it, or with
  `download=True` fetches it through `tensorflow_hub.resolve`.
  """
  if "://" not in handle:
    if _is_module_dir(handle):
      return os.path.expanduser(handle)
    raise FileNotFoundError(f"No saved_model.pb in {handle!r} (not a TF-Hub "
                            "module directory).")
  hub_dir = hub_cache_dir(cache_dir)
  module_dir = os.path.join(
      hub_dir, hashlib.sha1(handle.encode("utf8")).hexdigest())
  if os.path.isdir(module_dir) and os.listdir(module_dir):
    return module_dir
  if not download:
    url = handle + ("&" if "?" in handle else "?") + "tf-hub-format=compressed"
    raise FileNotFoundError(
        f"TF-Hub module {handle} is not in the cache and nothing is "
        "downloaded (no network access is attempted). Download\n"
        f"  {url}\n"
        f"and extract the .tar.gz into {module_dir}\n"
        f"(mkdir -p {module_dir} && tar xzf <file> -C {module_dir}), or pass "
        "download=True (needs tensorflow_hub and network).")
  hub = _import_hub()
  old = os.environ.get("TFHUB_CACHE_DIR")
  os.environ["TFHUB_CACHE_DIR"] = hub_dir  # Read by hub at call time.
  try:
    return hub.resolve(handle)
  finally:
    if old is None:
      del os.environ["TFHUB_CACHE_DIR"]
    else:
      os.environ["TFHUB_CACHE_DIR"] = old


def _pick_meta_graph(saved_model: Any) -> Any:
  """The module's default graph: no tags (TF1 Hub), "serve", else the first."""
  metas = list(saved_model.meta_graphs)
  if not metas:
    raise ValueError("SavedModel has no meta graph.")
  for wanted in (set(), {"serve"}):
    for meta in metas:
      if set(meta.meta_info_def.tags) == wanted:
        return meta
  return metas[0]


def _variables(module_dir: str, meta: Any) -> dict[str, np.ndarray]:
  """Variable values by graph name from <module_dir>/variables/variables."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import trackable_object_graph_pb2  # pylint: disable=g-import-not-at-top

  prefix = os.path.join(module_dir, "variables", "variables")
  if not tf.io.gfile.exists(prefix + ".index"):
    return {}
  reader = tf.train.load_checkpoint(prefix)
  keys = reader.get_variable_to_shape_map()
  graph_key = "_CHECKPOINTABLE_OBJECT_GRAPH"
  if graph_key not in keys:  # TF1: checkpoint keys are the variable names.
    return {k: reader.get_tensor(k) for k in keys}
  # TF2: SavedModel object-graph node i is checkpoint object-graph node i.
  ckpt_graph = trackable_object_graph_pb2.TrackableObjectGraph()
  ckpt_graph.ParseFromString(reader.get_tensor(graph_key))
  out = {}
  for node, ckpt_node in zip(meta.object_graph_def.nodes, ckpt_graph.nodes):
    if node.WhichOneof("kind") != "variable":
      continue
    for attr in ckpt_node.attributes:
      if attr.name == "VARIABLE_VALUE":
        out[node.variable.name] = reader.get_tensor(attr.checkpoint_key)
  return out


def _scope_prefix(names: Any) -> str:
  """The name scope (e.g. "module/") the graph was imported under."""
  found = [name[:-len(a)] for name in names for a in _ANCHORS
           if name.endswith(a) and (name == a or name[-len(a) - 1] == "/")]
  # Longer candidates are "<prefix>mixed_3/" etc. (for "conv/conv2d_params").
  return min(found, key=len) if found else ""


def _strip(prefix: str, named: dict[str, Any]) -> dict[str, Any]:
  return {k[len(prefix):]: v for k, v in named.items() if k.startswith(prefix)}


def canonical_from_saved_model(module_dir: str) -> dict[str, dict]:
  """Canonical weights of a SavedModel / TF1 Hub module of the 2015 graph.

  Reads constants (and variables, from the checkpoint) named like the nodes
  of classify_image_graph_def.pb, under any name scope, and maps them as
  `canonical_from_graph_def` does.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top

  module_dir = os.path.expanduser(module_dir)
  saved_model = saved_model_pb2.SavedModel()
  pb = os.path.join(module_dir, "saved_model.pb")
  if tf.io.gfile.exists(pb):
    with tf.io.gfile.GFile(pb, "rb") as f:
      saved_model.ParseFromString(f.read())
  else:
    with tf.io.gfile.GFile(pb + "txt", "r") as f:
      text_format.Parse(f.read(), saved_model)
  meta = _pick_meta_graph(saved_model)
  consts, bn_attrs = _tensors_from_graph_def(meta.graph_def)
  tensors = {**consts, **_variables(module_dir, meta)}
  prefix = _scope_prefix(tensors)
  return canonical_from_tensors(_strip(prefix, tensors),
                                _strip(prefix, bn_attrs), source=module_dir)


def assign_canonical(model: Any, canonical: dict[str, dict]) -> None:
  """Writes canonical weights into a built `FIDInception`, strictly.

  Every conv block must be covered, shapes must match and no source tensor
  may be left over; "softmax" is optional and sets `model.logits_loaded`.
  """
  blocks = model.conv_blocks  # {tf_scope: ConvBN}
  missing = sorted(set(blocks) - set(canonical))
  extra = sorted(set(canonical) - set(blocks) - {"softmax"})
  if missing or extra:
    raise KeyError(f"Weight names do not match the graph: missing {missing}, "
                   f"unexpected {extra}.")
  for scope, block in blocks.items():
    entry = dict(canonical[scope])
    gamma = entry.pop("gamma", None)
    if gamma is None:
      gamma = np.ones_like(entry["beta"])
    values = {"kernel": entry.pop("kernel"), "gamma": gamma,
              "beta": entry.pop("beta"), "mean": entry.pop("mean"),
              "var": entry.pop("var")}
    if entry:
      raise KeyError(f"{scope}: unexpected fields {sorted(entry)}.")
    targets = {"kernel": block.conv.kernel, "gamma": block.bn.gamma,
               "beta": block.bn.beta, "mean": block.bn.moving_mean,
               "var": block.bn.moving_variance}
    for field, var in targets.items():
      if tuple(var.shape) != values[field].shape:
        raise ValueError(f"{scope}/{field}: shape {values[field].shape}, "
                         f"expected {tuple(var.shape)}.")
      var.assign(values[field])
  if "softmax" in canonical:
    model.softmax.kernel.assign(canonical["softmax"]["weights"])
    model.softmax.bias.assign(canonical["softmax"]["biases"])
    model.logits_loaded = True
  else:
    model.logits_loaded = False
