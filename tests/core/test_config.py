"""The option sets (`options.*`, `run_config.*`, `eval.*`) are each one
dataclass that gin configures and that checks its values itself, with the
gin names and defaults they had as functions."""

import dataclasses
import os
import re

import gin
import pytest

import compare_gan2
import compare_gan2.runner  # noqa: F401  (registers run_config and eval)
from compare_gan2.core import config
from compare_gan2.metrics.evaluation import EvalOptions, eval_options
from compare_gan2.runner.settings import RunConfig, run_config
from run_cases import TINY_RUN

# The defaults of the three functions before they became dataclasses.
DEFAULTS = {
    config.RunOptions: dict(batch_size=64, gan_class="ModularGAN",
                            architecture="resnet_cifar_arch", training_steps=1000,
                            lamba=1.0, disc_iters=1, z_dim=128),
    RunConfig: dict(tf_random_seed=None, iterations_per_loop=1000,
                    save_checkpoints_steps=5000, keep_checkpoint_max=10,
                    num_sample_images=64, deterministic_ops=False,
                    num_standing_batches=16, num_accu_examples=None,
                    standing_batch_size=None, mixed_precision="auto",
                    divergence_threshold=1e4, compile_loop=False),
    EvalOptions: dict(num_samples=1000, batch_size=None, metrics=("fid", "kid"),
                      feature_extractor="auto", resize="tfgan", inception_weights=None,
                      cache_dir=os.path.expanduser("~/.cache/compare_gan2"),
                      split=None, export_generator=True),
}
BAD = [
    (config.RunOptions, "batch_size", 0, "`options.batch_size` must be a positive integer"),
    (config.RunOptions, "z_dim", 1.5, "`options.z_dim` must be a positive integer"),
    (RunConfig, "iterations_per_loop", 0, "`run_config.iterations_per_loop` must be"),
    (RunConfig, "num_accu_examples", True, "`run_config.num_accu_examples` must be a "
     "positive integer or None"),
    (RunConfig, "divergence_threshold", -1.0, "`run_config.divergence_threshold`"),
    (RunConfig, "tf_random_seed", 2**31, "`run_config.tf_random_seed` must be in"),
    (RunConfig, "mixed_precision", "fp8", "run_config.mixed_precision"),
    (RunConfig, "compile_loop", 1, "`run_config.compile_loop` must be True or False"),
    (EvalOptions, "num_samples", 1, "`eval.num_samples` must be >= 2"),
    (EvalOptions, "metrics", ("fid", "fdi"), "fdi"),
]
NAMES = {config.RunOptions: "options", RunConfig: "run_config", EvalOptions: "eval"}


def test_the_builders_are_the_dataclasses():
  assert config.options is config.RunOptions
  assert run_config is RunConfig and eval_options is EvalOptions


@pytest.mark.parametrize("cls", list(DEFAULTS), ids=lambda c: c.__name__)
def test_the_defaults_are_unchanged(cls):
  built = cls()
  assert {f.name: getattr(built, f.name) for f in dataclasses.fields(built)} == DEFAULTS[cls]


@pytest.mark.parametrize("cls, key, value, message", BAD,
                         ids=[f"{c.__name__}.{k}" for c, k, _, _ in BAD])
def test_a_bad_value_fails_wherever_it_comes_from(cls, key, value, message):
  """From the constructor and from gin alike: one check."""
  with pytest.raises((ValueError, KeyError), match=re.escape(message)):
    cls(**{key: value})
  gin.parse_config(f"{NAMES[cls]}.{key} = {value!r}")
  with pytest.raises((ValueError, KeyError), match=re.escape(message)):
    cls()


def test_gin_configures_the_dataclasses():
  gin.parse_config("options.batch_size = 8\nrun_config.iterations_per_loop = 7\n"
                   "eval.metrics = ['fid']\neval.cache_dir = '~/elsewhere'\n"
                   "options.lamba = 2")
  opts = config.RunOptions()
  assert opts.batch_size == 8 and opts.lamba == 2.0 and isinstance(opts.lamba, float)
  assert opts["batch_size"] == 8 and "discriminator_normalization" not in opts.as_dict()
  assert RunConfig().iterations_per_loop == 7
  evals = EvalOptions()
  assert evals.metrics == ("fid",) and evals.cache_dir == os.path.expanduser("~/elsewhere")
  # An argument still wins over gin, as it did for the functions.
  assert config.options(batch_size=16).batch_size == 16


def _section(text, name):
  lines = text.splitlines() + [""]
  start = lines.index(f"# Parameters for {name}:")
  return lines[start:lines.index("", start)]


def test_the_operative_config_reads_as_main_wrote_it():
  """The options and run_config sections of the operative config are those
  that main wrote for the same bindings (testdata/main_run, before the
  options became dataclasses)."""
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runner", "testdata",
                      "main_run", "operative_config-0.gin")
  with open(path) as f:
    main = f.read()
  compare_gan2.parse_gin([], TINY_RUN + ["options.training_steps = 4", "dcgan.Generator.ch = 2",
                               "dcgan.Discriminator.ch = 2", "options.z_dim = 4"])
  config.options(), run_config()
  text = gin.operative_config_str()
  for name in ("options", "run_config"):
    assert _section(text, name) == _section(main, name)
