"""Old home of the label sources, now `compare_gan2.data.labels` (label
sources are part of the data layer); every public name is re-exported here."""

from compare_gan2.data.labels import (LABEL_FILE_FORMAT_VERSION, LABEL_SOURCES,  # noqa: F401
                                      UNLABELLED, FileLabels, LabelSource,
                                      PartialLabels, RandomLabels, Relabel,
                                      SingleLabel, TrueLabels, get_label_source,
                                      partial_indices, random_labels,
                                      read_label_file, train_labels,
                                      write_label_file)
