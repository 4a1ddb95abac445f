"""Dataset loaders: files on disk -> `Dataset` (numpy arrays + metadata + provenance).

Each loader module has `load(path, **options) -> Dataset` and
`write_synthetic(root, seed=0, **options) -> Path`, which writes synthetic faces in
that dataset's own on-disk layout so the real loader is what reads CI's data.
This package imports neither `common` nor `papers`.
"""
import importlib

from datasets.base import Dataset, DatasetError, Provenance

__all__ = ["Dataset", "DatasetError", "Provenance", "LOADERS", "loader", "load", "write_synthetic"]

LOADERS = {
    "fer2013": "datasets.fer2013",
    "ckplus": "datasets.ckplus",
    "ferg": "datasets.ferg",
    "samm": "datasets.samm",
    "mevie": "datasets.mevie",
}


def loader(name):
    if name not in LOADERS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    return importlib.import_module(LOADERS[name])


def load(name, path, **options) -> Dataset:
    return loader(name).load(path, **options)


def write_synthetic(name, root, seed=0, **options):
    return loader(name).write_synthetic(root, seed=seed, **options)
