"""Findings under the tables of docs/benchmarks.md: edited by hand in bench/notes.md."""

from pathlib import Path

NOTES = (Path(__file__).resolve().parent / "notes.md").read_text()
