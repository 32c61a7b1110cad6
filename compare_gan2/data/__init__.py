"""Datasets: `get_dataset` (gin `dataset.*`) and the `DATASETS` registry.

Offline: shapes, shapes_64, digits, mog_ring, mog_grid, image_folder.
TFDS (prepared data needed): mnist, fashion_mnist, cifar10, celeb_a,
lsun_bedroom, imagenet_{64,128,256,512} and ImageNet label variants.
Any name with `fake=True`: random data of the same shapes.
"""

# Imported for their registrations.
from compare_gan2.data import digits, image_folder, mixtures  # noqa: F401
from compare_gan2.data import shapes, tfds  # noqa: F401
from compare_gan2.data.base import (DATASETS, ArrayDataset,
                                    DatasetNotFoundError, ImageDataset)
from compare_gan2.data.factory import get_dataset

__all__ = ["DATASETS", "ArrayDataset", "DatasetNotFoundError", "ImageDataset",
           "get_dataset"]
