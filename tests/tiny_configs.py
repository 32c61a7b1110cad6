"""Gin bindings that make each registered architecture tiny, and the smallest
resolution each supports, so that tests of the training step run in seconds on
a CPU. tests/test_registered_parts.py fails for a registered architecture (or
GAN class) missing here."""


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
    "resnet5_biggan_arch": (32, 3, _widths("resnet5_biggan")),
    "progan_arch": (8, 3, _widths("progan", "fmap_base", 64)
                    + _widths("progan", "fmap_max", 8)),
}

# Architectures whose G output is not squashed into [0, 1] (2-D points).
UNBOUNDED = ("mlp_arch",)
# ... and those that clip it to [0, 1] in inference mode only (ProGAN's linear
# toRGB: clipping in training would cut G's gradient).
UNBOUNDED_IN_TRAINING = ("progan_arch",)
# Architectures with layers that the current level of detail does not run
# (ProGAN's toRGB/fromRGB of the other levels get no gradient).
PROGRESSIVE = ("progan_arch",)
# Architectures that take no G/D.batch_norm_fn (pixel norm built in).
NO_BATCH_NORM = ("progan_arch",)

# GAN class -> (architecture, conditional, extra bindings, constructor
# arguments): the smallest setting of each registered GAN class.
GAN_CLASSES = {
    "ModularGAN": ("dcgan_arch", False, [], {}),
    "SSGAN": ("dcgan_arch", False, [], {}),
    "S3GAN": ("dcgan_arch", True, ["dcgan.Discriminator.project_y = False"],
              {"project_y": True, "use_predictor": True,
               "self_supervision": "rotation"}),
    # 8 images a step: 4 at 4x4, then a fade of 12 images.
    "ProgressiveGAN": ("progan_arch", False, [],
                       {"training_kimg": 0.004, "transition_kimg": 0.012}),
}

# The ones too slow (128 px) for every test run; they run under -m slow.
LARGE = ("resnet_biggan_deep_arch", "resnet30_arch")
# The ones too slow for every test run besides: the networks of
# resnet_biggan_arch under a second gin module (the original's config name).
SLOW = LARGE + ("resnet5_biggan_arch",)



def tiny(name: str) -> tuple[int, int, list[str]]:
  """(resolution, colors, gin bindings) of a tiny `name`."""
  return TINY[name]
