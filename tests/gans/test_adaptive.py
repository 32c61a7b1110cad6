"""ADA's p controller (compare_gan2/gans/adaptive.py) against the original's
heuristic (stylegan2-ada training_loop.py, transcribed in ada_reference.py),
in every GAN class, across replicas, under XLA and across a checkpoint."""


import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.gans.adaptive import ADA
from compare_gan2.core.registry import REGISTRIES
from compare_gan2.runner import schedules
from gan_cases import NUM_CLASSES, class_step, make_gan, two_distributed_steps
from run_cases import (assert_close_values, assert_resume_equals_uninterrupted,
                       checkpoint_values, plain_and_compiled_loops)
from tiny_configs import GAN_CLASSES
import ada_reference as reference


def _logit_sequence(steps, batch, seed=0):
  """D's real logits per step: mostly positive (overfitting) for a while, then
  mostly negative, then about the target, so that p rises, falls and is
  clamped at 0."""
  rng = np.random.RandomState(seed)
  shift = np.concatenate([np.full(steps // 3, 1.5), np.full(steps // 3, -1.5),
                          np.full(steps - 2 * (steps // 3), 0.84)])
  return [(shift[t] + rng.randn(batch)).astype(np.float32) for t in range(steps)]


@pytest.mark.parametrize("kimg,interval", [(500.0, 4), (0.2, 4), (0.05, 3)])
def test_p_trajectory_equals_the_original(kimg, interval):
  batch, steps = 32, 48
  logits = _logit_sequence(steps, batch)
  expected = reference.rt_controller([np.sign(l) for l in logits], batch, interval,
                                     0.6, kimg, p=0.0)
  controller = ADA(pipeline="bgc", interval=interval, kimg=kimg)
  controller.build()
  ours = []
  for step, l in enumerate(logits, start=1):
    controller.accumulate(ADA.sign_stats(l))
    ours.append(float(controller.tune(tf.constant(step, tf.int64))["ada_p"]))
  np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-7)
  assert max(expected) > 0.0 and (kimg == 500.0 or min(expected[steps // 2:]) == 0.0)


def test_fixed_p_and_max_p():
  logits = _logit_sequence(12, 8)
  fixed, capped = ADA("bgc", p=0.3, adaptive=False, interval=1), ADA("bgc", interval=1,
                                                                     kimg=0.004, max_p=0.5)
  for c in (fixed, capped):
    c.build()
  for step, l in enumerate(logits[:4], start=1):
    for c in (fixed, capped):
      c.accumulate(ADA.sign_stats(l))
      out = c.tune(step)
  assert float(fixed.p) == pytest.approx(0.3)
  assert float(out["ada_p"]) == 0.5  # 4 rises of 8 / 4 = 2 each, capped
  assert float(out["ada_rt"]) == pytest.approx(np.mean(np.sign(logits[3])))


@pytest.mark.parametrize("kwargs,message", [
    ({"pipeline": "bgcx"}, "Unknown ADA.pipeline entries"),
    ({"pipeline": "bgc", "interval": 0}, "ADA.interval"),
    ({"pipeline": "bgc", "kimg": 0}, "ADA.kimg"),
    ({"pipeline": "bgc", "strengths": {"rot": 1}}, "unknown keys")])
def test_bad_settings_are_one_clear_error(kwargs, message):
  with pytest.raises(ValueError, match=message):
    ADA(**kwargs)


# --- In every GAN class ---------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("policy", ["", "translation,cutout"])
@pytest.mark.parametrize("name", sorted(GAN_CLASSES))
def test_every_gan_class_tunes_p_from_d_real_signs(name, policy):
  """One step with interval 1: p moved by sign(r_t - 0.6) * 8 / (kimg * 1000)
  with r_t in [-1, 1] the mean sign of D's real logits; logged and held."""
  gin.clear_config()
  arch, conditional, bindings, kwargs = GAN_CLASSES[name]
  base = make_gan(arch, conditional=conditional,
                  bindings=[*bindings, f"DiffAugment.policy = '{policy}'"])
  gan = REGISTRIES["gan"].get(name)(
      generator=base.generator, discriminator=base.discriminator,
      num_classes=NUM_CLASSES if conditional else 0,
      ada=ADA("bgc", p=0.2, interval=1, kimg=0.08), **kwargs)
  metrics = class_step(gan)
  rt, p = float(metrics["ada_rt"]), float(metrics["ada_p"])
  assert -1.0 <= rt <= 1.0 and rt * 8 == pytest.approx(round(rt * 8))
  assert p == pytest.approx(max(0.2 + np.sign(rt - 0.6) * 0.1, 0.0))
  assert "ada_signs_sum" not in metrics and "ada" in gan.checkpoint_items()
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_d_sees_the_augmented_images_at_p_and_gin_selects_it():
  gin.parse_config(["ADA.pipeline = 'bgc'", "ADA.p = 1.0", "ADA.adaptive = False"])
  gan = make_gan("dcgan_arch")
  assert gan.ada.ops == ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
                         "brightness", "contrast", "lumaflip", "hue", "saturation")
  x = tf.random.stateless_uniform([4, 16, 16, 3], [0, 1])
  seeds = tf.constant([[0, i] for i in range(4)], tf.int32)
  assert float(tf.reduce_max(tf.abs(gan.preprocess(x, seeds, 1) - x))) > 0.3
  gan.ada.p.assign(0.0)
  np.testing.assert_allclose(gan.preprocess(x, seeds, 1).numpy(), x.numpy(), atol=1e-5)
  gin.clear_config()
  plain = make_gan("dcgan_arch")
  assert not plain.ada and "ada" not in plain.checkpoint_items()
  assert make_gan("dcgan_arch", ada="blit").ada.ops == ("xflip", "rotate90", "xint")
  with pytest.raises(ValueError, match="ModularGAN.ada must be"):
    make_gan("dcgan_arch", ada=3)


# --- Replicas and XLA ------------------------------------------------------------------

def _two_steps(strategy, jit=False):
  gin.clear_config()
  with strategy.scope():
    gan = make_gan("dcgan_arch", conditional=True, batch_norm_g=False, disc_iters=2,
                   jit_compile=jit, ada=ADA("bgc", p=0.5, interval=1, kimg=0.1))
  return two_distributed_steps(strategy, gan), [v.numpy() for v in gan.ada.variables]


def test_mirrored_and_xla_equal_single_replica(mirrored_strategy):
  """Two replicas (signs summed over them), and one XLA-compiled replica:
  the same p, r_t and losses as one plain replica."""
  m1, s1 = _two_steps(tf.distribute.get_strategy())
  assert s1[0] != 0.5 or s1[1] != 0.0  # p or r_t moved
  for m2, s2 in (_two_steps(mirrored_strategy), _two_steps(tf.distribute.get_strategy(),
                                                           jit=True)):
    np.testing.assert_allclose(s2, s1, rtol=1e-5, atol=1e-6)
    for key in ("ada_p", "ada_rt", "d_loss", "g_loss"):
      assert m2[key] == pytest.approx(m1[key], rel=1e-4, abs=1e-5), key


# --- Checkpoints -------------------------------------------------------------------------

def test_resumed_run_equals_uninterrupted(tmp_path, caplog):
  """Stop at 4, resume to 8 (p updated every 2 steps, moving visibly): the
  same p, accumulators, weights and optimizer state as one run to 8; p and
  r_t are in the progress line and in the checkpoint's scores row."""
  caplog.set_level("INFO", logger="compare_gan2")
  bindings = ["ADA.pipeline = 'bgc'", "ADA.interval = 2", "ADA.kimg = 0.05"]
  full_runner, full = assert_resume_equals_uninterrupted(tmp_path, bindings)
  state = [v for k, v in checkpoint_values(full).items() if k.startswith("ada")]
  assert len(state) == 4 and any(float(v) != 0.0 for v in state)
  lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
  assert "ada_p" in lines[-1] and "ada_rt" in lines[-1]
  [p] = [float(v) for k, v in checkpoint_values(full).items()
         if k.startswith("ada/") and k.endswith(".p/.ATTRIBUTES/VARIABLE_VALUE")]
  row = schedules.evaluate_checkpoint(full_runner, full, num_averaging_runs=1)
  assert row["ADA.pipeline"].startswith("xflip,rotate90") and row["ada_p"] == pytest.approx(p)


@pytest.mark.parametrize("name,kimg,policy", [("ada_digits", 20.0, ""),
                                              ("ada_biggan_cifar10", 500.0, "")])
def test_shipped_configs_select_ada(name, kimg, policy):
  from compare_gan2.core import config
  from compare_gan2.augment.diffaugment import DiffAugment
  from compare_gan2.core.config_files import resolve_config
  compare_gan2.parse_gin([resolve_config(name)], [])
  ada = ADA()
  assert ada.ops == reference_ops() and (ada.kimg, ada.target, ada.interval) == (kimg, 0.6, 4)
  assert DiffAugment().policy == policy


def reference_ops():
  """The original train.py's 'bgc' augpipe: these twelve multipliers are 1."""
  return ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
          "brightness", "contrast", "lumaflip", "hue", "saturation")


# Two XLA compilations of the whole loop (minutes on 2 shared cores): the
# fast suite's XLA check is test_mirrored_and_xla_equal_single_replica.
@pytest.mark.slow
def test_compiled_loop_equals_the_plain_loop(tmp_path):
  """`run_config.compile_loop` with ADA (p updated every step) and DiffAugment:
  the same p, accumulators and weights as the plain loop."""
  plain, compiled = plain_and_compiled_loops(tmp_path, [
      "ADA.pipeline = 'bgc'", "ADA.interval = 1", "ADA.kimg = 0.05",
      "DiffAugment.policy = 'translation,cutout'"])
  assert sum(k.startswith("ada/") for k in plain) == 4
  assert_close_values(plain, compiled)
