"""The evidence bundle's PDF summary (fpdf2): record, history with actors, checklist, decision and
review, quality summary with a plot of the time series, snapshots and photos, assist readings.

Runs in a CPU-pool worker: plain data and file paths in, PDF bytes out. The core fonts only know
Latin-1, so other characters are replaced (the JSON beside the PDF keeps them exactly).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF

PLOT_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
    return text.encode("latin-1", "replace").decode("latin-1")


class _Summary:
    def __init__(self) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_page()

    def heading(self, title: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font("Helvetica", "B", 12)
        self.pdf.cell(0, 7, _text(title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font("Helvetica", "", 9)

    def pairs(self, items: Sequence[tuple[str, Any]]) -> None:
        self.pdf.set_font("Helvetica", "", 9)
        for label, value in items:
            self.pdf.set_font("Helvetica", "B", 9)
            self.pdf.cell(45, 5, _text(label))
            self.pdf.set_font("Helvetica", "", 9)
            self.pdf.multi_cell(0, 5, _text(value), new_x="LMARGIN", new_y="NEXT")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            self.pdf.cell(0, 5, "-", new_x="LMARGIN", new_y="NEXT")
            return
        with self.pdf.table(text_align="LEFT", line_height=4) as table:
            self.pdf.set_font("Helvetica", "B", 8)
            table.row([_text(h) for h in header])
            self.pdf.set_font("Helvetica", "", 8)
            for row in rows:
                table.row([_text(v) for v in row])
        self.pdf.set_font("Helvetica", "", 9)

    def plot(self, series: dict[str, list[dict[str, Any]]]) -> None:
        """Each side's first numeric measures over time, each scaled to its own maximum."""
        lines = _plot_lines(series)
        if not lines:
            self.pdf.cell(0, 5, "(no time series)", new_x="LMARGIN", new_y="NEXT")
            return
        pdf = self.pdf
        if pdf.get_y() > 220:
            pdf.add_page()
        x0, y0, w, h = pdf.l_margin, pdf.get_y() + 2, 180.0, 50.0
        pdf.set_draw_color(0, 0, 0)
        pdf.rect(x0, y0, w, h)
        t_max = max(max(t for t, _ in pts) for _, pts in lines) or 1.0
        for i, (label, pts) in enumerate(lines):
            colour = PLOT_COLOURS[i % len(PLOT_COLOURS)]
            pdf.set_draw_color(*colour)
            v_max = max(v for _, v in pts) or 1.0
            xy = [(x0 + w * t / t_max, y0 + h - h * v / v_max) for t, v in pts]
            if len(xy) == 1:
                xy.append((xy[0][0] + 0.5, xy[0][1]))
            pdf.polyline(xy)
            pdf.set_text_color(*colour)
            pdf.text(x0 + 2, y0 + h + 5 + 4 * i, _text(f"{label} (max {v_max:g})"))
        pdf.set_text_color(0, 0, 0)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_y(y0 + h + 6 + 4 * len(lines))
        pdf.cell(0, 5, _text(f"time axis: 0 - {t_max:g} s"), new_x="LMARGIN", new_y="NEXT")

    def images(self, images: Sequence[tuple[str, str]]) -> None:
        for title, path in images:
            if self.pdf.get_y() > 200:
                self.pdf.add_page()
            self.pdf.cell(0, 5, _text(title), new_x="LMARGIN", new_y="NEXT")
            try:
                self.pdf.image(path, w=70)
            except Exception as exc:  # a damaged image must not cost the whole summary
                self.pdf.cell(
                    0, 5, _text(f"(cannot be shown: {exc})"), new_x="LMARGIN", new_y="NEXT"
                )
            self.pdf.ln(2)


def _plot_lines(series: Any) -> list[tuple[str, list[tuple[float, float]]]]:
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    if not isinstance(series, dict):
        return lines
    for side, points in sorted(series.items()):
        if not isinstance(points, list):
            continue
        measures: list[str] = []
        for p in points:
            for name, value in (p.get("values") or {}).items():
                if isinstance(value, int | float) and name not in measures:
                    measures.append(name)
        for name in measures[:2]:
            pts = [
                (float(p.get("t", 0)), float(p["values"][name]))
                for p in points
                if isinstance((p.get("values") or {}).get(name), int | float)
            ]
            if pts:
                lines.append((f"{side}: {name}", pts))
    return lines


def render_summary(summary: dict[str, Any], images: Sequence[tuple[str, str]]) -> bytes:
    """The PDF: ``summary`` as gathered by ``evidence_bundle.gather``; ``images`` (title, path)."""
    doc = _Summary()
    pdf = doc.pdf
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, "Evidence summary - video identification", new_x="LMARGIN", new_y="NEXT")
    record = summary["record"]
    doc.heading("Record")
    doc.pairs([(k, record.get(k)) for k in sorted(record)])
    doc.heading("Call")
    doc.pairs([(k, v) for k, v in sorted(summary["session"].items())])
    doc.heading("Decision")
    decision = summary.get("decision") or {}
    doc.pairs(
        [
            (k, decision.get(k))
            for k in ("result", "reasons", "officer", "decided_at", "notes", "evidence")
        ]
    )
    doc.table(["checklist item", "confirmed"], sorted((decision.get("checklist") or {}).items()))
    doc.heading("Reviews")
    doc.table(
        ["supervisor", "action", "result", "reason", "at"],
        [
            [r.get("supervisor"), r.get("action"), r.get("result"), r.get("reason"), r.get("at")]
            for r in summary.get("reviews", [])
        ],
    )
    doc.heading("History")
    doc.table(
        ["at", "actor", "action", "from", "to", "reason"],
        [
            [
                h.get("at"),
                h.get("actor"),
                h.get("action"),
                h.get("from"),
                h.get("to"),
                h.get("reason"),
            ]
            for h in summary.get("history", [])
        ],
    )
    doc.heading("Call quality")
    doc.pairs([("summary", summary.get("quality_summary"))])
    doc.plot(summary.get("quality_series") or {})
    doc.heading("KTP readings and face scores (assist, not a decision)")
    doc.table(
        ["subject", "status", "result"],
        [[a.get("subject"), a.get("status"), a.get("result")] for a in summary.get("assist", [])],
    )
    doc.heading("Files in this bundle (SHA-256)")
    doc.table(["file", "bytes", "sha256"], [[f[0], f[2], f[1]] for f in summary.get("files", [])])
    if summary.get("absent"):
        doc.pairs([("no longer stored", ", ".join(summary["absent"]))])
    doc.heading("Snapshots and photos")
    doc.images(images)
    return bytes(pdf.output())


def render_to_file(summary: dict[str, Any], images: Sequence[tuple[str, str]], out: str) -> int:
    data = render_summary(summary, images)
    Path(out).write_bytes(data)
    return len(data)
