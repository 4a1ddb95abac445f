"""Facial Micro Expression Recognition using Convolutional Neural Networks (Kishor Kumar et al.,
IJIEMR 2022): a 6-conv CNN, Adam vs RMSprop, a HOG hybrid, and a real-time Haar-cascade webcam app."""

# What `python -m papers list` and `--help` show without importing Keras; tests/test_cli.py
# checks it against experiments.py. Experiment name -> (dataset, title), in the paper's order.
EXPERIMENT_INDEX = {
    "adam": ("fer2013", "6-conv CNN trained with Adam (Tables 1-2, first row)"),
    "rmsprop": ("fer2013", "The same CNN trained with RMSprop (Tables 1-2, second row)"),
    "hybrid_hog": ("fer2013", "Hybrid CNN on raw pixels + HOG features (abstract), Adam"),
    "samm": ("samm", "The CNN on SAMM apex-phase frames, Adam (Section 3, Conclusion)"),
    "mevie": ("mevie", "The CNN on MEVIEW video frames, Adam (Sections 3.1-3.2)"),
}
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
