"""Datasets: `get_dataset` (gin `dataset.*`) and the `DATASETS` registry.

Offline: shapes, shapes_64, digits, mog_ring, mog_grid, image_folder.
TFDS (prepared data needed): mnist, fashion_mnist, cifar10, celeb_a,
lsun_bedroom, imagenet_{64,128,256,512} and ImageNet label variants.
Any name with `fake=True`: random data of the same shapes.
"""

from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import ArrayDataset, DatasetNotFoundError, ImageDataset
from compare_gan2.data.factory import get_dataset
from compare_gan2.core.registry import import_submodules

# Every module of this folder is imported for its registrations (datasets,
# label sources): a new dataset is one file.
import_submodules(__name__, __path__)

__all__ = ["DATASETS", "ArrayDataset", "DatasetNotFoundError", "ImageDataset",
           "get_dataset"]
