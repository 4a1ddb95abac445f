"""The face-model stage (Sections II.B-E): what stands in for Candide-3 and its learned objective.

The paper fits the Candide-3 wireframe to every frame: p = (rx, ry, rz, s, tx, ty,
sigma, alpha), a pose and 79 deformation parameters (shape units sigma,
animation units alpha), found by minimising an objective function that was
*learned* from annotated images (Wimmer et al., 2008). Neither that learned
objective nor the Candide-3 fitting code is available, so this module substitutes:

1. Landmarks instead of a rendered wireframe: dlib's 68-point shape predictor (an
   ensemble of regression trees learned from annotated faces: the learned part of
   the fit) inside dlib's HOG face box, on the frame upscaled x4. Where HOG finds
   no face the whole frame is the box (CK+48 frames are face crops); both that
   fallback and a failed landmark prediction are counted per frame
   (`common.toolkit.faces.detect_landmarks`, cached on disk with the other face stages).
2. Pose (rz, s, tx, ty): the similarity transform that maps the mean shape onto the
   68 points with least squared error. rx and ry (out-of-plane rotation) are not
   estimated: there is no 3D model, and CK+ faces are frontal.
3. Deformation (sigma, alpha): a linear 2D point-distribution model learned on the
   training frames only. Shape units: principal components of each subject's mean
   aligned shape (how faces differ between people); animation units: principal
   components of each frame's deviation from its subject's mean (how one face
   moves). Per frame they minimise the landmark error plus a Gaussian prior,
       |x - (mean + S sigma + A alpha)|^2 / noise + sum sigma^2 / var_S + sum alpha^2 / var_A,
   solved in closed form. That objective is designed, not learned.
The features per frame are the pose, sigma and alpha (standardised on the
training frames) and a 0/1 flag "landmarks found"; a frame without landmarks gets
the mean face (zeros) and flag 0.
"""
from __future__ import annotations

import numpy as np

from common.toolkit.faces import Landmarks


def similarity_pose(points, reference):
    """Least-squares similarity transform reference -> points, as complex numbers: points ~ t + c * reference.

    points (N, 68, 2); reference (68, 2) centred. Returns t (N,) and c (N,) complex:
    rotation rz = angle(c), scale s = |c|, translation (tx, ty) = (t.real, t.imag).
    """
    z = points[..., 0] + 1j * points[..., 1]
    w = reference[:, 0] + 1j * reference[:, 1]
    t = z.mean(axis=1)
    c = ((z - t[:, None]) @ np.conj(w)) / np.vdot(w, w).real
    return t, c


def align(points, reference):
    """Points with the pose removed: in the reference's frame, (N, 136) as x0, y0, x1, y1, ..."""
    t, c = similarity_pose(points, reference)
    z = (points[..., 0] + 1j * points[..., 1] - t[:, None]) / c[:, None]
    return np.stack([z.real, z.imag], axis=-1).reshape(len(points), -1)


def mean_shape(points, iterations=5):
    """Generalised Procrustes: the centred, unit-size mean shape all shapes align to best."""
    reference = points[0] - points[0].mean(axis=0)
    for _ in range(iterations):
        reference = reference / np.linalg.norm(reference)
        reference = align(points, reference).mean(axis=0).reshape(68, 2)
        reference = reference - reference.mean(axis=0)
    return reference / np.linalg.norm(reference)


def principal_components(deviations, n):
    """The first n principal directions (136, n) and their variances (n,)."""
    _, singular, directions = np.linalg.svd(deviations - deviations.mean(axis=0), full_matrices=False)
    n = min(n, len(singular))
    return directions[:n].T, singular[:n] ** 2 / max(len(deviations) - 1, 1)


class FaceModel:
    """The linear face model (mean, shape units, animation units), learned from training frames' landmarks."""

    def __init__(self, shape_units=14, animation_units=65):
        self.shape_units, self.animation_units = shape_units, animation_units

    def fit(self, landmarks: Landmarks, subjects):
        """Learn the model from frames with landmarks; `subjects` (one per frame) separate shape from expression."""
        points, subjects = landmarks.points[landmarks.found], np.asarray(subjects)[landmarks.found]
        self.reference = mean_shape(points)
        aligned = align(points, self.reference)
        self.mean = aligned.mean(axis=0)
        per_subject = {s: aligned[subjects == s].mean(axis=0) for s in np.unique(subjects)}
        subject_means = np.stack(list(per_subject.values()))
        within = aligned - np.stack([per_subject[s] for s in subjects])
        shape_basis, shape_var = principal_components(subject_means, self.shape_units)
        motion_basis, motion_var = principal_components(within, self.animation_units)
        self.basis = np.concatenate([shape_basis, motion_basis], axis=1)
        self.prior_var = np.concatenate([shape_var, motion_var]) + 1e-12
        residual = aligned - self.mean
        self.noise_var = float(np.mean((residual - residual @ self.basis @ np.linalg.pinv(self.basis)) ** 2)) + 1e-12
        raw = self._raw_parameters(landmarks.points[landmarks.found])
        self.feature_mean, self.feature_std = raw.mean(axis=0), raw.std(axis=0) + 1e-6
        return self

    def _raw_parameters(self, points):
        """(rz, log s, tx, ty, sigma, alpha) per frame, by the closed-form MAP fit described above."""
        t, c = similarity_pose(points, self.reference)
        deviation = align(points, self.reference) - self.mean
        normal = self.basis.T @ self.basis / self.noise_var + np.diag(1.0 / self.prior_var)
        deformation = np.linalg.solve(normal, self.basis.T @ deviation.T / self.noise_var).T
        pose = np.stack([np.angle(c), np.log(np.abs(c)), t.real, t.imag], axis=1)
        return np.concatenate([pose, deformation], axis=1)

    @property
    def n_features(self):
        return 4 + self.basis.shape[1] + 1

    def parameters(self, landmarks: Landmarks):
        """Standardised (pose, sigma, alpha, found) per frame; frames without landmarks get zeros and found = 0."""
        features = np.zeros((len(landmarks.found), self.n_features), np.float32)
        if landmarks.found.any():
            raw = self._raw_parameters(landmarks.points[landmarks.found])
            features[landmarks.found, :-1] = (raw - self.feature_mean) / self.feature_std
        features[:, -1] = landmarks.found
        return features

    def reconstruct(self, parameters):
        """Landmarks (N, 68, 2) of standardised parameters: the model's fit, for the figure."""
        raw = parameters[:, :-1] * self.feature_std + self.feature_mean
        rz, log_s, tx, ty, deformation = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3], raw[:, 4:]
        shape = (self.mean + deformation @ self.basis.T).reshape(len(raw), 68, 2)
        z = (tx + 1j * ty)[:, None] + np.exp(log_s + 1j * rz)[:, None] * (shape[..., 0] + 1j * shape[..., 1])
        return np.stack([z.real, z.imag], axis=-1)
