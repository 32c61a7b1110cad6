"""Sizes shared by the ResNet architecture tests, and the (width, scale) list of a
network's blocks."""


Z_DIM = 16
NUM_CLASSES = 3


def _blocks(model):
  return [(b.out_channels, b.scale) for b in model.blocks]
