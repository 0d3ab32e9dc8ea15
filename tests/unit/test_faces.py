"""Face score bands and which faces are compared (pure; the model is tested in integration)."""

from __future__ import annotations

import math

import pytest

from videocall.faces import (
    SIMILAR_BELOW,
    UNSURE_BELOW,
    Face,
    band,
    card_and_person,
    compare_all,
    distance,
)


def face(size: int, direction: int, length: float = 0.0) -> Face:
    """A face box of ``size`` px with an embedding ``length`` away from the origin along one
    axis (distances between such faces are exact)."""
    embedding = [0.0] * 128
    embedding[direction] = length
    return Face(box=(0, 0, size, size), embedding=tuple(embedding))


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        (0.0, "similar"),
        (SIMILAR_BELOW - 0.001, "similar"),
        (SIMILAR_BELOW, "unsure"),
        (UNSURE_BELOW - 0.001, "unsure"),
        (UNSURE_BELOW, "not_similar"),
        (1.2, "not_similar"),
    ],
)
def test_bands(dist: float, expected: str) -> None:
    assert band(dist) == expected


def test_bands_follow_dlibs_published_threshold() -> None:
    # dlib's model: same person within 0.6 (99.38 % on LFW); "mirip" must be stricter.
    assert UNSURE_BELOW == 0.6 and SIMILAR_BELOW < UNSURE_BELOW


def test_distance() -> None:
    assert distance([0, 0], [3, 4]) == 5
    with pytest.raises(ValueError):
        distance([0], [1, 2])


def test_selfie_person_is_the_larger_face() -> None:
    person, card = card_and_person([face(40, 0), face(300, 1)])
    assert person is not None and person.box[2] == 300
    assert card is not None and card.box[2] == 40
    assert card_and_person([face(300, 0)]) == (face(300, 0), None)


def test_compare_all_pairs_and_bands() -> None:
    ktp = [face(80, 0, 0.0)]
    photo = [face(400, 0, 0.3)]  # 0.3 from the KTP face: similar
    selfie = [face(400, 0, 0.0), face(60, 1, 0.7)]  # person vs card: sqrt(0.49) = 0.7
    snaps = [("s1.jpg", [face(200, 0, 0.55)]), ("s2.jpg", None), ("s3.jpg", [])]
    scores = {(s.pair, s.label): s for s in compare_all(ktp, selfie, photo, snaps)}
    assert scores[("ktp_vs_face", None)].band == "similar"
    assert scores[("ktp_vs_face", None)].distance == 0.3
    person_card = scores[("selfie_person_vs_card", None)]
    assert person_card.band == "not_similar" and math.isclose(person_card.distance or 0, 0.7)
    assert scores[("snapshot_vs_ktp", "s1.jpg")].band == "unsure"
    assert scores[("snapshot_vs_ktp", "s2.jpg")].status == "pending"
    assert scores[("snapshot_vs_ktp", "s3.jpg")].status == "no_face"


def test_missing_photos_are_pending_and_faceless_photos_say_so() -> None:
    scores = compare_all(None, [], [face(100, 0)])
    assert [(s.pair, s.status) for s in scores] == [
        ("ktp_vs_face", "pending"),
        ("selfie_person_vs_card", "no_face"),
    ]
    assert compare_all([], [face(100, 0)], [face(100, 0)])[0].status == "no_face"


def test_face_round_trip_and_validation() -> None:
    f = face(100, 3, 0.25)
    assert Face.from_dict(f.as_dict()) == f
    with pytest.raises(ValueError):
        Face.from_dict({"box": [0, 0, 1, 1], "embedding": [0.0] * 3})
