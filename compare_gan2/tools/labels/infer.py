"""`compare_gan2 infer-labels` (flags in cli/infer_labels.py): labels for
the training split from a rotation extractor (`compare_gan2 pretrain`),
written as a label file that `labels.source = "file"` reads. The two
label-inference methods of "High-Fidelity Image Generation With Fewer
Labels":

  # CLUSTERING: k-means cluster ids of the features, no labels used.
  compare_gan2 infer-labels --pretrained /tmp/rot --method kmeans \
      --num_clusters 10 --out /tmp/kmeans.npz
  # S2GAN: a classifier trained on the labelled fraction (exactly the
  # examples `labels.source = "partial"` keeps with the same seed) labels
  # the rest.
  compare_gan2 infer-labels --pretrained /tmp/rot --method semi_supervised \
      --labeled_fraction 0.1 --labels_seed 0 --out /tmp/s2gan.npz

Beside the label file, a report `<out minus .npz>.report.json`: class
balance (sizes per label), and against the true labels where the dataset has
them: cluster purity and NMI (kmeans), accuracy on the unlabelled part
(semi_supervised). Features are cached in the pretrained directory per
extractor step, so a rerun only redoes the (cheap) clustering/classifier and
overwrites the label file atomically.

The semi-supervised labeler is a multinomial logistic regression on the
frozen, standardised rotation features (the simple alternative to S4L's joint
fine-tuning; it reaches the target on `digits`, see README).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from compare_gan2.core import choices, files
from compare_gan2.tools.labels import pretrain as pretrain_lib
from compare_gan2.data import labels as sources

logger = logging.getLogger("compare_gan2")

METHODS = choices.LABEL_METHODS
FEATURES_FILE = "features_{split}_step{step}.npy"


# === Metrics ===

def cluster_purity(clusters: Any, labels: Any) -> float:
  """Fraction of examples in their cluster's majority class."""
  clusters, labels = np.asarray(clusters), np.asarray(labels)
  if not len(labels):
    return float("nan")
  total = 0
  for c in np.unique(clusters):
    total += np.bincount(labels[clusters == c]).max()
  return float(total / len(labels))


def class_balance(labels: Any, num_classes: int) -> dict[str, Any]:
  """Sizes per label (unlabelled -1 excluded) and max/min size ratio."""
  labels = np.asarray(labels)
  sizes = np.bincount(labels[labels >= 0], minlength=num_classes)
  return {"sizes": sizes.tolist(),
          "max_over_min": float(sizes.max() / max(sizes.min(), 1))
          if sizes.size else float("nan")}


def _standardise(features: np.ndarray) -> np.ndarray:
  # Per-dimension z-scores: pooled conv features have very different scales
  # per channel; measured better than L2 or raw features for both methods.
  mean, std = features.mean(0), features.std(0)
  return ((features - mean) / np.where(std > 1e-8, std, 1.0)).astype(np.float32)


# === Methods (pure: features in, labels out) ===

def kmeans_labels(features: Any, num_clusters: int, seed: int = 0,
                  n_init: int = 10, standardise: bool = True) -> np.ndarray:
  """k-means cluster ids (int32 [N]) of the (standardised) features."""
  from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top
  features = np.asarray(features, np.float32)
  if standardise:
    features = _standardise(features)
  km = KMeans(n_clusters=num_clusters, n_init=n_init, random_state=seed)
  return km.fit_predict(features).astype(np.int32)


def semi_supervised_labels(features: Any, labelled_index: Any,
                           labelled_labels: Any, num_classes: int,
                           c: float = 1.0) -> tuple[np.ndarray, np.ndarray,
                                                    np.ndarray]:
  """A logistic regression on the labelled rows labels every row.

  Returns (labels int32 [N], confidence float32 [N], probs float32 [N, K]):
  labelled rows keep their given label with confidence 1.
  """
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  features = _standardise(np.asarray(features, np.float32))
  labelled_index = np.asarray(labelled_index, np.int64)
  labelled_labels = np.asarray(labelled_labels, np.int32)
  clf = LogisticRegression(C=c, max_iter=2000)
  clf.fit(features[labelled_index], labelled_labels)
  probs = np.zeros([len(features), num_classes], np.float32)
  probs[:, clf.classes_] = clf.predict_proba(features)
  labels = probs.argmax(1).astype(np.int32)
  labels[labelled_index] = labelled_labels
  probs[labelled_index] = np.eye(num_classes, dtype=np.float32)[labelled_labels]
  return labels, probs.max(1), probs


# === Features with a cache ===

def cached_features(pretrained: str, dataset: Any) -> np.ndarray:
  """`extract_features` of the training split, cached in `pretrained` per
  extractor step (a new pretraining step invalidates the cache)."""
  info = pretrain_lib.read_config(pretrained)
  path = os.path.join(pretrained, FEATURES_FILE.format(
      split=dataset.train_split, step=info.get("step", 0)))
  if os.path.exists(path):
    features = np.load(path)
    if len(features) == dataset.num_examples(dataset.train_split):
      return features
  features = pretrain_lib.extract_features(pretrained, dataset)
  tmp = f"{path}.tmp{os.getpid()}.npy"
  np.save(tmp, features)
  os.replace(tmp, path)
  return features


