"""Export and load of generators (hub.py): export -> load reproduces the run's
sampling generator, metadata round trip, original-style TF1 Hub modules,
interpolation, truncation and errors (the export and sample commands:
tests/cli/test_sample.py)."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.tools import hub
from hub_cases import runs  # noqa: F401 (fixture)


def test_export_load_reproduces_the_sampling_generator(runs):
  for name in ("uncond", "cond"):
    runner, path = runs[name]
    gen = hub.load_generator(path)
    z, labels = runner.sample_inputs(10)
    expected = runner.gan.sample(z, labels).numpy()
    got = gen(z.numpy(), None if labels is None else labels.numpy())
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=name)
    # The EMA generator, not the trained one (EMA started at step 2).
    assert runner.gan.sampling_generator is runner.gan.ema_generator


def test_metadata_round_trip(runs):
  runner, path = runs["cond"]
  gen = hub.load_generator(path)
  info = runner.info
  assert (gen.z_dim, gen.num_classes, gen.resolution, gen.colors, gen.step) == (
      info["z_dim"], info["num_classes"], info["resolution"], info["colors"], 2)
  assert gen.conditional and info["num_classes"] == 10
  assert "dcgan.Generator.ch = 4" in gen.gin_config
  assert gen.z_distribution == {"distribution": "uniform", "minval": -1.0, "maxval": 1.0}
  uncond = hub.load_generator(runs["uncond"][1])
  assert uncond.num_classes == 0 and not uncond.conditional
  # Plain TF sees the original signature names and keys.
  loaded = tf.saved_model.load(path)
  assert {"default", "generator", "discriminator"} <= set(loaded.signatures)
  assert set(loaded.signatures["generator"].structured_input_signature[1]) == {"z", "labels"}
  assert int(loaded.z_dim.numpy()) == info["z_dim"]
  images = runner.gan.sample(*runner.sample_inputs(4)).numpy()
  labels = tf.constant([0, 1, 2, 3])
  d = loaded.signatures["discriminator"](images=tf.constant(images), labels=labels)
  probs, logits, _ = runner.gan.discriminator(images, runner.gan.one_hot(labels),
                                              training=False)
  np.testing.assert_allclose(d["logits"].numpy(), logits.numpy(), atol=1e-5)
  np.testing.assert_allclose(d["probs"].numpy(), probs.numpy(), atol=1e-5)


def _tf1_module(path, z_dim=120, num_classes=5, res=4):
  """A TF1-format SavedModel shaped like the released compare_gan modules:
  signatures "default" and "generator", {"z", "labels"} -> "generated", an
  untagged inference graph and a "train" one. Returns G's weight."""
  with tf.Graph().as_default():
    z = tf.compat.v1.placeholder(tf.float32, [None, z_dim], name="z")
    labels = tf.compat.v1.placeholder(tf.int32, [None], name="labels")
    w = tf.compat.v1.get_variable(
        "generator/w", [z_dim + num_classes, res * res * 3],
        initializer=tf.compat.v1.random_normal_initializer(stddev=0.1, seed=1))
    h = tf.matmul(tf.concat([z, tf.one_hot(labels, num_classes)], 1), w)
    generated = tf.sigmoid(tf.reshape(h, [-1, res, res, 3]))
    info = tf.compat.v1.saved_model.utils.build_tensor_info
    sig = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
        inputs={"z": info(z), "labels": info(labels)},
        outputs={"generated": info(generated)})
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      builder = tf.compat.v1.saved_model.Builder(path)
      builder.add_meta_graph_and_variables(
          sess, tags=[], signature_def_map={"default": sig, "generator": sig})
      builder.add_meta_graph(["train"], signature_def_map={"default": sig})
      builder.save()
      return sess.run(w)


