"""Face detection and embeddings with dlib: the HOG frontal face detector, the 5-point landmark
model and the ResNet face recognition model (128 numbers per face). The weights ship inside the
``face-recognition-models`` package; nothing is downloaded at run time. CPU-heavy, blocking, and
dlib keeps the GIL for parts of it: run it through the ``CpuPool`` (process workers).

Only CC0/public-domain weights are loaded: ``shape_predictor_5_face_landmarks`` and
``dlib_face_recognition_resnet_model_v1`` (Davis King, released into the public domain). The
68-point model in the same package is trained on iBUG 300-W, whose licence excludes commercial
use: it is not used.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlib
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from videocall.faces import Face

MAX_SIDE = 1280  # larger photos are scaled down first: faces stay >= 40 px, detection stays fast
MAX_FACES = 4
CHIP_SIZE = 150  # the ResNet model's input
CHIP_PADDING = 0.25


def model_dir() -> Path:
    """The package's models folder, found without importing it (its ``__init__`` needs
    pkg_resources, which newer setuptools drop)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@dataclass(frozen=True)
class _Models:
    detector: Any
    landmarks: Any
    recogniser: Any


_local = threading.local()  # dlib's objects are not documented thread-safe: one set per thread


def _models() -> _Models:
    models: _Models | None = getattr(_local, "models", None)
    if models is None:
        folder = model_dir()
        models = _Models(
            detector=dlib.get_frontal_face_detector(),
            landmarks=dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
            recogniser=dlib.face_recognition_model_v1(
                str(folder / "dlib_face_recognition_resnet_model_v1.dat")
            ),
        )
        _local.models = models
    return models


def _rgb(image: Image.Image) -> tuple[np.ndarray, float]:
    upright = ImageOps.exif_transpose(image).convert("RGB")
    scale = min(1.0, MAX_SIDE / max(upright.size))
    if scale < 1.0:
        size = (round(upright.width * scale), round(upright.height * scale))
        upright = upright.resize(size, Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(upright, dtype=np.uint8)), scale


def faces_in_image(image: Image.Image, *, want: int = 1) -> list[Face]:
    """Faces in a picture, largest first. Looks harder (upsampled twice) when it finds some but
    fewer than ``want``: the KTP's photo beside the face in a selfie is small."""
    pixels, scale = _rgb(image)
    models = _models()
    rects = list(models.detector(pixels, 1))
    if 0 < len(rects) < want:
        rects = list(models.detector(pixels, 2))
    rects.sort(key=lambda r: r.area(), reverse=True)
    faces = []
    for rect in rects[:MAX_FACES]:
        shape = models.landmarks(pixels, rect)
        chip = dlib.get_face_chip(pixels, shape, CHIP_SIZE, CHIP_PADDING)
        embedding = models.recogniser.compute_face_descriptor(chip)
        box = tuple(
            round(v / scale) for v in (rect.left(), rect.top(), rect.right(), rect.bottom())
        )
        faces.append(Face(box=(box[0], box[1], box[2], box[3]), embedding=tuple(embedding)))
    return faces


def find_faces(data: bytes, want: int = 1) -> list[dict[str, Any]] | None:
    """Faces in an encoded photo as plain dicts (they cross the worker pipe and go to JSON);
    ``None`` when the bytes are not a picture."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return [face.as_dict() for face in faces_in_image(image, want=want)]


def find_faces_in_file(path: str, want: int = 1) -> list[dict[str, Any]] | None:
    """As ``find_faces``, reading the file in the worker (snapshots are files on disk)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return find_faces(data, want)
