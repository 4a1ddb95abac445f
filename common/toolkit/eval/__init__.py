"""Measuring a trained model: `metrics` (every classification metric of a fold) and `plots` (confusion, ROC, PR,
training curves)."""
