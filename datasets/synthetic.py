"""Synthetic grayscale faces whose expression is geometry a model can learn.

CI and the embedded default run every paper on these faces, so they must be
learnable (a small model beats chance by a wide margin after a few epochs) yet
not trivial: the expression lives only in facial geometry (mouth curvature and
opening, brow height and tilt, eye opening, a one-sided lip corner for
contempt, a raised upper lip and nose wrinkles for disgust), while the identity
of each subject (face shape, skin and hair tone, feature placement, habitual
expression biases) and each image (position, scale, rotation, lighting, noise,
an occasional occluder) varies as it does in real data.

Faces are drawn with opencv polygons on a canvas several times larger than the
output, then reduced with INTER_AREA, which anti-aliases the thin features.
Everything is driven by one seed: the same call gives the same arrays.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

EXPRESSIONS = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
OTHER = "other"  # micro-expression datasets' catch-all class: a weak blend of two expressions

_ALIASES = {
    "angry": "anger", "contemptuous": "contempt", "disgusted": "disgust", "fearful": "fear",
    "scared": "fear", "happy": "happiness", "joy": "happiness", "sad": "sadness",
    "surprised": "surprise", "others": OTHER,
}


def canonical(name: str) -> str:
    """The canonical expression for a dataset's class name (e.g. 'Happy' -> 'happiness')."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in EXPRESSIONS and key != OTHER:
        raise ValueError(f"unknown expression {name!r}; known: {', '.join(EXPRESSIONS + (OTHER,))} and aliases")
    return key


# Facial geometry, in face units (face half-width = 1, y downwards). An expression at
# intensity s is NEUTRAL + s * (target - NEUTRAL), parameter by parameter.
NEUTRAL = dict(mouth_curve=0.0, mouth_open=0.0, mouth_width=1.0, upper_lip=0.0, corner_lift=0.0,
               brow_raise=0.0, brow_tilt=0.0, eye_open=1.0, nose_wrinkle=0.0)
_TARGETS = {
    "neutral": {},
    "anger": dict(mouth_curve=-0.4, mouth_width=0.75, brow_raise=-0.9, brow_tilt=-1.2, eye_open=0.6),
    "contempt": dict(corner_lift=1.0, eye_open=0.9),
    "disgust": dict(mouth_curve=-0.5, upper_lip=1.0, nose_wrinkle=1.0, brow_raise=-0.5, eye_open=0.5),
    "fear": dict(mouth_curve=-0.3, mouth_open=0.45, mouth_width=1.3, brow_raise=0.7, brow_tilt=0.9,
                 eye_open=1.55),
    "happiness": dict(mouth_curve=1.0, mouth_open=0.35, mouth_width=1.3, eye_open=0.65),
    "sadness": dict(mouth_curve=-0.9, mouth_width=0.95, brow_raise=0.1, brow_tilt=1.3, eye_open=0.7),
    "surprise": dict(mouth_open=1.0, mouth_width=0.7, brow_raise=1.3, eye_open=1.65),
}


def geometry(expression: str, intensity: float, rng: np.random.Generator | None = None) -> dict:
    """Geometry parameters of `expression` at `intensity` (0 = neutral, 1 = apex).

    'other' blends two random non-neutral expressions at half strength, so it needs `rng`.
    """
    expression = canonical(expression)
    if expression == OTHER:
        first, second = rng.choice(EXPRESSIONS[1:], size=2, replace=False)
        a, b = geometry(first, 0.5 * intensity), geometry(second, 0.5 * intensity)
        return {k: (a[k] + b[k]) / 2 for k in NEUTRAL}
    target = {**NEUTRAL, **_TARGETS[expression]}
    return {k: NEUTRAL[k] + intensity * (target[k] - NEUTRAL[k]) for k in NEUTRAL}


