"""Face embeddings with dlib's model (weights from face-recognition-models) on real photographs.

The photographs ship with scikit-image: ``astronaut`` (Eileen Collins, NASA, public domain) and
``lfw_subset`` (100 faces from Labeled Faces in the Wild, 25x25 px). What this shows: the same
real face survives crop, scale, light, JPEG, grey scale, a tilt and being printed into a KTP
and photographed ("mirip"); one person against 100 other people is never "mirip". What it cannot
show: the error rates on real KTP photos and selfies (different cameras, years between the
photos, twins, a photo of a photo); the 25-px LFW faces are upscaled and only stand in for
"other people". The bands' calibration is in docs/assist.md.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from skimage import data

from tests.assist_support import Card, photograph, render_ktp, variants
from videocall.adapters.face_model import faces_in_image, find_faces
from videocall.faces import Face, band, compare_all, distance, largest


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def reference(astronaut: Image.Image) -> Face:
    face = largest(faces_in_image(astronaut))
    assert face is not None
    return face


def _jpeg_again(image: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(_jpeg(image, quality=30)))


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop": lambda im: im.crop((60, 0, 420, 330)),
    "half-size": lambda im: im.resize((256, 256)),
    "double-size": lambda im: im.resize((1024, 1024)),
    "darker": lambda im: ImageEnhance.Brightness(im).enhance(0.5),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.4),
    "jpeg-30": _jpeg_again,
    "grey": lambda im: im.convert("L").convert("RGB"),
    "tilt-10": lambda im: im.rotate(10),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_same_face_transformed_is_similar(
    name: str, astronaut: Image.Image, reference: Face
) -> None:
    found = find_faces(_jpeg(TRANSFORMS[name](astronaut)))
    assert found, "no face found"
    # The closest face found (the suit's patch may be detected as a second "face").
    best = min(distance(reference.embedding, Face.from_dict(f).embedding) for f in found)
    assert band(best) == "similar", best


def test_face_printed_into_a_ktp_and_photographed_is_similar(
    astronaut: Image.Image, reference: Face
) -> None:
    card = render_ktp(Card(), face=astronaut.crop((120, 30, 330, 300)))
    for v in variants(3, seed=5):
        ktp_faces = [Face.from_dict(f) for f in find_faces(photograph(card, v)) or []]
        scores = compare_all(ktp_faces, None, [reference])
        assert scores[0].band == "similar", (v, scores[0])


@pytest.mark.timeout(600)  # 100 embeddings: ~5 CPU-seconds, longer on a busy machine
def test_other_people_are_never_similar(reference: Face) -> None:
    faces = data.lfw_subset()[:100]  # the first 100 are faces
    distances = []
    for pixels in faces:
        grey = Image.fromarray((np.asarray(pixels) * 255).astype(np.uint8)).resize((150, 150))
        # Too small for the detector: the whole picture is the face (that is how LFW is cut).
        chip = _embed_whole(grey.convert("RGB"))
        distances.append(distance(reference.embedding, chip))
    assert min(distances) >= 0.5, sorted(distances)[:5]
    assert sum(band(d) == "not_similar" for d in distances) >= 95


def _embed_whole(image: Image.Image) -> tuple[float, ...]:
    import dlib

    from videocall.adapters.face_model import CHIP_PADDING, CHIP_SIZE, _models

    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    models = _models()
    shape = models.landmarks(pixels, dlib.rectangle(0, 0, image.width - 1, image.height - 1))
    chip = dlib.get_face_chip(pixels, shape, CHIP_SIZE, CHIP_PADDING)
    return tuple(models.recogniser.compute_face_descriptor(chip))


def test_no_face_and_not_a_picture() -> None:
    wall = Image.new("RGB", (640, 480), (120, 110, 100))
    assert find_faces(_jpeg(wall)) == []
    assert find_faces(b"not a picture") is None
