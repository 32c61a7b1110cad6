"""Reading Inception weights by name: pytorch-fid's names, TF-Hub modules and
SavedModels (TF1 and TF2), the Hub cache layout, offline handles."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.metrics import inception
from inception_cases import (_built_model, _check_loaded, _graph_tensors,
                             _save_tf1_module, _synthetic_weights)


def test_pytorch_fid_names_cover_the_graph():
  """torchvision-style names (pytorch-fid .pth) map onto every conv block."""
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  model = _built_model()
  canonical = _synthetic_weights(model, np.random.default_rng(3))
  scope_to_torch = {v: k for k, v in iw._PTFID_BLOCKS.items()}  # pylint: disable=protected-access
  state_dict = {}
  for block, branches in iw._PTFID_BRANCHES.items():  # pylint: disable=protected-access
    for branch, sub in branches.items():
      scope_to_torch[f"{iw._PTFID_BLOCKS[block]}/{sub}"] = f"{block}.{branch}"  # pylint: disable=protected-access
  for scope, e in canonical.items():
    if scope == "softmax":
      state_dict["fc.weight"] = e["weights"].T
      state_dict["fc.bias"] = e["biases"]
      continue
    prefix = scope_to_torch[scope]
    state_dict[f"{prefix}.conv.weight"] = e["kernel"].transpose(3, 2, 0, 1)
    state_dict[f"{prefix}.bn.weight"] = e["gamma"]
    state_dict[f"{prefix}.bn.bias"] = e["beta"]
    state_dict[f"{prefix}.bn.running_mean"] = e["mean"]
    state_dict[f"{prefix}.bn.running_var"] = e["var"]
    state_dict[f"{prefix}.bn.num_batches_tracked"] = np.array(0)
  inception.load_torch_state_dict(model, state_dict)
  _check_loaded(model, canonical, with_gamma=True)


def _small_canonical(rng):
  """A few blocks of the graph, including the first conv and the logits."""
  scopes = {"conv": (3, 3, 3, 32),
            "mixed_10/tower_1/mixed/conv_1": (3, 1, 4, 5)}
  out = {s: {"kernel": rng.standard_normal(k, np.float32),
             **{f: rng.uniform(0.5, 1.5, k[-1]).astype(np.float32)
                for f in ("gamma", "beta", "mean", "var")}}
         for s, k in scopes.items()}
  out["softmax"] = {"weights": rng.standard_normal((6, 7), np.float32),
                    "biases": rng.standard_normal(7, np.float32)}
  return out


def _assert_canonical(got, want, scale=()):
  assert set(got) == set(want)
  for scope, e in want.items():
    fields = {"weights", "biases"} if scope == "softmax" else {
        "kernel", "beta", "mean", "var"}  # gamma used only if scaled.
    fields |= {"gamma"} if scope in scale else set()
    assert set(got[scope]) == fields
    for f in fields:
      np.testing.assert_array_equal(got[scope][f], e[f])


@pytest.mark.parametrize("variables", [False, True])
def test_hub_module_read_by_node_name(tmp_path, variables):
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  want = _small_canonical(np.random.default_rng(4))
  path = _save_tf1_module(tmp_path / "m", _graph_tensors(want),
                          variables=variables)
  assert iw.hub_source("hub:" + path) == path
  assert iw.hub_source(path) == path  # A module dir is recognised as such.
  # "conv" has scale_after_normalization: the flag is found under the scope.
  _assert_canonical(iw.canonical_from_saved_model(
      iw.resolve_hub_module(path)), want, scale=("conv",))


def test_tf2_saved_model_variables(tmp_path):
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  want = _small_canonical(np.random.default_rng(5))
  module = tf.Module()
  module.vs = [tf.Variable(v, name="scope/" + n)
               for n, v in _graph_tensors(want).items()]
  tf.saved_model.save(module, str(tmp_path))
  _assert_canonical(iw.canonical_from_saved_model(str(tmp_path)), want)


def test_hub_module_missing_tensor_is_named(tmp_path):
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  tensors = _graph_tensors(_small_canonical(np.random.default_rng(6)))
  del tensors["conv/batchnorm/moving_variance"]
  path = _save_tf1_module(tmp_path, tensors, hub_layout=False)
  with pytest.raises(KeyError, match="'conv/batchnorm/moving_variance'"):
    iw.canonical_from_saved_model(path)


def test_hub_remote_handle_offline(tmp_path, monkeypatch):
  import hashlib  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  handle = iw.hub_source("hub:tensorflow/tfgan/eval/inception/1")
  assert handle == iw.TFGAN_HUB_HANDLE == iw.hub_source("hub:")
  module_dir = tmp_path / hashlib.sha1(handle.encode()).hexdigest()
  start = time.time()
  with pytest.raises(FileNotFoundError) as e:
    inception.get_inception(weights="hub:", cache_dir=str(tmp_path / "unused"))
  assert time.time() - start < 2.0  # No network timeout.
  msg = str(e.value)
  assert handle + "?tf-hub-format=compressed" in msg
  assert str(module_dir) in msg
  # Once extracted there, it is found (without tensorflow_hub).
  module_dir.mkdir()
  (module_dir / "saved_model.pb").write_bytes(b"")
  assert iw.resolve_hub_module(handle) == str(module_dir)
  # Without TFHUB_CACHE_DIR the library's cache dir is used.
  monkeypatch.delenv("TFHUB_CACHE_DIR")
  assert iw.hub_cache_dir(str(tmp_path)) == str(tmp_path / "tfhub_modules")


def test_hub_cache_layout_matches_tensorflow_hub(tmp_path, monkeypatch):
  """tensorflow_hub.resolve finds a module where we look for it (offline)."""
  import sys  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  try:
    import pkg_resources  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:  # setuptools>=81; tensorflow_hub 0.16.1 needs it.
    version = pytest.importorskip("packaging.version")
    shim = types.ModuleType("pkg_resources")
    shim.parse_version = version.parse
    monkeypatch.setitem(sys.modules, "pkg_resources", shim)
  hub = pytest.importorskip("tensorflow_hub")
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  with pytest.raises(FileNotFoundError):
    iw.resolve_hub_module(iw.TFGAN_HUB_HANDLE)
  module_dir = tmp_path / "m"
  _save_tf1_module(module_dir, {}, hub_layout=True)
  import hashlib  # pylint: disable=g-import-not-at-top
  module_dir.rename(tmp_path / hashlib.sha1(
      iw.TFGAN_HUB_HANDLE.encode()).hexdigest())
  ours = iw.resolve_hub_module(iw.TFGAN_HUB_HANDLE)
  assert hub.resolve(iw.TFGAN_HUB_HANDLE) == ours
