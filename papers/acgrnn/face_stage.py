"""The face stage (Sections "Face identification using MTCNN" and "Feature extraction").

1. MTCNN on every image: FER2013's 48x48 faces are upscaled (x3, bicubic) first,
   because MTCNN's 20-pixel minimum face and 12-pixel proposal net miss most faces at
   48 pixels. The largest face at confidence >= 0.9 and its 5 keypoints are kept.
2. Alignment from the keypoints: the similarity transform that puts the two eye
   keypoints level at fixed template positions (common.toolkit.faces.align_eyes), back to
   48x48. An image where MTCNN finds no face keeps its original pixels: FER2013's
   images are already centred face crops, so it stays in the data (dropping it would
   make the test set easier), and it is counted.
3. Geometry: dlib's HOG detector and 68-point predictor on the aligned face (the
   paper's Fig. 4; where HOG finds no face in the aligned crop, the whole crop is
   the box, counted); the points, centred on their mean and divided by the distance
   between the eye centres, are the 136 geometric features, plus a 0/1 "found" flag
   (zeros where the predictor fails).
Every step is cached on disk per image (common.toolkit.faces), so the second experiment on
the same images, or a rerun, reads them back.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from common.toolkit.faces import LEFT_EYE, RIGHT_EYE, align_eyes, detect_landmarks, detect_mtcnn
from datasets.base import Dataset


@dataclasses.dataclass
class AlignedFaces(Dataset):
    """A Dataset of aligned faces carrying each face's geometry and what the face stage found."""
    geometry: np.ndarray | None = None  # (N, 137): 68 normalised (x, y) and the "landmarks found" flag
    mtcnn_found: np.ndarray | None = None  # (N,) bool: a face and its 5 keypoints (else the image is unaligned)
    dlib_face_found: np.ndarray | None = None  # (N,) bool: dlib's HOG box on the aligned face (else the whole crop)

    def subset(self, index, name=None):
        index = np.asarray(index)
        return dataclasses.replace(super().subset(index, name), geometry=self.geometry[index],
                                   mtcnn_found=self.mtcnn_found[index], dlib_face_found=self.dlib_face_found[index])


def geometric_features(points, found):
    """(N, 137): the 68 points centred on their mean and scaled by the inter-ocular distance, and the flag."""
    features = np.zeros((len(points), 137), np.float32)
    if found.any():
        p = points[found]
        centred = p - p.mean(axis=1, keepdims=True)
        eyes = np.linalg.norm(p[:, list(RIGHT_EYE)].mean(axis=1) - p[:, list(LEFT_EYE)].mean(axis=1), axis=1)
        features[found, :136] = (centred / np.maximum(eyes, 1e-6)[:, None, None]).reshape(len(p), 136)
    features[:, 136] = found
    return features


def face_stage(ds: Dataset, options) -> AlignedFaces:
    """MTCNN -> alignment -> dlib 68 landmarks -> geometry, for every image of `ds`; counts go to its notes."""
    size = ds.images.shape[1]
    mtcnn = detect_mtcnn(ds.images, upscale=options["upscale"], min_confidence=options["min_confidence"])
    aligned = ds.images.copy()
    for i in np.flatnonzero(mtcnn.found):
        aligned[i] = align_eyes(ds.images[i], mtcnn.keypoints[i, 0], mtcnn.keypoints[i, 1], size)
    landmarks = detect_landmarks(aligned, upscale=options["landmark_upscale"])
    found, missing = int(mtcnn.found.sum()), int((~mtcnn.found).sum())
    ds.provenance.notes.append(
        f"Face stage: MTCNN (images upscaled x{options['upscale']}, confidence >= {options['min_confidence']}) "
        f"found a face and its 5 keypoints in {found} of {len(ds)} images ({found / len(ds):.1%}); the {missing} "
        f"without one kept their original (unaligned) pixels. dlib's 68 landmarks: predicted in "
        f"{int(landmarks.found.sum())} aligned faces, dlib's HOG box found in {int(landmarks.face_found.sum())} "
        f"(else the whole image was the box).")
    return AlignedFaces(**{**ds.__dict__, "images": aligned},
                        geometry=geometric_features(landmarks.points, landmarks.found),
                        mtcnn_found=mtcnn.found, dlib_face_found=landmarks.face_found)