@dataclasses.dataclass(frozen=True)
class Identity:
    """What stays fixed for one subject: shape, tones, feature placement, habitual biases."""
    face_size: float  # face half-width as a fraction of the image width
    face_aspect: float  # half-height / half-width
    center: tuple  # face centre as a fraction of the image
    skin: int
    hair: int
    background: int
    hairline: float  # face-unit y where the hair begins
    eye_x: float
    eye_y: float
    eye_size: float
    brow_tone: int
    brow_thickness: float
    mouth_y: float
    mouth_size: float
    contempt_side: int  # +1 or -1: which lip corner rises
    curve_bias: float  # some people look a little happy or sad at rest
    brow_bias: float
    eye_bias: float


def random_identity(rng: np.random.Generator) -> Identity:
    skin = int(rng.integers(110, 215))
    return Identity(
        face_size=rng.uniform(0.33, 0.40), face_aspect=rng.uniform(1.15, 1.4),
        center=(rng.uniform(0.46, 0.54), rng.uniform(0.50, 0.58)),
        skin=skin, hair=int(rng.choice([rng.integers(10, 80), rng.integers(140, 210)], p=[0.8, 0.2])),
        background=int(rng.integers(20, 236)), hairline=rng.uniform(-1.2, -0.85),
        eye_x=rng.uniform(0.36, 0.46), eye_y=rng.uniform(-0.22, -0.08), eye_size=rng.uniform(0.9, 1.15),
        brow_tone=int(max(0, skin - rng.integers(75, 120))), brow_thickness=rng.uniform(0.07, 0.11),
        mouth_y=rng.uniform(0.55, 0.7), mouth_size=rng.uniform(0.9, 1.15),
        contempt_side=int(rng.choice([-1, 1])), curve_bias=rng.uniform(-0.15, 0.15),
        brow_bias=rng.uniform(-0.15, 0.15), eye_bias=rng.uniform(0.9, 1.1))


@dataclasses.dataclass(frozen=True)
class Scene:
    """What varies per image (or per clip): placement, lighting, noise level, occluder."""
    shift: tuple  # (dx, dy) as a fraction of the image
    angle: float  # degrees
    scale: float
    light: tuple  # (strength, direction in radians) of a linear lighting gradient
    noise: float  # Gaussian noise sigma in grey levels
    occluder: tuple | None  # (x0, y0, x1, y1) as fractions of the image, and its tone

    def jittered(self, rng):
        """The same scene a frame later: the head moves a little."""
        return dataclasses.replace(
            self, shift=(self.shift[0] + rng.normal(0, 0.006), self.shift[1] + rng.normal(0, 0.006)),
            angle=self.angle + rng.normal(0, 0.6), scale=self.scale * (1 + rng.normal(0, 0.006)))


def random_scene(rng: np.random.Generator, occlusion_rate=0.1) -> Scene:
    occluder = None
    if rng.random() < occlusion_rate:
        w, h = rng.uniform(0.2, 0.45), rng.uniform(0.15, 0.35)
        x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        occluder = (x0, y0, x0 + w, y0 + h, int(rng.integers(0, 256)))
    return Scene(shift=tuple(rng.normal(0, 0.025, 2)), angle=rng.normal(0, 5), scale=rng.uniform(0.93, 1.07),
                 light=(rng.uniform(0, 0.3), rng.uniform(0, 2 * np.pi)), noise=rng.uniform(1.5, 6),
                 occluder=occluder)


def _ellipse(cx, cy, ax, ay, n=32):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def _mouth(g, ident):
    """Upper and lower lip outlines (face units) from corner to corner."""
    t = np.linspace(-1, 1, 25)
    half_width = 0.36 * ident.mouth_size * g["mouth_width"]
    curve = g["mouth_curve"] + ident.curve_bias
    base = ident.mouth_y - 0.2 * curve * t ** 2  # positive curve lifts the corners: a smile
    lifted = np.clip(t * ident.contempt_side, 0, None) ** 2  # one corner only
    base = base - 0.22 * g["corner_lift"] * lifted
    x = t * half_width * (1 + 0.12 * g["corner_lift"] * lifted)
    gap = 0.2 * g["mouth_open"] * (1 - t ** 2)
    snarl = 0.12 * g["upper_lip"] * (1 - t ** 2) ** 0.5  # disgust: the upper lip rises, the lower one stays
    upper = np.stack([x, base - gap - snarl], axis=1)
    lower = np.stack([x, base + gap], axis=1)
    return upper, lower