def test_tf1_hub_module_loads_and_samples(tmp_path):
  path = str(tmp_path / "s3gan_like")
  w = _tf1_module(path)
  gen = hub.load_generator(path)
  assert (gen.z_dim, gen.num_classes, gen.resolution, gen.colors) == (120, 5, 4, 3)
  assert gen.step is None and gen.z_distribution["distribution"] == "normal"
  images, z, labels = gen.sample(6, labels=[1, 4], seed=0, return_inputs=True)
  assert labels.tolist() == [1, 4, 1, 4, 1, 4]
  expected = 1 / (1 + np.exp(-(np.concatenate([z, np.eye(5)[labels]], 1) @ w)))
  np.testing.assert_allclose(images, expected.reshape(-1, 4, 4, 3), atol=1e-5)
  # Truncation of a normal z redraws |z| > t; the seed repeats the draw.
  z = gen.sample_z(50, truncation=0.5, seed=3)
  assert np.abs(z).max() <= 0.5 and np.abs(z).min() < 0.1
  np.testing.assert_array_equal(z, gen.sample_z(50, truncation=0.5, seed=3))
  with pytest.raises(ValueError, match=r"labels must be in \[0, 5\)"):
    gen.sample(2, labels=[5])


def test_interpolation(runs):
  gen = hub.load_generator(runs["cond"][1])
  z0, z1 = gen.sample_z(2, seed=1)
  for kind in ("linear", "spherical"):
    images, z, labels = gen.interpolate(5, z0, z1, labels=3, kind=kind,
                                        return_inputs=True)
    assert images.shape == (5, gen.resolution, gen.resolution, gen.colors)
    assert labels.tolist() == [3] * 5
    np.testing.assert_allclose(images[0], gen(z0[None], [3])[0], atol=1e-6)
    np.testing.assert_allclose(images[-1], gen(z1[None], [3])[0], atol=1e-6)
  np.testing.assert_allclose(gen.interpolate(3, z0, z1, labels=3)[1],
                             gen((z0 + z1)[None] / 2, [3])[0], atol=1e-6)
  # Spherical: ends of equal norm keep it all along; otherwise it goes linearly.
  z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)
  z = gen.interpolate(7, z0, z1, labels=0, kind="spherical", return_inputs=True)[1]
  np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(z0), rtol=1e-5)
  lin = gen.interpolate(7, z0, z1, labels=0, kind="linear", return_inputs=True)[1]
  assert np.linalg.norm(lin[3]) < 0.99 * np.linalg.norm(z0)
  z = gen.interpolate(5, z0, 2 * z1, labels=0, kind="spherical", return_inputs=True)[1]
  np.testing.assert_allclose(np.linalg.norm(z, axis=1),
                             np.linalg.norm(z0) * np.linspace(1, 2, 5), rtol=1e-5)


def test_errors(runs, tmp_path):
  with pytest.raises(FileNotFoundError, match="no_such_dir"):
    hub.load_generator(str(tmp_path / "no_such_dir"))
  with pytest.raises(hub.GeneratorLoadError, match="no saved_model.pb"):
    hub.load_generator(str(tmp_path))

  class NotAGenerator(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def serve(self, x):
      return {"y": 2 * x}

  module = NotAGenerator()
  tf.saved_model.save(module, str(tmp_path / "other"),
                      signatures={"serving_default": module.serve})
  with pytest.raises(hub.GeneratorLoadError, match="not a generator.*serving_default"):
    hub.load_generator(str(tmp_path / "other"))
  cond = hub.load_generator(runs["cond"][1])
  with pytest.raises(ValueError, match="conditional.*pass labels"):
    cond(np.zeros([2, cond.z_dim], np.float32))
  with pytest.raises(ValueError, match=r"z must have shape \[N, 8\]"):
    cond(np.zeros([2, 7], np.float32), [0, 1])
  uncond = hub.load_generator(runs["uncond"][1])
  with pytest.raises(ValueError, match="unconditional"):
    uncond(np.zeros([2, 8], np.float32), [0, 1])
  with pytest.raises(FileExistsError):
    hub.export_generator(runs["uncond"][0], runs["uncond"][1])
  with pytest.raises(FileNotFoundError, match="Available steps: \\[2\\]"):
    hub.export_generator(str(runs["root"] / "uncond"), str(tmp_path / "x"), step=7)
  # URLs and tfhub.dev handles go to tensorflow_hub, paths stay local.
  assert hub._is_remote("https://tfhub.dev/google/compare_gan/ssgan_128x128/1")
  assert hub._is_remote("tfhub.dev/google/compare_gan/ssgan_128x128/1")
  assert not hub._is_remote(str(tmp_path))