def pixel_features(dataset: Any) -> np.ndarray:
  """Raw pixels [N, H*W*C] of the training split, fixed order (baseline)."""
  images = [x.numpy().reshape(len(x), -1) for x, _ in dataset.eval_input_fn(
      dataset.train_split, 250, drop_remainder=False)]
  return np.concatenate(images)


# === The command ===

def report_path(out: str) -> str:
  base = out[:-4] if out.endswith(".npz") else out
  return base + ".report.json"


def infer_labels(pretrained: str, out: str, *, method: str = "kmeans",
                 num_clusters: int | None = None,
                 labeled_fraction: float | None = None, labels_seed: int = 0,
                 seed: int = 0, dataset: Any = None,
                 pixel_baseline: bool = False,
                 tfds_data_dir: str | None = None) -> dict[str, Any]:
  """Infers labels of the training split, writes the label file `out` and
  its report; returns the report.

  Args:
    pretrained: str. A `compare_gan2 pretrain` directory.
    out: str. Label file to write (atomically).
    method: "kmeans" or "semi_supervised".
    num_clusters: int. kmeans: K (default: the dataset's num_classes).
    labeled_fraction: float. semi_supervised: labelled fraction; the subset
      is `partial_indices(true labels, labeled_fraction, labels_seed)`, as
      `labels.source = "partial"` with `labels.seed = labels_seed`.
    labels_seed: int. semi_supervised: the subset.
    seed: int. kmeans initialisation.
    dataset: str or ImageDataset (default: the pretraining dataset).
    pixel_baseline: bool. Also report the same method on raw pixels.
  """
  if method not in METHODS:
    raise ValueError(f"Unknown method '{method}'. Choose one of {METHODS}.")
  info = pretrain_lib.read_config(pretrained)
  dataset = pretrain_lib._dataset(dataset or info["dataset"], tfds_data_dir)  # pylint: disable=protected-access
  n = dataset.num_examples(dataset.train_split)
  has_labels = dataset.num_classes > 0
  true = sources.train_labels(dataset, n) if has_labels else None
  features = cached_features(pretrained, dataset)
  report: dict[str, Any] = {
      "method": method, "dataset": dataset.name, "num_examples": n,
      "pretrained": os.path.abspath(pretrained),
      "extractor_step": info.get("step"), "feature_dim": features.shape[1],
      "label_file": os.path.abspath(out)}

  if method == "kmeans":
    k = num_clusters or dataset.num_classes
    if not k or k < 2:
      raise ValueError("kmeans needs --num_clusters >= 2 (the dataset has no "
                       "classes to default to).")
    labels = kmeans_labels(features, k, seed=seed)
    confidence, probs, num_classes = None, None, k
    report.update(num_clusters=k, seed=seed)
    if has_labels:
      from sklearn.metrics import normalized_mutual_info_score as nmi  # pylint: disable=g-import-not-at-top
      report.update(purity=cluster_purity(labels, true),
                    nmi=float(nmi(true, labels)))
      if pixel_baseline:
        # Raw pixels cluster better unstandardised (z-scoring blows up
        # near-constant border pixels): report both, the raw one as baseline.
        pixels = pixel_features(dataset)
        for key, std in (("pixels", False), ("pixels_standardised", True)):
          pix = kmeans_labels(pixels, k, seed=seed, standardise=std)
          report[f"{key}_purity"] = cluster_purity(pix, true)
          report[f"{key}_nmi"] = float(nmi(true, pix))
    description = f"kmeans k={k} on rotation features ({pretrained})"
  else:
    if not has_labels:
      raise ValueError(f"semi_supervised needs a dataset with labels; "
                       f"'{dataset.name}' has none.")
    if labeled_fraction is None:
      raise ValueError("semi_supervised needs --labeled_fraction.")
    num_classes = dataset.num_classes
    kept = sources.partial_indices(true, labeled_fraction, labels_seed)
    rest = np.setdiff1d(np.arange(n), kept)
    labels, confidence, probs = semi_supervised_labels(
        features, kept, true[kept], num_classes)
    report.update(labeled_fraction=labeled_fraction, labels_seed=labels_seed,
                  num_labelled=int(len(kept)),
                  accuracy_unlabelled=float(np.mean(labels[rest] == true[rest]))
                  if len(rest) else float("nan"),
                  mean_confidence_unlabelled=float(confidence[rest].mean())
                  if len(rest) else float("nan"))
    if pixel_baseline:
      pix, _, _ = semi_supervised_labels(pixel_features(dataset), kept,
                                         true[kept], num_classes)
      report["pixels_accuracy_unlabelled"] = float(
          np.mean(pix[rest] == true[rest])) if len(rest) else float("nan")
    description = (f"semi_supervised fraction={labeled_fraction} "
                   f"seed={labels_seed} on rotation features ({pretrained})")

  report.update(num_classes=num_classes,
                class_balance=class_balance(labels, num_classes))
  sources.write_label_file(out, labels, dataset.name, num_classes=num_classes,
                           confidence=confidence, probs=probs,
                           split=dataset.train_split, method=description)
  files.write_json(report_path(out), report)
  return report
