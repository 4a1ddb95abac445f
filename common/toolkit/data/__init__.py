"""The data a model reads: `protocols` (folds, repeats, splits) and `pipeline` (batches, augmentation)."""
