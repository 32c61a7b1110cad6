"""Keras layers shared by the architectures."""

from compare_gan2.ops.attention import NonLocalBlock
from compare_gan2.ops.initializers import weight_initializer
from compare_gan2.ops.layers import Conv2D, Deconv2D, Linear, conv1x1
from compare_gan2.ops.normalization import (
    BatchNorm, ConditionalBatchNorm, LayerNorm, NoBatchNorm,
    SelfModulatedBatchNorm, StandardizeBatch, accumulate_standing_statistics,
    batch_moments, make_normalization)
from compare_gan2.ops.resnet import ResNetBlock, downsample, upsample
