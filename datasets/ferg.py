"""FERG-DB (Aneja et al., ACCV 2016): 55,767 rendered faces of six stylised characters, 7 expressions.

Layout of the distributed FERG_DB_256 folder:
    <root>/<character>/<character>_<emotion>/<character>_<emotion>_<n>.png
with characters aia, bonnie, jules, malcolm, mery, ray and emotions anger, disgust,
fear, joy, neutral, sadness, surprise; images are 256x256 RGB(A). They are read in
grayscale and resized to `size`. The character is the subject. FERG has no official
split. Files that cannot be read, or that sit in a folder naming no known emotion,
are counted in provenance.skipped with the reason.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, read_gray, require_exists

CHARACTERS = ["aia", "bonnie", "jules", "malcolm", "mery", "ray"]
CLASS_NAMES = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
ORIGINAL_SIZE = 256


def load(path, size=48) -> Dataset:
    root = require_exists(path)
    characters = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in CHARACTERS] if root.is_dir() else []
    if not characters:
        raise DatasetError(root, f"no character folders ({', '.join(CHARACTERS)}): not the FERG_DB_256 layout "
                                 "<root>/<character>/<character>_<emotion>/<character>_<emotion>_<n>.png")
    provenance = Provenance(str(root))
    files = []
    for character in characters:
        for folder in sorted(d for d in character.iterdir() if d.is_dir()):
            emotion = folder.name.lower().removeprefix(f"{character.name.lower()}_")
            if emotion not in CLASS_NAMES:
                for file in sorted(folder.glob("*.png")):
                    provenance.skip(file, f"folder {folder.name!r} names no FERG emotion")
                continue
            files += [(file, CLASS_NAMES.index(emotion), character.name.lower()) for file in sorted(folder.glob("*.png"))]

    images, labels, subjects = [], [], []
    for file, label, character in tqdm(files, desc="FERG", unit="image", disable=len(files) < 5000):
        image = read_gray(file, size, provenance)
        if image is None:
            continue
        images.append(image)
        labels.append(label)
        subjects.append(character)
    if not images:
        raise DatasetError(root, "no readable FERG images")
    provenance.read = len(images)
    return Dataset("ferg", np.stack(images), np.array(labels), list(CLASS_NAMES), provenance,
                   subjects=np.array(subjects))


def write_synthetic(root, seed=0, per_class=20, image_size=ORIGINAL_SIZE) -> Path:
    """Write synthetic faces as RGB PNGs in the FERG_DB_256 layout: about `per_class` images of
    each emotion for each character (one synthetic identity per character). Returns the FERG_DB_256 folder."""
    root = Path(root) / "FERG_DB_256"
    n_classes = len(CLASS_NAMES)
    images, labels, subjects = synthetic.face_images(per_class * n_classes * len(CHARACTERS), CLASS_NAMES,
                                                     size=image_size, seed=seed, n_subjects=len(CHARACTERS))
    character_of = dict(zip(sorted(set(subjects)), CHARACTERS))
    counters = {}
    for image, label, subject in zip(images, labels, subjects):
        character = character_of[subject]
        name = f"{character}_{CLASS_NAMES[label]}"
        folder = root / character / name
        folder.mkdir(parents=True, exist_ok=True)
        counters[name] = counters.get(name, 0) + 1
        cv2.imwrite(str(folder / f"{name}_{counters[name]}.png"), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return root
