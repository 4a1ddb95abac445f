"""Facial Expression Recognition using Recurrent Neural Network (Radharapu et al., UNT):
a time-distributed CNN + BiLSTM + SVM head on 3-frame CK+ clips, with Candide-3 face-model features."""
from papers.crnn_candide.experiments import DEFAULT_EXPERIMENTS, EXPERIMENTS

__all__ = ["EXPERIMENTS", "DEFAULT_EXPERIMENTS"]
