"""Shared test set-up: quiet TensorFlow, the real-data location, a tiny experiment."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def real_data(subpath):
    """The path of a real dataset beside the checkout, or skip the test when it is absent."""
    path = SHARED_DATA / subpath
    if not path.exists():
        pytest.skip(f"real data not found at {path}")
    return path
