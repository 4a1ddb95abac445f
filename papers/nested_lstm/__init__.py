"""Toward an Efficient Emotion Recognition from Facial Expressions Using ML (Zennou, Ouhda & Baslam, EasyChair
2023): VGG16 / two-stream / geometry CNNs, C3D, CNN+LSTM/GRU, and the proposed 3D CNN + MSPP + nested LSTMs."""
from papers.nested_lstm.experiments import DEFAULT_EXPERIMENTS, EXPERIMENTS

__all__ = ["EXPERIMENTS", "DEFAULT_EXPERIMENTS"]
