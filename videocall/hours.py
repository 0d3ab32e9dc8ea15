"""Service hours: when participants may join the call queue.

Pure: ``service_status(now, hours, holidays)`` says whether the service is open and, when it is
not, when it next opens. Configured as text, e.g. ``"mon-fri 08:00-16:00"``,
``"mon-thu 08:00-16:00; fri 08:00-11:30 13:00-16:00"`` or ``"always"``, in one time zone
(Asia/Jakarta by default). Public holidays are closed all day.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from videocall.errors import Unavailable

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# How far ahead to look for the next opening; a year covers any holiday calendar.
SEARCH_DAYS = 400
_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Window:
    """Open on ``weekday`` (0 = Monday) from ``opens`` to ``closes``, minutes after midnight."""

    weekday: int
    opens: int
    closes: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0-6, not {self.weekday}")
        if not 0 <= self.opens < self.closes <= MINUTES_PER_DAY:
            raise ValueError("a window must open before it closes, within one day")


def _weekdays(n: int) -> tuple[Window, ...]:
    return tuple(Window(d, 8 * 60, 16 * 60) for d in range(n))


@dataclass(frozen=True, slots=True)
class ServiceHours:
    windows: tuple[Window, ...] = _weekdays(5)  # Monday-Friday 08:00-16:00
    tz: str = "Asia/Jakarta"
    always: bool = False  # open round the clock, holidays included (demos, tests)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @classmethod
    def parse(cls, spec: str, tz: str = "Asia/Jakarta") -> ServiceHours:
        """``"mon-fri 08:00-16:00; sat 08:00-12:00"`` or ``"always"``; ValueError if malformed."""
        text = spec.strip().lower()
        ZoneInfo(tz)  # fail at start-up on an unknown zone, not at the first join
        if text == "always":
            return cls(windows=(), tz=tz, always=True)
        windows: list[Window] = []
        for clause in filter(None, (c.strip() for c in text.split(";"))):
            days, *ranges = clause.split()
            if not ranges:
                raise ValueError(f"no opening times in {clause!r}")
            for day in _parse_days(days):
                windows.extend(Window(day, *_parse_range(r)) for r in ranges)
        return cls(windows=tuple(sorted(windows, key=lambda w: (w.weekday, w.opens))), tz=tz)


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"unknown day in {text!r}; use mon, tue, ... sun")
        start = DAY_NAMES.index(first)
        end = DAY_NAMES.index(last) if last else start
        if end < start:
            raise ValueError(f"day range {part!r} runs backwards")
        days.extend(range(start, end + 1))
    return days


def _parse_range(text: str) -> tuple[int, int]:
    match = _RANGE_RE.match(text)
    if not match:
        raise ValueError(f"opening time {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"opening time {text!r} is not a time of day")
    return h1 * 60 + m1, h2 * 60 + m2


@dataclass(frozen=True, slots=True)
class HoursStatus:
    open: bool
    closes_at: datetime | None  # while open: the end of the current window
    next_opening: datetime | None  # while closed: the next start; None if it never opens


def _local_windows(
    day: date, hours: ServiceHours, holidays: Container[date]
) -> Iterator[tuple[datetime, datetime]]:
    """The day's windows as aware datetimes (in UTC, so comparisons survive DST changes)."""
    if day in holidays:
        return
    midnight = datetime.combine(day, time(0), tzinfo=hours.zone)
    for w in hours.windows:
        if w.weekday == day.weekday():
            start = (midnight + timedelta(minutes=w.opens)).astimezone(UTC)
            end = (midnight + timedelta(minutes=w.closes)).astimezone(UTC)
            yield start, end


def service_status(
    now: datetime, hours: ServiceHours, holidays: Container[date] = frozenset()
) -> HoursStatus:
    """Open or not at ``now`` (aware), and the next opening when closed."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if hours.always:
        return HoursStatus(open=True, closes_at=None, next_opening=None)
    today = now.astimezone(hours.zone).date()
    for start, end in _local_windows(today, hours, holidays):
        if start <= now < end:
            return HoursStatus(open=True, closes_at=end.astimezone(hours.zone), next_opening=None)
    return HoursStatus(open=False, closes_at=None, next_opening=_next_opening(now, hours, holidays))


def _next_opening(now: datetime, hours: ServiceHours, holidays: Container[date]) -> datetime | None:
    today = now.astimezone(hours.zone).date()
    for offset in range(SEARCH_DAYS):
        starts = [s for s, _ in _local_windows(today + timedelta(days=offset), hours, holidays)]
        upcoming = sorted(s for s in starts if s > now)
        if upcoming:
            return upcoming[0].astimezone(hours.zone)
    return None


class OutsideServiceHours(Unavailable):
    """Joining the queue while closed; carries the next opening for the client to show."""

    code = "outside_service_hours"

    def __init__(self, message: str, *, next_opening: datetime | None) -> None:
        super().__init__(message)
        self.next_opening = next_opening

    def to_dict(self) -> dict[str, str]:
        body = super().to_dict()
        if self.next_opening is not None:
            body["next_opening"] = self.next_opening.isoformat()
        return body


def ensure_open(
    now: datetime, hours: ServiceHours, holidays: Container[date] = frozenset()
) -> HoursStatus:
    """The status when open; OutsideServiceHours (503) with the next opening when closed."""
    status = service_status(now, hours, holidays)
    if status.open:
        return status
    message = f"Video calls are only available {describe(hours)}, except public holidays."
    if status.next_opening is not None:
        message += f" Next opening: {format_local(status.next_opening)}."
    raise OutsideServiceHours(message, next_opening=status.next_opening)


def format_local(moment: datetime) -> str:
    """``Mon 06 Jan 2025 08:00 WIB``."""
    return moment.strftime("%a %d %b %Y %H:%M ") + (moment.tzname() or "")


def describe(hours: ServiceHours) -> str:
    """``Mon-Fri 08:00-16:00 WIB``: consecutive days with the same times are grouped."""
    if hours.always:
        return "at any time"
    by_day = [tuple((w.opens, w.closes) for w in hours.windows if w.weekday == d) for d in range(7)]
    parts: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and by_day[last + 1] == by_day[day]:
            last += 1
        if by_day[day]:
            names = DAY_NAMES[day].title()
            if last > day:
                names += "-" + DAY_NAMES[last].title()
            parts.append(f"{names} {' '.join(_hhmm(o) + '-' + _hhmm(c) for o, c in by_day[day])}")
        day = last + 1
    zone = datetime(2000, 1, 1, tzinfo=hours.zone).tzname() or hours.tz
    return (", ".join(parts) or "never") + f" {zone}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
