"""Weight loaders for `FIDInception`: TorchScript/PyTorch ports and the TF graph.

Every source is reduced to one canonical form, a dict keyed by the TF graph's
node scopes ("mixed_9/tower/mixed/conv") holding HWIO kernels and batch-norm
vectors, which `assign_canonical` writes into the Keras layers (named after
the same scopes with "/" replaced by ".", since Keras forbids "/").
"""

from __future__ import annotations

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


def canonical_from_graph_def(graph_def: Any) -> dict[str, dict]:
  """Reads the constants of classify_image_graph_def.pb by node name.

  Conv kernels are "<scope>/conv2d_params" (already HWIO); batch norms are
  BatchNormWithGlobalNormalization nodes "<scope>/batchnorm" whose constant
  inputs are "<scope>/batchnorm/{beta,gamma,moving_mean,moving_variance}";
  the classifier is "softmax/weights" [2048, 1008] and "softmax/biases".
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  consts = {}
  bn_attrs = {}
  for node in graph_def.node:
    if node.op == "Const":
      consts[node.name] = tf.make_ndarray(node.attr["value"].tensor)
    elif node.op == "BatchNormWithGlobalNormalization":
      bn_attrs[node.name] = (node.attr["variance_epsilon"].f,
                             node.attr["scale_after_normalization"].b)
  out: dict[str, dict] = {}
  for name, value in consts.items():
    if name.endswith("/conv2d_params"):
      out.setdefault(name[:-len("/conv2d_params")], {})["kernel"] = value
  for scope, entry in out.items():
    bn = scope + "/batchnorm"
    eps, scale = bn_attrs.get(bn, (BN_EPSILON, False))
    if not np.isclose(eps, BN_EPSILON):
      raise ValueError(f"{bn}: epsilon {eps}, expected {BN_EPSILON}.")
    entry["beta"] = consts[bn + "/beta"]
    entry["mean"] = consts[bn + "/moving_mean"]
    entry["var"] = consts[bn + "/moving_variance"]
    # The graph stores gamma but ignores it unless scale_after_normalization.
    if scale:
      entry["gamma"] = consts[bn + "/gamma"]
  if "softmax/weights" in consts:
    out["softmax"] = {"weights": consts["softmax/weights"],
                      "biases": consts["softmax/biases"]}
  return {k: {f: np.asarray(v, np.float32) for f, v in e.items()}
          for k, e in out.items()}


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
