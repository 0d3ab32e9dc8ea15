"""The officer-assist jobs as module-level functions of plain data, so that a process pool can
run them (arguments and results cross a pipe) and their results go to JSON as they are."""

from __future__ import annotations

from datetime import date
from typing import Any

from videocall.adapters.face_model import find_faces, find_faces_in_file
from videocall.adapters.ktp_ocr import read_ktp

# How many faces to look for: the selfie shows the person and the card's photo.
FACES_WANTED = {"ktp": 1, "selfie_with_ktp": 2, "face": 1}


def document_faces(kind: str, data: bytes) -> dict[str, Any]:
    """The faces of any document (the selfie's person and card, the KTP's photo, the face)."""
    return {"faces": find_faces(data, FACES_WANTED.get(kind, 1))}


def document_ocr(data: bytes, today: date) -> dict[str, Any]:
    """The KTP's reading."""
    read = read_ktp(data, today)
    return {
        "ocr": {
            "fields": read.fields.as_dict(),
            "skew_degrees": read.skew_degrees,
            "lines": len(read.lines),
        }
    }


def analyse_document(kind: str, data: bytes, today: date) -> dict[str, Any]:
    """Both at once (the benchmark's unit of work)."""
    out = document_faces(kind, data)
    if kind == "ktp":
        out.update(document_ocr(data, today))
    return out


def analyse_snapshot(path: str) -> dict[str, Any]:
    return {"faces": find_faces_in_file(path, 1)}
