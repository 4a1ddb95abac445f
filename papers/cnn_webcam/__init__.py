"""Facial Micro Expression Recognition using Convolutional Neural Networks (Kishor Kumar et al.,
IJIEMR 2022): a 6-conv CNN, Adam vs RMSprop, a HOG hybrid, and a real-time Haar-cascade webcam app."""
from papers.cnn_webcam.bench import BENCHMARKS
from papers.cnn_webcam.experiments import DEFAULT_EXPERIMENTS, EXPERIMENTS

__all__ = ["EXPERIMENTS", "DEFAULT_EXPERIMENTS", "BENCHMARKS"]
