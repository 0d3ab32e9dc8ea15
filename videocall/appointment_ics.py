"""An appointment as an iCalendar file (RFC 5545): one VEVENT, times in UTC, text in Indonesian.

Pure. Text values are escaped (backslash, semicolon, comma, newline), lines end in CRLF and are
folded at 75 octets without splitting a UTF-8 character.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from videocall.appointments import Appointment, AppointmentRules, zone_label

PRODID = "-//videocall//appointments//ID"
SUMMARY = "Panggilan video verifikasi identitas"
MAX_OCTETS = 75


def escape_text(value: str) -> str:
    """TEXT escaping (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into pieces of at most 75 octets, continued with CRLF + space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = MAX_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size = "", 0
            limit = MAX_OCTETS - 1  # continuation lines start with a space
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(
    appointment: Appointment,
    now: datetime,
    rules: AppointmentRules,
    *,
    reference: str = "",
    url: str = "",
) -> str:
    """The .ics text for ``appointment`` (DTSTAMP ``now``)."""
    local = appointment.start.astimezone(ZoneInfo(appointment.zone))
    description = (
        f"Jadwal Anda: {local.strftime('%d-%m-%Y %H:%M')} {zone_label(appointment.zone)}. "
        f"Buka halaman verifikasi dan bergabunglah antara {rules.early_minutes} menit sebelum, "
        f"dan {rules.grace_minutes} menit setelah waktu mulai; setelah itu jadwal dilepas."
    )
    if reference:
        description += f"\nNomor referensi: {reference}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{appointment.id}@videocall",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(appointment.start)}",
        f"DTEND:{_utc(appointment.end)}",
        f"SUMMARY:{escape_text(SUMMARY)}",
        f"DESCRIPTION:{escape_text(description)}",
    ]
    if url:
        lines.append(f"URL:{url}")
    status = "CANCELLED" if appointment.status.value == "cancelled" else "CONFIRMED"
    lines += [f"STATUS:{status}", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
