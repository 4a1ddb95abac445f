"""Toward an Efficient Emotion Recognition from Facial Expressions Using ML (Zennou, Ouhda & Baslam, EasyChair
2023): VGG16 / two-stream / geometry CNNs, C3D, CNN+LSTM/GRU, and the proposed 3D CNN + MSPP + nested LSTMs."""

# What `python -m papers list` and `--help` show without importing Keras; tests/test_cli.py
# checks it against experiments.py. Experiment name -> (dataset, title), in the paper's order.
SUBSTITUTE = " (CK+48 substitute, subject-independent 10-fold)"
EXPERIMENT_INDEX = {
    "ckplus_cnn_aligned": ("ckplus", "VGG16-architecture CNN on aligned faces, no symmetry (Tables 7, 9, 11)" + SUBSTITUTE),
    "ckplus_two_stream": ("ckplus", "Two-stream CNN, face + aligned (Tables 8, 9, 11)" + SUBSTITUTE),
    "ckplus_cnn_geometry": ("ckplus", "CNN + geometry, aligned + 68 points (Tables 9, 11)" + SUBSTITUTE),
    "ckplus_c3d": ("ckplus", "C3D on aligned clips (Tables 10, 12)" + SUBSTITUTE),
    "ckplus_cnn_lstm": ("ckplus", "CNN + LSTM on image vectors (Tables 10, 12)" + SUBSTITUTE),
    "ckplus_cnn_gru": ("ckplus", "CNN + GRU on image vectors (Tables 10, 12)" + SUBSTITUTE),
    "ckplus_cnn_gru_features": ("ckplus", "CNN + GRU on PCA-100 fc7 features (Tables 10, 12)" + SUBSTITUTE),
    "ckplus_nested_lstm": ("ckplus", "Proposed: 3D CNN + MSPP + Temp-LSTMs + Conv-LSTM (Table 14)" + SUBSTITUTE),
}
DEFAULT_EXPERIMENTS = ["ckplus_nested_lstm", "ckplus_c3d", "ckplus_cnn_lstm", "ckplus_cnn_gru"]


def __getattr__(name):
    """EXPERIMENTS imports Keras and TensorFlow (seconds): loaded on first use."""
    if name == "EXPERIMENTS":
        from papers.nested_lstm.experiments import EXPERIMENTS
        return EXPERIMENTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
