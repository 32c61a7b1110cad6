"""TPU-shaped training on CPU: the Runner's whole loop of iterations_per_loop
steps compiled by XLA as one program (`run_config.compile_loop`), for every
GAN class, with and without DiffAugment, with a penalty. Static input
shapes, no op XLA cannot compile (the error names it), and the same weights
as the uncompiled loop.

Tolerance: XLA fuses and reorders float32 arithmetic (sums, convolutions,
the penalty's double backward), so values differ in the last bits; after a
few Adam steps (whose update m / sqrt(v) amplifies tiny differences in
near-zero gradients) weights agree to rtol 1e-4, atol 1e-5, not bitwise.
"""

import os

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.core import config
from compare_gan2.gans import progan  # noqa: F401  (registers ProgressiveGAN)
from compare_gan2.runner import Runner
from compare_gan2.runner import errors as errors_lib
from run_cases import TINY_RUN, checkpoint_values


STEPS = 3
PENALTY = ["penalty.fn = @wgangp_penalty", "options.lamba = 10"]
AUGMENT = ['DiffAugment.policy = "color,translation,cutout"']
# 16 px ProGAN, 8 images a step at 4x4 and 8x8, 4 at 16x16; 8 images per
# level and 16 per transition: 8 steps grow through both transitions (lods
# 2, 2, 1.5, 1, 1, 0.5, 0.25, 0) and change the batch once.
PROGAN = [
    'options.architecture = "progan_arch"', "options.gan_class = @ProgressiveGAN",
    "ProgressiveGAN.training_kimg = 0.008", "ProgressiveGAN.transition_kimg = 0.016",
    "ProgressiveGAN.batch_sizes = {16: 4}", "progan.Generator.fmap_base = 32",
    "progan.Generator.fmap_max = 4", "progan.Discriminator.fmap_base = 32",
    "progan.Discriminator.fmap_max = 4", "run_config.iterations_per_loop = 8",
    "run_config.save_checkpoints_steps = 8", "G.batch_norm_fn = None",
    "D.spectral_norm = False"]
GANS = {
    "ModularGAN": [],
    "SSGAN": ["options.gan_class = @SSGAN"],
    "S3GAN": ["options.gan_class = @S3GAN", "S3GAN.use_penalty = True"],
    "S3GAN_predictor": ["options.gan_class = @S3GAN", "S3GAN.use_penalty = True",
                        "S3GAN.project_y = True", "S3GAN.use_predictor = True"],
    "ProgressiveGAN": PROGAN,
}


def make_runner(model_dir, bindings, steps=STEPS):
  gin.clear_config()
  compare_gan2.parse_gin([], TINY_RUN + [f"options.training_steps = {steps}",
                               f"run_config.iterations_per_loop = {steps}",
                               f"run_config.save_checkpoints_steps = {steps}"]
               + list(bindings))
  return Runner(str(model_dir))


def train_both(tmp_path, bindings, steps=STEPS):
  """Checkpoint values after `steps` steps, uncompiled and compiled loop."""
  out = []
  for compiled in (False, True):
    runner = make_runner(tmp_path / f"compiled_{compiled}",
                         list(bindings) + [f"run_config.compile_loop = {compiled}"],
                         steps)
    if compiled:  # every dimension of the step inputs is known
      spec = runner.train_inputs(0).element_spec
      for name, s in spec.items():
        assert s.shape.is_fully_defined(), (name, s.shape)
    assert runner.train() == steps
    out.append(checkpoint_values(str(tmp_path / f"compiled_{compiled}" /
                                     f"model.ckpt-{steps}")))
    if compiled:
      traces = runner.loop.loop_fn().experimental_get_tracing_count()
  return out, traces


def assert_close(plain, compiled):
  assert plain.keys() == compiled.keys()
  for key in plain:
    np.testing.assert_allclose(compiled[key], plain[key], rtol=1e-4, atol=1e-5,
                               err_msg=key)


def test_compiled_loop_equals_the_plain_loop(tmp_path):
  """The fast representative: ModularGAN (DCGAN, batch norm in G, spectral
  norm in D, EMA), WGAN-GP, DiffAugment."""
  (plain, compiled), traces = train_both(tmp_path, PENALTY + AUGMENT)
  assert traces == 1
  assert_close(plain, compiled)


