"""Gin bindings that make each architecture tiny, and the smallest resolution
each supports, so that tests of the training step run in seconds on a CPU."""


def _widths(module: str, option: str = "ch", value: int = 4) -> list[str]:
  return [f"{module}.Generator.{option} = {value}",
          f"{module}.Discriminator.{option} = {value}"]


# architecture -> (resolution, colors, bindings)
TINY = {
    "resnet_biggan_arch": (32, 3, _widths("resnet_biggan")),
    "biggan_cifar_arch": (32, 3, _widths("biggan_cifar", value=2)),
    "resnet_biggan_deep_arch": (128, 3, _widths("resnet_biggan_deep", value=8)),
    "resnet_cifar_arch": (32, 3, _widths("resnet_cifar")),
    "resnet_stl_arch": (48, 3, _widths("resnet_stl")),
    "resnet5_arch": (32, 3, _widths("resnet5")),
    "resnet30_arch": (128, 3, _widths("resnet30")),
    "dcgan_arch": (16, 3, _widths("dcgan")),
    "sndcgan_arch": (16, 3, _widths("sndcgan")),
    "infogan_arch": (28, 1, _widths("infogan") + _widths("infogan", "fc_dim", 16)),
    "mlp_arch": (1, 2, _widths("mlp", "hidden", 8)),
}

# The ones too slow (128 px) for every test run; they run under -m slow.
LARGE = ("resnet_biggan_deep_arch", "resnet30_arch")


def tiny(name: str) -> tuple[int, int, list[str]]:
  """(resolution, colors, gin bindings) of a tiny `name`."""
  return TINY[name]
