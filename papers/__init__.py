"""The registry of paper modules: the one place that knows them all.

The CLI, the Makefile (through the CLI), the tests and the scoreboard read it.
Adding a paper means adding its folder and one line here.

Importing a paper package is cheap: it loads `EXPERIMENTS` (which imports Keras and TensorFlow) on
first use, so `python -m papers --help` and the suite's own commands start without them.
"""
import importlib
import importlib.util
from pathlib import Path

PAPERS = {
    "sdl_stn": "Spatial deep learning model with two spatial transformers (Khan et al., AETiC 2023)",
    "crnn_candide": "Time-distributed CNN + BiLSTM + SVM head on CK+ clips, Candide-3 features",
    "cnn_webcam": "6-conv CNN, Adam vs RMSprop, HOG hybrid and a real-time webcam application",
    "acgrnn": "MTCNN faces, EfficientNetB3 + InceptionResNetV2 features fused by sum, attention conv GRU (RMSProp)",
    "nested_lstm": "3D CNN + multi-scale pyramid pooling + Temp-LSTMs + Conv-LSTM, and its CNN / C3D / RNN baselines",
}


def check_own_package(name):
    """Stop with a message naming the clash when the top-level package `name` is not the
    suite's own (the one beside `papers`). The suite's names are generic, and `datasets` is
    also Hugging Face's package: in an environment that has it, `import datasets` would find
    that one and fail later with a confusing ImportError."""
    ours = Path(__file__).resolve().parents[1] / name
    spec = importlib.util.find_spec(name)
    found = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    if ours not in found:
        where = ", ".join(map(str, found)) or (spec.origin if spec else "nothing")
        raise ImportError(f"`import {name}` finds {where}, not this suite's {ours}: another package named "
                          f"{name!r} comes first on the path. The suite needs an environment of its own "
                          f"(`make install` creates .venv/), without a second {name!r} package.")


for _package in ("common", "datasets"):
    check_own_package(_package)


def paper_module(name):
    if name not in PAPERS:
        raise KeyError(f"unknown paper {name!r}; known: {', '.join(PAPERS)}")
    return importlib.import_module(f"papers.{name}")


def experiment_index(name):
    """{experiment name: (dataset, title)} for one paper, from its EXPERIMENTS (in the paper's order)."""
    return {exp_name: (exp.dataset, exp.title) for exp_name, exp in experiments(name).items()}


def experiments(name):
    """{experiment name: Experiment} for one paper, in the order the paper presents them."""
    return paper_module(name).EXPERIMENTS