def render_face(expression_geometry: dict, identity: Identity, scene: Scene, size: int,
                rng: np.random.Generator) -> np.ndarray:
    """One uint8 (size, size) face: `identity` showing `expression_geometry`, placed by `scene`."""
    g, ident = expression_geometry, identity
    upscale = max(1, min(4, 512 // size))
    canvas_size = size * upscale
    canvas = np.full((canvas_size, canvas_size), ident.background, np.uint8)

    unit = ident.face_size * scene.scale * canvas_size  # pixels per face unit
    angle = np.deg2rad(scene.angle)
    rotation = unit * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    origin = canvas_size * (np.array(ident.center) + np.array(scene.shift))
    shift_bits = 4  # sub-pixel precision for opencv drawing

    def pixels(points):
        return np.round((points @ rotation.T + origin) * (1 << shift_bits)).astype(np.int32)

    def fill(points, tone):
        cv2.fillPoly(canvas, [pixels(points)], int(tone), cv2.LINE_AA, shift_bits)

    def stroke(points, tone, thickness, closed=False):
        cv2.polylines(canvas, [pixels(points)], closed, int(tone), max(1, int(round(thickness * unit))),
                      cv2.LINE_AA, shift_bits)

    aspect = ident.face_aspect
    fill(_ellipse(0, -0.25, 1.12, aspect * 0.95), ident.hair)  # hair behind the head
    for side in (-1, 1):
        fill(_ellipse(side * 0.98, 0.0, 0.16, 0.28), ident.skin)  # ears
    fill(_ellipse(0, 0, 1, aspect), ident.skin)
    fringe = _ellipse(0, 0, 1.01, aspect * 1.01, 64)
    fill(fringe[fringe[:, 1] < ident.hairline], ident.hair)

    for side in (-1, 1):
        ex, ey = side * ident.eye_x, ident.eye_y
        eye_half_height = max(0.015, 0.11 * ident.eye_size * g["eye_open"] * ident.eye_bias)
        eye_half_width = 0.19 * ident.eye_size
        fill(_ellipse(ex, ey, eye_half_width, eye_half_height), min(255, ident.skin + 45))
        iris = 0.075 * ident.eye_size
        fill(_ellipse(ex, ey, iris, min(iris, eye_half_height)), 30)
        stroke(_ellipse(ex, ey, eye_half_width, eye_half_height), ident.skin * 0.35, 0.03, closed=True)

        brow_y = ey - 0.24 - 0.13 * (g["brow_raise"] + ident.brow_bias)
        tilt = 0.12 * g["brow_tilt"]  # positive: inner ends rise (sadness, fear); negative: they drop (anger)
        inner = (side * 0.12, brow_y - tilt + 0.04 * max(0.0, -g["brow_tilt"]))
        middle = (side * 0.38, brow_y - 0.05)
        outer = (side * 0.64, brow_y + 0.03 + 0.3 * tilt)
        stroke(np.array([inner, middle, outer]), ident.brow_tone, ident.brow_thickness)

    nose_shade = ident.skin * 0.72
    stroke(np.array([(0.0, 0.25), (0.1, 0.32), (0.0, 0.36)]), nose_shade, 0.04)
    for side in (-1, 1):
        fill(_ellipse(side * 0.09, 0.36, 0.045, 0.025), nose_shade * 0.6)
    for k in range(int(round(3 * g["nose_wrinkle"]))):  # disgust wrinkles the nose bridge
        y = 0.02 + 0.07 * k
        stroke(np.array([(-0.12, y + 0.02), (0.0, y), (0.12, y + 0.02)]), nose_shade * 0.8, 0.03)

    upper, lower = _mouth(g, ident)
    lips = ident.skin * 0.6
    if np.max(lower[:, 1] - upper[:, 1]) > 0.02:
        fill(np.concatenate([upper, lower[::-1]]), 25)  # open mouth: dark interior
    stroke(upper, lips, 0.06)
    stroke(lower, lips, 0.07)

    image = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    strength, direction = scene.light
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    image *= 1 + strength * (np.cos(direction) * ramp[None, :] + np.sin(direction) * ramp[:, None])
    if scene.occluder is not None:
        x0, y0, x1, y1, tone = scene.occluder
        image[int(y0 * size):int(y1 * size), int(x0 * size):int(x1 * size)] = tone
    image += rng.normal(0, scene.noise, image.shape).astype(np.float32)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _identities(n_subjects, seed):
    rng = np.random.default_rng([seed, 1])
    return [random_identity(rng) for _ in range(n_subjects)]


def _balanced_labels(n, n_classes, n_subjects, rng):
    """Labels with equal class counts (up to one), and subjects dealt round-robin so each shows many classes."""
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    subject_index = np.arange(n) % n_subjects
    return labels.astype(np.int64), subject_index


def _subject_ids(subject_index):
    return np.array([f"S{i + 1:03d}" for i in subject_index])


def face_images(n, class_names, size=48, seed=0, n_subjects=20, intensity=1.0):
    """n balanced faces of the given classes -> (images uint8 (n,size,size), labels int64, subject ids)."""
    expressions = [canonical(c) for c in class_names]
    rng = np.random.default_rng([seed, 2])
    identities = _identities(n_subjects, seed)
    labels, subject_index = _balanced_labels(n, len(expressions), n_subjects, rng)
    images = np.empty((n, size, size), np.uint8)
    for i, (label, subject) in enumerate(zip(labels, subject_index)):
        strength = intensity * rng.uniform(0.75, 1.0)  # people pose an expression more or less strongly
        g = geometry(expressions[label], strength, rng)
        images[i] = render_face(g, identities[subject], random_scene(rng), size, rng)
    return images, labels, _subject_ids(subject_index)


def _smoothstep(x):
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _onset_profile(frames, offset):
    """Intensity per frame: neutral, onset, apex (and back down when `offset`)."""
    t = np.linspace(0, 1, frames)
    if offset:
        return _smoothstep((t - 0.1) / 0.3) * _smoothstep((0.9 - t) / 0.3)
    return _smoothstep((t - 0.15) / 0.55)


def _flash_profile(frames, rng):
    """A micro-expression: neutral, a 2-3 frame flash at low intensity, neutral again."""
    if frames < 5:
        raise ValueError(f"a micro-expression flash needs at least 5 frames, got {frames}")
    length = int(rng.integers(2, 4))
    start = int(rng.integers(1, frames - length))
    profile = np.zeros(frames)
    profile[start:start + length] = 0.5 * np.array([0.6, 1.0, 0.6][:length])
    return profile


def face_sequences(n, class_names, frames=10, size=48, seed=0, n_subjects=20, intensity=1.0, flash=False,
                   offset=False):
    """n balanced clips -> (clips uint8 (n,frames,size,size), labels int64, subject ids).

    Each clip is one subject in one scene, moving slightly from frame to frame, going
    neutral -> onset -> apex (-> offset back to neutral when `offset`), or with `flash`
    a brief low-intensity micro-expression between neutral frames.
    """
    expressions = [canonical(c) for c in class_names]
    rng = np.random.default_rng([seed, 3])
    identities = _identities(n_subjects, seed)
    labels, subject_index = _balanced_labels(n, len(expressions), n_subjects, rng)
    clips = np.empty((n, frames, size, size), np.uint8)
    for i, (label, subject) in enumerate(zip(labels, subject_index)):
        apex = geometry(expressions[label], intensity * rng.uniform(0.75, 1.0), rng)
        profile = _flash_profile(frames, rng) if flash else _onset_profile(frames, offset)
        scene = random_scene(rng)
        for f, strength in enumerate(profile):
            g = {k: NEUTRAL[k] + strength * (apex[k] - NEUTRAL[k]) for k in NEUTRAL}
            clips[i, f] = render_face(g, identities[subject], scene, size, rng)
            scene = scene.jittered(rng)
    return clips, labels, _subject_ids(subject_index)
