"""The registry of paper modules: the one place that knows them all.

The CLI, the Makefile (through the CLI), the tests and the scoreboard read it.
Adding a paper means adding its folder and one line here.
"""
import importlib

PAPERS = {
    "sdl_stn": "Spatial deep learning model with two spatial transformers (Khan et al., AETiC 2023)",
    "crnn_candide": "Time-distributed CNN + BiLSTM + SVM head on CK+ clips, Candide-3 features",
    "cnn_webcam": "6-conv CNN, Adam vs RMSprop, HOG hybrid and a real-time webcam application",
    "nested_lstm": "3D CNN + multi-scale pyramid pooling + Temp-LSTMs + Conv-LSTM, and its CNN / C3D / RNN baselines",
}


def paper_module(name):
    if name not in PAPERS:
        raise KeyError(f"unknown paper {name!r}; known: {', '.join(PAPERS)}")
    return importlib.import_module(f"papers.{name}")


def experiments(name):
    """{experiment name: Experiment} for one paper, in the order the paper presents them."""
    return paper_module(name).EXPERIMENTS
