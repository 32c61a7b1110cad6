"""Tests of compare_gan2.core.registry.Registry and the shared registries."""

import itertools

import gin
import keras
import numpy as np
import tensorflow as tf
import pytest

import compare_gan2  # noqa: F401  (registers the components)
from compare_gan2.core import registry
from compare_gan2.ops import normalization as norm
from compare_gan2.core.registry import Registry, UnknownNameError

# Gin configurables are process-global: every test registry gets its own kind
# (so its own gin module) and its entries get names used nowhere else.
_ids = itertools.count()


def _kind():
  return f"regtest{next(_ids)}"


@gin.configurable("registry_test_probe")
def _probe(fn=None, other=None):
  """Reads gin references back: `registry_test_probe.fn = @name`."""
  return fn, other


def _registry_with_functions():
  kind = _kind()
  reg = Registry(kind)

  @reg.register(f"{kind}_hinge")
  def hinge(scale=1.0):
    return ("hinge", scale)

  @reg.register(f"{kind}_wasserstein", aliases=[f"{kind}_wgan"])
  def wasserstein(scale=1.0):
    return ("wasserstein", scale)

  return kind, reg, hinge, wasserstein


def test_register_and_get_by_name():
  kind, reg, hinge, wasserstein = _registry_with_functions()
  assert reg.get(f"{kind}_hinge") is hinge
  assert reg.get(f"{kind}_hinge")() == ("hinge", 1.0)
  assert reg.get(f"{kind}_wgan") is wasserstein
  assert f"{kind}_hinge" in reg and "hinge" not in reg
  assert reg.name_of(hinge) == f"{kind}_hinge"
  assert reg.name_of(wasserstein) == f"{kind}_wasserstein"
  assert reg.name_of(f"{kind}_wgan") == f"{kind}_wgan"
  assert reg.get(hinge) is hinge  # get accepts an entry too


def test_names_sorted():
  kind = _kind()
  reg = Registry(kind)
  for n in ("zeta", "alpha", "mu", "beta"):
    reg.register(f"{kind}_{n}")(lambda: None)
  assert reg.names() == sorted(reg.names())
  assert reg.names() == [f"{kind}_{n}" for n in ("alpha", "beta", "mu", "zeta")]
  assert repr(reg) == f"Registry({kind!r}, {reg.names()!r})"
  assert registry.NORMALIZATIONS.names() == sorted(
      registry.NORMALIZATIONS.names())


def test_unknown_name_lists_close_matches():
  with pytest.raises(UnknownNameError) as info:
    registry.NORMALIZATIONS.get("batch_nrom")
  message = str(info.value)
  assert "Did you mean" in message
  assert "batch_norm" in message.split("Did you mean")[1].split("?")[0]
  assert "'batch_nrom'" in message and "normalization" in message
  # A KeyError, printed without KeyError's quoting.
  assert isinstance(info.value, KeyError)
  assert not message.startswith('"')


def test_unknown_name_without_close_match():
  kind, reg, _, _ = _registry_with_functions()
  with pytest.raises(UnknownNameError) as info:
    reg.get("qqqqqqqqqqqqqqqq")
  assert "Did you mean" not in str(info.value)
  assert f"{kind}_hinge" in str(info.value)  # lists what is registered
  with pytest.raises(UnknownNameError):
    reg.make("qqqqqqqqqqqqqqqq")
  with pytest.raises(UnknownNameError, match="not a registered"):
    reg.name_of(object())
  with pytest.raises(UnknownNameError, match="not a registered"):
    reg.name_of(lambda: None)


