"""Khan, Singh and Agrawal, "Enhancing feature extraction technique through Spatial Deep Learning
model for Facial Emotion Detection", AETiC 7(2), 2023: a 4-conv CNN beside two spatial-transformer
(SDL) modules, on FER2013, CK+ and FERG."""

DEFAULT_EXPERIMENTS = ["fer2013"]


def __getattr__(name):
    """EXPERIMENTS and BENCHMARKS import Keras and TensorFlow (seconds): loaded on first use."""
    if name in ("EXPERIMENTS", "BENCHMARKS"):
        from papers.sdl_stn import experiments
        return getattr(experiments, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
