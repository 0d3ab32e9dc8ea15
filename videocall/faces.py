"""Face comparison scores for the officer: a distance between two face embeddings and a band,
"mirip" (similar), "ragu" (unsure) or "tidak mirip" (not similar). An aid, never a decision.

Pure: the embeddings come from ``adapters/face_model.py`` (dlib's ResNet face model, 128 numbers
per face, trained so that two photos of one person lie within 0.6 of each other).

Calibration (see docs/assist.md):
- dlib's published figure for this model: at a Euclidean distance threshold of 0.6 it tells
  same from different people in 99.38 % of the LFW benchmark pairs. Above 0.6 is "tidak mirip".
- Below 0.5 is "mirip": on the public-domain portrait scikit-image ships, cropping, scaling,
  JPEG at quality 30, darker/brighter light, grey scale, a 10° tilt and pasting the face into a
  rendered KTP stay within 0.35; 0.5-0.6 is the "ragu" band where the LFW error pairs lie and an
  old KTP photo of the same person (age gap) often falls.
- What no score can tell: identical twins, a large age gap, a photo of a photo or a screen, a
  printed mask. The officer looks; the score only says where to look harder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Band = Literal["similar", "unsure", "not_similar"]
Pair = Literal["ktp_vs_face", "selfie_person_vs_card", "snapshot_vs_ktp"]
Status = Literal["scored", "no_face", "pending"]

SIMILAR_BELOW = 0.50
UNSURE_BELOW = 0.60
EMBEDDING_SIZE = 128


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: its box (left, top, right, bottom) in pixels and its embedding."""

    box: tuple[int, int, int, int]
    embedding: tuple[float, ...]

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(0, right - left) * max(0, bottom - top)

    def as_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "embedding": [round(x, 6) for x in self.embedding]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Face:
        box = tuple(int(v) for v in raw["box"])
        embedding = tuple(float(v) for v in raw["embedding"])
        if len(box) != 4 or len(embedding) != EMBEDDING_SIZE:
            raise ValueError("a face needs a 4-number box and a 128-number embedding")
        return cls(box=(box[0], box[1], box[2], box[3]), embedding=embedding)


@dataclass(frozen=True, slots=True)
class FaceScore:
    pair: Pair
    status: Status
    distance: float | None = None
    band: Band | None = None
    label: str | None = None  # which snapshot, for snapshot_vs_ktp

    def as_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "status": self.status,
            "distance": self.distance,
            "band": self.band,
            "label": self.label,
        }


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        raise ValueError("embeddings of different sizes")
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def band(dist: float) -> Band:
    if dist < SIMILAR_BELOW:
        return "similar"
    return "unsure" if dist < UNSURE_BELOW else "not_similar"


def largest(faces: Sequence[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area, default=None)


def card_and_person(faces: Sequence[Face]) -> tuple[Face | None, Face | None]:
    """In a selfie with the KTP: the largest face is the person, the next one the card's photo."""
    ordered = sorted(faces, key=lambda f: f.area, reverse=True)
    person = ordered[0] if ordered else None
    card = ordered[1] if len(ordered) > 1 else None
    return person, card


def score(pair: Pair, a: Face | None, b: Face | None, label: str | None = None) -> FaceScore:
    if a is None or b is None:
        return FaceScore(pair=pair, status="no_face", label=label)
    dist = round(distance(a.embedding, b.embedding), 3)
    return FaceScore(pair=pair, status="scored", distance=dist, band=band(dist), label=label)


def compare_all(
    ktp: Sequence[Face] | None,
    selfie: Sequence[Face] | None,
    face: Sequence[Face] | None,
    snapshots: Sequence[tuple[str, Sequence[Face] | None]] = (),
) -> list[FaceScore]:
    """The officer's three comparisons; ``None`` for a photo not analysed yet ("pending")."""

    def pending(pair: Pair, label: str | None = None) -> FaceScore:
        return FaceScore(pair=pair, status="pending", label=label)

    out: list[FaceScore] = []
    ktp_face = largest(ktp) if ktp is not None else None
    if ktp is None or face is None:
        out.append(pending("ktp_vs_face"))
    else:
        out.append(score("ktp_vs_face", ktp_face, largest(face)))
    if selfie is None:
        out.append(pending("selfie_person_vs_card"))
    else:
        person, card = card_and_person(selfie)
        out.append(score("selfie_person_vs_card", person, card))
    for label, snap in snapshots:
        if ktp is None or snap is None:
            out.append(pending("snapshot_vs_ktp", label))
        else:
            out.append(score("snapshot_vs_ktp", largest(snap), ktp_face, label))
    return out
