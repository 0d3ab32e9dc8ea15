"""Service hours: open or not, and the next opening, around weekends, holidays and midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videocall.hours import (
    OutsideServiceHours,
    ServiceHours,
    Window,
    describe,
    ensure_open,
    service_status,
)

WIB = ZoneInfo("Asia/Jakarta")
DEFAULT = ServiceHours()


def wib(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in January 2025, Jakarta time (6 January is a Monday)."""
    return datetime(2025, 1, day, hour, minute, second, tzinfo=WIB)


@pytest.mark.parametrize(
    ("now", "holidays", "next_opening"),
    [
        (wib(6, 7, 59, 59), (), wib(6, 8)),  # Monday, just before opening
        (wib(6, 16), (), wib(7, 8)),  # closing time is closed already
        (wib(6, 23, 59), (), wib(7, 8)),
        (wib(10, 16), (), wib(13, 8)),  # Friday afternoon -> Monday
        (wib(11, 10), (), wib(13, 8)),  # Saturday
        (wib(12, 23, 59), (), wib(13, 8)),  # Sunday night
        (wib(13, 9), (date(2025, 1, 13),), wib(14, 8)),  # holiday Monday -> Tuesday
        (wib(10, 17), (date(2025, 1, 13), date(2025, 1, 14)), wib(15, 8)),
        (datetime(2025, 1, 6, 0, 30, tzinfo=UTC), (), wib(6, 8)),  # 07:30 WIB, given in UTC
        (datetime(2025, 1, 10, 9, 0, tzinfo=UTC), (), wib(13, 8)),  # Fri 16:00 WIB in UTC
    ],
)
def test_closed_with_next_opening(
    now: datetime, holidays: tuple[date, ...], next_opening: datetime
) -> None:
    status = service_status(now, DEFAULT, frozenset(holidays))
    assert not status.open
    assert status.next_opening == next_opening
    assert status.next_opening is not None and status.next_opening.tzinfo == WIB


@pytest.mark.parametrize(
    ("now", "closes_at"),
    [
        (wib(6, 8), wib(6, 16)),  # opening time is open
        (wib(6, 15, 59, 59), wib(6, 16)),
        (wib(10, 12), wib(10, 16)),  # Friday
        (datetime(2025, 1, 6, 1, 0, tzinfo=UTC), wib(6, 16)),  # 08:00 WIB, given in UTC
    ],
)
def test_open_until_closing(now: datetime, closes_at: datetime) -> None:
    status = service_status(now, DEFAULT)
    assert status.open
    assert status.closes_at == closes_at
    assert status.next_opening is None


def test_split_friday_and_saturday_morning() -> None:
    hours = ServiceHours.parse("mon-thu 08:00-16:00; fri 08:00-11:30 13:00-16:00; sat 08:00-12:00")
    assert service_status(wib(10, 12), hours).next_opening == wib(10, 13)  # Friday prayers
    assert service_status(wib(10, 13), hours).open
    assert service_status(wib(10, 16), hours).next_opening == wib(11, 8)
    assert service_status(wib(11, 12), hours).next_opening == wib(13, 8)
    assert describe(hours) == (
        "Mon-Thu 08:00-16:00, Fri 08:00-11:30 13:00-16:00, Sat 08:00-12:00 WIB"
    )


def test_always_is_open_on_holidays_and_at_night() -> None:
    hours = ServiceHours.parse("always")
    assert service_status(wib(11, 3), hours, frozenset({date(2025, 1, 11)})).open
    assert describe(hours) == "at any time"


def test_never_open_has_no_next_opening() -> None:
    status = service_status(wib(6, 9), ServiceHours(windows=()))
    assert not status.open and status.next_opening is None


def test_a_year_of_holidays_has_no_next_opening() -> None:
    holidays = frozenset(date(2025, 1, 1) + timedelta(days=n) for n in range(500))
    assert service_status(wib(6, 9), DEFAULT, holidays).next_opening is None


@pytest.mark.parametrize(
    ("spec", "windows"),
    [
        ("mon-fri 08:00-16:00", DEFAULT.windows),
        ("  MON-FRI 08:00-16:00  ", DEFAULT.windows),
        ("sun 00:00-24:00", (Window(6, 0, 1440),)),
        ("mon,wed 9:30-10:00", (Window(0, 570, 600), Window(2, 570, 600))),
        ("", ()),
    ],
)
def test_parse(spec: str, windows: tuple[Window, ...]) -> None:
    assert ServiceHours.parse(spec).windows == windows


@pytest.mark.parametrize(
    "spec",
    [
        "mon-fri",  # no times
        "monday 08:00-16:00",
        "fri-mon 08:00-16:00",  # backwards
        "mon 16:00-08:00",  # closes before it opens
        "mon 08:00-08:00",
        "mon 8-16",
        "mon 08:60-09:00",
        "mon 08:00-24:30",
    ],
)
def test_parse_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        ServiceHours.parse(spec)


def test_parse_rejects_unknown_zone() -> None:
    with pytest.raises(Exception, match="Mars"):
        ServiceHours.parse("mon 08:00-16:00", tz="Mars/Olympus_Mons")


def test_ensure_open_refuses_with_next_opening() -> None:
    with pytest.raises(OutsideServiceHours) as caught:
        ensure_open(wib(11, 10), DEFAULT, frozenset({date(2025, 1, 13)}))
    error = caught.value
    assert error.status == 503
    assert error.next_opening == wib(14, 8)
    assert error.to_dict() == {
        "code": "outside_service_hours",
        "message": "Video calls are only available Mon-Fri 08:00-16:00 WIB, except public "
        "holidays. Next opening: Tue 14 Jan 2025 08:00 WIB.",
        "next_opening": "2025-01-14T08:00:00+07:00",
    }


def test_ensure_open_passes_when_open() -> None:
    assert ensure_open(wib(6, 9), DEFAULT).open


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        service_status(datetime(2025, 1, 6, 9), DEFAULT)


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
holiday_sets = st.frozensets(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 1, 31)), max_size=40
)


@given(now=moments, holidays=holiday_sets, probe=st.floats(0, 1))
def test_next_opening_is_the_first_open_moment(
    now: datetime, holidays: frozenset[date], probe: float
) -> None:
    status = service_status(now, DEFAULT, holidays)
    if status.open:
        assert status.closes_at is not None and status.closes_at > now
        return
    assert status.next_opening is not None and status.next_opening > now
    assert service_status(status.next_opening, DEFAULT, holidays).open
    # Anywhere between now and the next opening, still closed.
    between = now + (status.next_opening - now) * probe
    if between < status.next_opening:
        assert not service_status(between, DEFAULT, holidays).open
