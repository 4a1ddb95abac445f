"""Facial Expression Recognition using Recurrent Neural Network (Radharapu et al., UNT):
a time-distributed CNN + BiLSTM + SVM head on 3-frame CK+ clips, with Candide-3 face-model features."""

# What fits about 35 minutes of 2 shared CPU cores; crnn_candide_subject runs on request (--experiment).
DEFAULT_EXPERIMENTS = ["crnn", "crnn_subject", "crnn_candide"]
DEMO_EXPERIMENT = "crnn_subject"  # `make demo`: no per-frame baseline to train beside the CRNN, so the quickest


def __getattr__(name):
    """EXPERIMENTS imports Keras and TensorFlow (seconds): loaded on first use."""
    if name == "EXPERIMENTS":
        from papers.crnn_candide.experiments import EXPERIMENTS
        return EXPERIMENTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
