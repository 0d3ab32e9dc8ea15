"""Findings that go under the tables of docs/benchmarks.md (edited by hand after a run)."""

NOTES = """## Findings

(see the report of issue 7; filled in after the final run)
"""
