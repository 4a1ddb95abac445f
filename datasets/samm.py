"""SAMM (Spontaneous Actions and Micro-Movements, Davison et al. 2018): micro-expression clips.

The layout of the release (licensed from Manchester Metropolitan University):

    SAMM/
      SAMM_Micro_FACS_Codes_v2.xlsx      the coding file (or a CSV export of it)
      006/                               one folder per subject
        006_1_2/                         one folder per clip (the coding file's "Filename")
          006_05562.jpg ...              gray frames at 200 fps, named <subject>_<frame number>

The coding file has a title block, then a header row with at least `Subject`,
`Filename`, `Onset Frame`, `Apex Frame`, `Offset Frame` and `Estimated Emotion`
(plus Inducement Code, Duration, Type, Action Units, Notes, ...); frame numbers are
those of the file names. Reading .xlsx needs `openpyxl`; a .csv export (UTF-8) needs nothing.
A coding row that cannot be used (a field count other than the header's, an unknown
emotion, frame numbers that are not numbers or an offset before the onset) is
skipped and recorded with its line number, and the other rows load.

Each clip gives its frames from onset to offset (or only the apex, or onset/apex/
offset) as separate items, grouped by `sequences` and `subjects`. Frames become
grayscale squares of `size` pixels: by default the centre of the frame (the
subject sits centred before a plain background), or a fixed box you give. Face
detection is not done here (datasets/ has no face detector): a paper that wants
it asks for a larger `size` and detects faces in its prepare step.
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, decode_gray, empty_columns, from_columns, require_exists

CLASS_NAMES = ["anger", "contempt", "disgust", "fear", "happiness", "other", "sadness", "surprise"]
CODING_COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion")
FRAME_CHOICES = ("expression", "apex", "onset_apex_offset")
CODING_NAME = "SAMM_Micro_FACS_Codes_v2.csv"


def load(path, size=48, frames="expression", crop="centre", centre_fraction=0.8) -> Dataset:
    """Read SAMM from its folder. frames: "expression" (onset..offset), "apex", or
    "onset_apex_offset"; crop: "centre" (the central square, `centre_fraction` of the
    shorter side) or a fixed (x, y, w, h) box in frame pixels."""
    root = require_exists(path)
    if frames not in FRAME_CHOICES:
        raise ValueError(f"frames must be one of {FRAME_CHOICES}, got {frames!r}")
    provenance = Provenance(str(root))
    items = empty_columns()
    coding = find_coding_file(root)
    for line, row in read_coding(coding):
        if isinstance(row, str):
            provenance.skip(f"{coding.name} line {line}", row)
            continue
        clip = str(row["Filename"]).strip()
        where = f"{coding.name} line {line} ({clip})"
        emotion = str(row["Estimated Emotion"]).strip().lower()
        if emotion not in CLASS_NAMES:
            provenance.skip(where, f"unknown emotion {emotion!r}")
            continue
        try:
            onset, apex, offset = (int(float(row[c])) for c in ("Onset Frame", "Apex Frame", "Offset Frame"))
        except (TypeError, ValueError, OverflowError):
            provenance.skip(where, "onset/apex/offset frame is not a number")
            continue
        numbers = wanted_frames(onset, apex, offset, frames)
        if not numbers:
            provenance.skip(where, f"offset frame {offset} is before onset frame {onset}")
            continue
        subject = str(row["Subject"]).strip().zfill(3)
        folder = root / subject / clip
        if not folder.is_dir():
            provenance.skip(folder, "clip folder listed in the coding file is missing")
            continue
        files = {frame_number(p): p for p in folder.iterdir() if frame_number(p) is not None}
        for number in numbers:
            if number not in files:
                provenance.skip(f"{folder}/frame {number}", "frame file missing")
                continue
            gray, problem = decode_gray(files[number])
            if gray is None:
                provenance.skip(files[number], problem)
                continue
            square = face_square(gray, crop, size, centre_fraction)
            if square is None:
                provenance.skip(files[number], f"{gray.shape[1]}x{gray.shape[0]} frame: no pixel inside the crop")
                continue
            items["images"].append(square)
            items["labels"].append(CLASS_NAMES.index(emotion))
            items["subjects"].append(subject)
            items["sequences"].append(clip)
            items["frames"].append(number)
            provenance.read += 1
    return from_columns("samm", items, CLASS_NAMES, provenance, root)


def find_coding_file(root):
    """The coding table in `root`: SAMM_Micro_FACS_Codes* first, else any .csv or .xlsx."""
    found = sorted(root.glob("*.csv")) + sorted(root.glob("*.xlsx"))
    if not found:
        raise DatasetError(root, "no coding file (SAMM_Micro_FACS_Codes*.xlsx or a .csv export of it)")
    return min(found, key=lambda f: not f.name.startswith("SAMM_Micro_FACS_Codes"))


def read_coding(path):
    """(line number, row dict or why the row is malformed) of a coding table whose header
    row holds CODING_COLUMNS, wherever that row is (the release puts a title block above it)."""
    if path.suffix == ".xlsx":
        try:
            import openpyxl  # noqa: F401  (pandas' Excel reader)
        except ImportError:
            raise DatasetError(path, "reading .xlsx needs `pip install openpyxl` (or export the sheet as .csv)") \
                from None
        import pandas as pd
        try:
            sheet = pd.read_excel(path, header=None, dtype=str).fillna("").values.tolist()
        except Exception as error:  # openpyxl and zipfile raise many kinds for a broken workbook
            raise DatasetError(path, f"not a readable Excel workbook: {error}") from None
        rows = [(i + 1, row) for i, row in enumerate(sheet)]
    else:
        rows = read_csv(path)
    return table_rows(path, rows, CODING_COLUMNS)


def read_csv(path):
    """(line number, fields) of each row of a UTF-8 CSV file; the line number reads '5-40'
    for a row that runs over several lines (a quoted field holding line breaks, or an
    unclosed quote)."""
    rows, first = [], 1
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for fields in reader:
                rows.append((str(first) if reader.line_num == first else f"{first}-{reader.line_num}", fields))
                first = reader.line_num + 1
    except UnicodeDecodeError as error:
        raise DatasetError(path, f"not UTF-8 text (byte {error.start}): save the table as CSV UTF-8") from None
    except csv.Error as error:
        raise DatasetError(path, f"not a readable CSV table (line {first}: {error})") from None
    return rows


def table_rows(path, rows, required):
    """(line number, row dict or why it is malformed) for each non-blank row below the header
    row, the first row holding the `required` columns. A row with fewer fields than the
    header, or with text beyond its last column, is malformed: its values cannot be trusted
    to sit under their column names."""
    for i, (_, fields) in enumerate(rows):
        header = [str(c).strip() for c in fields]
        if set(required) <= set(header):
            break
    else:
        raise DatasetError(path, f"no header row with the columns {', '.join(required)}")
    width = max(k + 1 for k, name in enumerate(header) if name)  # the header's trailing empty cells do not count
    table = []
    for line, fields in rows[i + 1:]:
        cells = [str(c).strip() for c in fields]
        if not any(cells):
            continue
        if len(cells) < width or any(cells[len(header):]):
            table.append((line, f"malformed row: {len(cells)} fields where the header has {width}"))
        else:
            table.append((line, dict(zip(header, fields))))
    return table


def frame_number(path):
    """5562 from '006_05562.jpg', None for files that are not frames."""
    stem = Path(path).stem
    if Path(path).suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp") or "_" not in stem:
        return None
    digits = stem.rsplit("_", 1)[1]
    return int(digits) if digits.isdigit() else None


def wanted_frames(onset, apex, offset, frames):
    if frames == "apex":
        return [apex]
    if frames == "onset_apex_offset":
        return [onset, apex, offset]
    return list(range(onset, offset + 1))


def face_square(gray, crop, size, centre_fraction=0.8):
    """A square of `size` pixels: the frame's centre, or the (x, y, w, h) box given;
    None when no pixel of the frame lies inside (a box outside it, a frame too small)."""
    if crop == "centre":
        h, w = gray.shape
        side = int(min(h, w) * centre_fraction)
        x, y = (w - side) // 2, (h - side) // 2
        region = gray[y:y + side, x:x + side]
    else:
        x, y, w, h = crop
        region = gray[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)]
    if region.size == 0:
        return None
    return cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)


def synthetic_frames(clips, frame_shape, rng):
    """Synthetic face clips (n, T, s, s) centred on plain noisy frames of `frame_shape`, as a camera sees them."""
    height, width = frame_shape
    s = clips.shape[-1]
    out = np.empty((*clips.shape[:2], height, width), np.uint8)
    y, x = (height - s) // 2, (width - s) // 2
    for i in range(len(clips)):
        backdrop = np.clip(rng.normal(rng.uniform(60, 190), 6, (height, width)), 0, 255).astype(np.uint8)
        out[i, :] = backdrop
        out[i, :, y:y + s, x:x + s] = clips[i]
    return out


def write_synthetic(root, seed=0, n_clips=32, frames=9, face_size=96, frame_shape=(160, 200)) -> Path:
    """Write a SAMM-layout folder of synthetic clips (neutral -> apex -> neutral) and its coding CSV."""
    root = Path(root) / "SAMM"
    rng = np.random.default_rng([seed, 11])
    clips, labels, subjects = synthetic.face_sequences(n_clips, CLASS_NAMES, frames=frames, size=face_size,
                                                       seed=seed, n_subjects=8, offset=True)
    clips = synthetic_frames(clips, frame_shape, rng)
    rows = []
    for i, (clip, label, subject) in enumerate(zip(clips, labels, subjects)):
        subject = subject[-3:]
        name = f"{subject}_{i + 1}_{int(label) + 1}"
        first = int(rng.integers(1000, 9000))
        (root / subject / name).mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(clip):
            cv2.imwrite(str(root / subject / name / f"{subject}_{first + t:05d}.jpg"), frame,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append([subject, name, "1", first + 1, first + frames // 2, first + frames - 2, frames - 2,
                     "Micro - 1/2", "12", "", CLASS_NAMES[label].capitalize()])
    with open(root / CODING_NAME, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["SAMM micro-movement FACS codes (synthetic)"])
        out.writerow([])
        out.writerow(["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
                      "Duration", "Type", "Action Units", "Notes", "Estimated Emotion"])
        out.writerows(rows)
    return root
