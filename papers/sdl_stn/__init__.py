"""Khan, Singh and Agrawal, "Enhancing feature extraction technique through Spatial Deep Learning
model for Facial Emotion Detection", AETiC 7(2), 2023: a 4-conv CNN beside two spatial-transformer
(SDL) modules, on FER2013, CK+ and FERG."""

# What `python -m papers list` and `--help` show without importing Keras; tests/test_cli.py
# checks it against experiments.py. Experiment name -> (dataset, title), in the paper's order.
EXPERIMENT_INDEX = {
    "fer2013": ("fer2013", "FER2013: train on Training, select on PublicTest, test on PrivateTest"),
    "fer2013_lr1e-3": ("fer2013", "FER2013 as `fer2013` but AdamW lr 0.001 (variant, not the paper's)"),
    "ckplus_image_split": ("ckplus", "CK+48: the paper's image-level 80/10/10 split"),
    "ckplus_image_split_lr1e-3": ("ckplus", "CK+48 as `ckplus_image_split` but AdamW lr 0.001 (variant, not the "
                                            "paper's)"),
    "ckplus_subject_10fold": ("ckplus", "CK+48: subject-independent 10-fold CV (not in the paper)"),
    "ferg": ("ferg", "FERG_DB_256: ~34k train / 14k val / 7k test images"),
}
DEFAULT_EXPERIMENTS = ["fer2013"]


def __getattr__(name):
    """EXPERIMENTS and BENCHMARKS import Keras and TensorFlow (seconds): loaded on first use."""
    if name in ("EXPERIMENTS", "BENCHMARKS"):
        from papers.sdl_stn import experiments
        return getattr(experiments, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
