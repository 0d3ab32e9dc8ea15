"""Working days: the 3-working-day review promise, skipping weekends and public holidays."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class WorkCalendar:
    def __init__(self, holidays: Iterable[date] = (), tz: str = "Asia/Jakarta") -> None:
        self.holidays = frozenset(holidays)
        self.tz = ZoneInfo(tz)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def due_at(self, now: datetime, working_days: int = 3) -> datetime:
        """End of the local working day ``working_days`` working days after ``now``."""
        local = now.astimezone(self.tz)
        due_day = self.add_working_days(local.date(), working_days)
        return datetime.combine(due_day, time(23, 59, 59), tzinfo=self.tz)

    def is_overdue(self, due: datetime, now: datetime) -> bool:
        return now > due
