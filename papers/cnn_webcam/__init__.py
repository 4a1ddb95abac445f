"""Facial Micro Expression Recognition using Convolutional Neural Networks (Kishor Kumar et al.,
IJIEMR 2022): a 6-conv CNN, Adam vs RMSprop, a HOG hybrid, and a real-time Haar-cascade webcam app."""

DEFAULT_EXPERIMENTS = ["adam", "rmsprop"]


def __getattr__(name):
    """EXPERIMENTS and BENCHMARKS import Keras and TensorFlow (seconds): loaded on first use."""
    if name == "EXPERIMENTS":
        from papers.cnn_webcam.experiments import EXPERIMENTS
        return EXPERIMENTS
    if name == "BENCHMARKS":
        from papers.cnn_webcam.bench import BENCHMARKS
        return BENCHMARKS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