def test_duplicate_registration_raises_and_changes_nothing():
  kind, reg, hinge, _ = _registry_with_functions()
  with pytest.raises(ValueError, match=f"{kind} '{kind}_hinge' is already"):
    reg.register(f"{kind}_hinge")(lambda: None)
  # A clash on an alias registers none of the names.
  with pytest.raises(ValueError, match=f"'{kind}_wgan' is already"):
    reg.register(f"{kind}_new", aliases=[f"{kind}_wgan"])(lambda: None)
  assert f"{kind}_new" not in reg
  assert reg.get(f"{kind}_hinge") is hinge
  # The name is still free, in gin too.
  reg.register(f"{kind}_new")(lambda: "new")
  assert reg.get(f"{kind}_new")() == "new"
  with pytest.raises(ValueError, match="already registered"):
    registry.NORMALIZATIONS.register("batch_norm")(norm.BatchNorm)


def test_make_applies_gin_bindings_to_functions():
  kind, reg, _, _ = _registry_with_functions()
  assert reg.make(f"{kind}_hinge") == ("hinge", 1.0)
  gin.bind_parameter(f"{kind}_hinge.scale", 3.0)
  assert reg.make(f"{kind}_hinge") == ("hinge", 3.0)
  assert reg.make(f"{kind}_hinge", scale=5.0) == ("hinge", 5.0)
  # The alias shares the gin configurable of its entry.
  gin.bind_parameter(f"{kind}_wasserstein.scale", 2.0)
  assert reg.make(f"{kind}_wgan") == ("wasserstein", 2.0)


def test_registered_keras_layer_gets_a_gin_factory():
  kind = _kind()
  reg = Registry(kind)

  class Scale(keras.layers.Layer):

    def __init__(self, factor=1.0, **kwargs):
      super().__init__(**kwargs)
      self.factor = factor

  assert reg.register(f"{kind}_scale")(Scale) is Scale  # class not mutated
  assert reg.get(f"{kind}_scale") is Scale
  assert reg.name_of(Scale) == f"{kind}_scale"
  layer = reg.make(f"{kind}_scale", name="s")
  assert type(layer) is Scale and layer.factor == 1.0 and layer.name == "s"
  gin.parse_config(f"{kind}_scale.factor = 4.0")
  assert reg.make(Scale).factor == 4.0
  assert Scale().factor == 1.0  # direct construction ignores gin

  class SubScale(Scale):
    pass

  # An unregistered subclass is not its parent.
  with pytest.raises(UnknownNameError):
    reg.name_of(SubScale)


def test_name_of_gin_reference():
  gin.parse_config("""
      registry_test_probe.fn = @batch_norm
      registry_test_probe.other = @G/conditional_batch_norm
  """)
  fn, other = _probe()
  assert registry.NORMALIZATIONS.name_of(fn) == "batch_norm"
  assert registry.NORMALIZATIONS.get(fn) is norm.BatchNorm
  assert isinstance(registry.NORMALIZATIONS.make(fn), norm.BatchNorm)
  # A scoped reference reads back too.
  assert registry.NORMALIZATIONS.name_of(other) == "conditional_batch_norm"
  assert registry.NORMALIZATIONS.name_of(norm.ConditionalBatchNorm) == (
      "conditional_batch_norm")
  # Not a normalization.
  with pytest.raises(UnknownNameError):
    registry.LOSSES.name_of(fn)


def test_name_of_gin_reference_to_function():
  kind, reg, hinge, _ = _registry_with_functions()
  gin.parse_config(f"registry_test_probe.fn = @{kind}_hinge")
  fn, _ = _probe()
  assert reg.name_of(fn) == f"{kind}_hinge"
  assert fn is hinge


def test_make_normalization_applies_gin():
  gin.parse_config("conditional_batch_norm.gamma_offset = False\n"
                   "conditional_batch_norm.use_bias = True")
  layer = registry.NORMALIZATIONS.make("conditional_batch_norm", name="cbn",
                                       use_sn=True)
  assert isinstance(layer, norm.ConditionalBatchNorm)
  assert layer.gamma_offset is False and layer.use_bias is True
  assert layer.use_sn is True and layer.name == "cbn"
  # Explicit arguments win over gin.
  assert registry.NORMALIZATIONS.make(
      "conditional_batch_norm", gamma_offset=True).gamma_offset is True


