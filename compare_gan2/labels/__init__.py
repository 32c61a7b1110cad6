"""Labels: label sources of the training split (gin `labels.*`).

`labels.source` = "true" (default), "partial" (x% kept, rest -1), "file"
(a label file from a label-inference step), "single", "random"; see
`sources.py`. Unlabelled examples carry label -1.
"""

from compare_gan2.labels.sources import (LABEL_SOURCES, UNLABELLED,
                                         LabelSource, get_label_source,
                                         partial_indices, random_labels,
                                         read_label_file, train_labels,
                                         write_label_file)

__all__ = ["LABEL_SOURCES", "UNLABELLED", "LabelSource", "get_label_source",
           "partial_indices", "random_labels", "read_label_file",
           "train_labels", "write_label_file"]
