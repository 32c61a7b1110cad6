"""Inception weights for the loader tests: random weights of the model's shapes,
the check that a model holds them, and graphs and SavedModels laid out like the
released files."""

import numpy as np
import tensorflow as tf

from compare_gan2.metrics import inception


def _synthetic_weights(model, rng):
  """Random canonical weights with the model's shapes, gamma and softmax."""
  if _WEIGHTS:
    return _WEIGHTS[0]
  canonical = {}
  for scope, block in model.conv_blocks.items():
    n = block.conv.kernel.shape[-1]
    canonical[scope] = {
        "kernel": rng.standard_normal(block.conv.kernel.shape, np.float32),
        "gamma": rng.uniform(0.5, 1.5, n).astype(np.float32),
        "beta": rng.normal(size=n).astype(np.float32),
        "mean": rng.normal(size=n).astype(np.float32),
        "var": rng.uniform(0.5, 2.0, n).astype(np.float32)}
  canonical["softmax"] = {
      "weights": rng.standard_normal((2048, 1008), np.float32),
      "biases": rng.normal(size=1008).astype(np.float32)}
  _WEIGHTS.append(canonical)
  return canonical


def _check_loaded(model, canonical, with_gamma):
  for scope, block in model.conv_blocks.items():
    entry = canonical[scope]
    np.testing.assert_array_equal(block.conv.kernel.numpy(), entry["kernel"])
    np.testing.assert_array_equal(block.bn.moving_variance.numpy(),
                                  entry["var"])
    gamma = entry["gamma"] if with_gamma else np.ones_like(entry["gamma"])
    np.testing.assert_array_equal(block.bn.gamma.numpy(), gamma)
  np.testing.assert_array_equal(model.softmax.kernel.numpy(),
                                canonical["softmax"]["weights"])
  assert model.logits_loaded


# Building the model and random weights takes seconds: share them.
_MODEL = []
_WEIGHTS = []


def _built_model():
  if not _MODEL:
    model = inception.FIDInception()
    model.build_weights()
    _MODEL.append(model)
  return _MODEL[0]


# ------------------------------------------------------- TF-Hub / SavedModel


def _bn_fields(scope, e):
  return {f"{scope}/batchnorm/{n}": e[f] for f, n in (
      ("beta", "beta"), ("gamma", "gamma"), ("mean", "moving_mean"),
      ("var", "moving_variance"))}


def _graph_tensors(canonical):
  """{node name: value} laid out like classify_image_graph_def.pb."""
  out = {}
  for scope, e in canonical.items():
    if scope == "softmax":
      out["softmax/weights"] = e["weights"]
      out["softmax/biases"] = e["biases"]
    else:
      out[f"{scope}/conv2d_params"] = e["kernel"]
      out.update(_bn_fields(scope, e))
  return out


def _save_tf1_module(path, tensors, prefix="module/", variables=False,
                     hub_layout=True, scale=("conv",)):
  """TF1 SavedModel (Hub layout: tags {} and {"train"}, tfhub_module.pb).

  BatchNormWithGlobalNormalization nodes (epsilon, scale flag) are added to
  the saved proto afterwards: TF refuses to build that op since GraphDef v9.
  """
  v1 = tf.compat.v1
  graph = tf.Graph()
  with graph.as_default():
    for name, value in tensors.items():
      scope, _, leaf = (prefix + name).rpartition("/")
      with v1.variable_scope(scope, auxiliary_name_scope=False), \
          v1.name_scope(scope + "/"):
        if variables:
          v1.get_variable(leaf, initializer=tf.constant(value))
        else:
          tf.constant(value, name=leaf)
    with v1.Session(graph=graph) as sess:
      sess.run(v1.global_variables_initializer())
      builder = v1.saved_model.Builder(str(path))
      builder.add_meta_graph_and_variables(sess, [] if hub_layout
                                           else ["serve"])
      if hub_layout:
        builder.add_meta_graph(["train"])
      builder.save()
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  pb = path / "saved_model.pb"
  saved = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
  for meta in saved.meta_graphs:
    for bn in sorted({n.rpartition("/")[0] for n in tensors
                      if "/batchnorm/" in n}):
      node = meta.graph_def.node.add(name=prefix + bn,
                                     op="BatchNormWithGlobalNormalization")
      node.attr["variance_epsilon"].f = 0.001
      node.attr["scale_after_normalization"].b = bn[:-10] in scale
  pb.write_bytes(saved.SerializeToString())
  if hub_layout:
    (path / "tfhub_module.pb").write_bytes(b"\x08\x03")  # ModuleDef v3.
  return str(path)
