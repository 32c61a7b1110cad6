"""Labels: label inference (`pretrain`, `infer`: a tool above the runner) and,
re-exported, the label sources of the training split (gin `labels.*`).

`labels.source` = "true" (default), "partial" (x% kept, rest -1), "file"
(a label file from a label-inference step), "single", "random"; see
`compare_gan2/data/labels.py`. Unlabelled examples carry label -1.
"""

from compare_gan2.data.labels import (LABEL_SOURCES, UNLABELLED, LabelSource,
                                      get_label_source, partial_indices,
                                      random_labels, read_label_file,
                                      train_labels, write_label_file)
from compare_gan2.labels import sources  # noqa: F401  (the old path, kept)

__all__ = ["LABEL_SOURCES", "UNLABELLED", "LabelSource", "get_label_source",
           "partial_indices", "random_labels", "read_label_file",
           "train_labels", "write_label_file"]
