"""Toward an Efficient Emotion Recognition from Facial Expressions Using ML (Zennou, Ouhda & Baslam, EasyChair
2023): VGG16 / two-stream / geometry CNNs, C3D, CNN+LSTM/GRU, and the proposed 3D CNN + MSPP + nested LSTMs."""

DEFAULT_EXPERIMENTS = ["ckplus_nested_lstm", "ckplus_c3d", "ckplus_cnn_lstm", "ckplus_cnn_gru"]


def __getattr__(name):
    """EXPERIMENTS imports Keras and TensorFlow (seconds): loaded on first use."""
    if name == "EXPERIMENTS":
        from papers.nested_lstm.experiments import EXPERIMENTS
        return EXPERIMENTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