# CI runs every class once, DiffAugment on and off across the classes (the
# fast test adds ModularGAN with DiffAugment; test_progan's jit test ProGAN's
# step through two transitions): each case compiles twice (1 to 4 min).
# COMPARE_GAN2_XLA_MATRIX=1 runs the whole 10-case matrix.
CI_CASES = {("ModularGAN", False), ("SSGAN", True), ("S3GAN", False),
            ("S3GAN_predictor", True), ("ProgressiveGAN", False)}


def _matrix():
  for gan in sorted(GANS):
    for augment in (False, True):
      marks = [] if (gan, augment) in CI_CASES else [pytest.mark.skipif(
          not os.environ.get("COMPARE_GAN2_XLA_MATRIX"),
          reason="full matrix: set COMPARE_GAN2_XLA_MATRIX=1")]
      yield pytest.param(gan, augment, marks=marks,
                         id=f"{gan}-{'diffaugment' if augment else 'plain'}")


@pytest.mark.slow
@pytest.mark.parametrize("gan,augment", _matrix())
def test_every_gan_compiles_whole_loops(tmp_path, gan, augment):
  steps = 8 if gan == "ProgressiveGAN" else STEPS
  bindings = GANS[gan] + PENALTY + (AUGMENT if augment else [])
  (plain, compiled), traces = train_both(tmp_path, bindings, steps)
  # ProGAN: one loop per batch (5 steps of 8 examples, 3 of 4), one trace each.
  assert traces == (2 if gan == "ProgressiveGAN" else 1)
  assert_close(plain, compiled)


def test_unsupported_op_is_named(tmp_path, monkeypatch):
  """An op without an XLA kernel in the step fails the compiled loop with
  an error naming it."""
  runner = make_runner(tmp_path, ["run_config.compile_loop = True"])
  prepare = runner.gan.prepare_reals
  monkeypatch.setattr(runner.gan, "prepare_reals", lambda x: prepare(
      tf.numpy_function(lambda a: a, [x], tf.float32, stateful=False)))
  with pytest.raises(errors_lib.XlaCompileError, match="PyFunc") as info:
    runner.train()
  assert any(op.startswith("PyFunc") for op in info.value.ops)


def test_compile_loop_option_errors(tmp_path, mirrored_strategy):
  with pytest.raises(ValueError, match="compile_loop` must be True or False"):
    make_runner(tmp_path, ["run_config.compile_loop = 1"])
  gin.clear_config()
  compare_gan2.parse_gin([], TINY_RUN + ["run_config.compile_loop = True"])
  with pytest.raises(ValueError, match="one replica per process"):
    Runner(str(tmp_path / "m"), strategy=mirrored_strategy)


# --- Evaluation under the same constraints --------------------------------------

def test_compiled_sampling_is_traced_once_for_a_partial_last_batch(tmp_path):
  """10 samples in batches of 4: the last batch is padded to 4, so the
  XLA-compiled sampling function is traced once; the samples are those of
  the generator on the first 10 latents."""
  runner = make_runner(tmp_path, ["run_config.compile_loop = True"])
  samples = runner.generate(10, batch_size=4)
  assert samples.shape == (10, 16, 16, 3)
  assert runner.sample_fn().experimental_get_tracing_count() == 1
  runner.generate(7, batch_size=4)
  assert runner.sample_fn().experimental_get_tracing_count() == 1
  z, _ = runner.sample_inputs(10)
  np.testing.assert_allclose(samples, runner.gan.sample(z).numpy(), rtol=1e-5,
                             atol=1e-5)


def test_inception_features_traced_once_for_a_partial_last_batch(monkeypatch):
  """5 images in batches of 2 (the last padded): one trace, and the
  features of the unpadded images."""
  from compare_gan2.metrics import inception
  model = inception.FIDInception()
  model.build_weights()
  traces = []
  preprocess = inception.preprocess
  monkeypatch.setattr(inception, "preprocess",
                      lambda *a, **k: traces.append(1) or preprocess(*a, **k))
  images = np.random.RandomState(0).rand(5, 8, 8, 3).astype(np.float32)
  out = inception.extract(model, images, batch_size=2)["pool_3"]
  assert len(traces) == 1
  assert out.shape == (5, 2048)
  full = model(preprocess(images), training=False)["pool_3"].numpy()
  np.testing.assert_allclose(out, full, rtol=1e-4, atol=1e-5)