def test_shared_registries_hold_the_normalizations():
  assert set(registry.NORMALIZATIONS.names()) >= {
      "batch_norm", "conditional_batch_norm", "layer_norm", "no_batch_norm",
      "self_modulated_batch_norm"}
  for reg in (registry.ARCHITECTURES, registry.LOSSES, registry.PENALTIES,
              registry.NORMALIZATIONS, registry.GANS):
    assert isinstance(reg, Registry)


def test_original_latent_distribution_vocabulary():
  """`z.distribution_fn = @tf.random.normal` (the original's spelling) draws
  N(0, 1); the default is U(-1, 1)."""
  from compare_gan2.core import config
  seed = tf.constant([1, 2])
  uniform = config.sample_z([20000], seed).numpy()
  assert uniform.min() >= -1 and uniform.max() <= 1
  assert abs(uniform.std() - (1 / 3) ** 0.5) < 0.01
  gin.parse_config(["z.distribution_fn = @tf.random.normal",
                    "eval_z.distribution_fn = @tf.random.truncated_normal"])
  normal = config.sample_z([20000], seed).numpy()
  assert abs(normal.mean()) < 0.03 and abs(normal.std() - 1) < 0.02
  assert np.abs(config.sample_eval_z([20000], seed).numpy()).max() <= 2.0


def test_module_of_and_package_names():
  kind, reg, hinge, _ = _registry_with_functions()
  reg.register(f"{kind}_helped", module="my_parts")(lambda: None)
  assert reg.module_of(f"{kind}_hinge") == __name__
  assert reg.module_of(f"{kind}_wgan") == __name__  # aliases too
  assert reg.module_of(f"{kind}_helped") == "my_parts"
  assert reg.package_names() == []  # this test module is not the package
  assert "batch_norm" in registry.NORMALIZATIONS.package_names()
  assert registry.NORMALIZATIONS.module_of("batch_norm") == norm.__name__
  with pytest.raises(UnknownNameError):
    reg.module_of("nothing")


def test_test_settings_are_kept_per_name():
  kind = _kind()
  reg = Registry(kind)
  reg.register(f"{kind}_a", aliases=[f"{kind}_b"], test={"slow": True})(lambda: None)
  reg.register(f"{kind}_c")(lambda: None)
  assert reg.test_settings(f"{kind}_a") == reg.test_settings(f"{kind}_b") == {"slow": True}
  assert reg.test_settings(f"{kind}_c") == {}
  reg.test_settings(f"{kind}_a")["slow"] = False  # a copy: the registration stays
  assert reg.test_settings(f"{kind}_a") == {"slow": True}
  with pytest.raises(UnknownNameError):
    reg.test_settings("nothing")


def test_import_submodules_imports_every_module_of_a_folder(tmp_path, monkeypatch):
  kind = _kind()
  package = tmp_path / f"{kind}_parts"
  package.mkdir()
  (package / "__init__.py").write_text("")
  for name in ("one", "two", "_private", "skipped"):
    (package / f"{name}.py").write_text(
        "from compare_gan2.core import registry\n"
        f"registry.NORMALIZATIONS.register('{kind}_{name}', gin_configurable=False)"
        "(lambda: None)\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  # The parts go into the real NORMALIZATIONS, restored after the test (tests
  # that read every registered normalization may share this process).
  for table in ("_entries", "_modules", "_tests", "_factories"):
    monkeypatch.setattr(registry.NORMALIZATIONS, table,
                        dict(getattr(registry.NORMALIZATIONS, table)))
  names = registry.import_submodules(f"{kind}_parts", [str(package)], skip=["skipped"])
  assert names == ["one", "two"]
  added = {n for n in registry.NORMALIZATIONS.names() if n.startswith(kind)}
  assert added == {f"{kind}_one", f"{kind}_two"}
  assert registry.NORMALIZATIONS.module_of(f"{kind}_one") == f"{kind}_parts.one"
