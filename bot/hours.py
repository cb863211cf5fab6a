"""Calling hours in the callee's local time (CALLING_HOURS, CALLING_DAYS).

A number's time zones come from its country and area code (phonenumbers' time-zone data). When a number
may be in several zones, it is callable only when it is within hours in every one of them (the latest
opening and the earliest closing), so that no one is called outside hours. A number whose area the data
does not know gets its country's zones (for the +1 plan, Pago Pago to Guam: half an hour a day); when the
data knows no zone, or the zones share no window, CALLING_TIMEZONE is used, and without it the bot says it
cannot tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNKNOWN_ZONE = "Etc/Unknown"
LOOKAHEAD_DAYS = 15


def parse_days(text: str) -> frozenset[int]:
    """Read `Mon-Sat`, `Mon,Wed,Fri` or `Mon-Fri,Sun` (0 is Monday); raise ValueError saying why."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            start = DAYS.index(first[:3])
            end = DAYS.index(last[:3]) if last else start
        except ValueError:
            raise ValueError(f"{part!r} is not a day: use Mon, Tue, Wed, Thu, Fri, Sat, Sun") from None
        days.update(DAYS.index(DAYS[(start + i) % 7]) for i in range((end - start) % 7 + 1))
    if not days:
        raise ValueError("name at least one day, e.g. Mon-Sat")
    return frozenset(days)


def parse_hours(text: str) -> tuple[time, time]:
    """Read `09:00-20:00` (`24:00` closes at midnight); raise ValueError saying why."""
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not found:
        raise ValueError(f"{text!r} is not a range of hours like 09:00-20:00")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} is not a range of hours like 09:00-20:00")
    opens = time(h1, m1)
    closes = time.max if h2 == 24 else time(h2, m2)
    if closes <= opens:
        raise ValueError(f"{text!r} closes before it opens")
    return opens, closes


@lru_cache(maxsize=4096)
def zones_of(number: str, fallback: str | None) -> tuple[str, ...]:
    """The time zones a number may be in (empty: the bot cannot tell)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return (fallback,) if fallback else ()
    zones = [z for z in number_zones.time_zones_for_number(parsed) if z != UNKNOWN_ZONE]
    if not zones:
        # The data's own country-level answer (a private helper of phonenumbers: absent, the country is unknown).
        country_level = getattr(number_zones, "_country_level_time_zones_for_number", None)
        zones = [z for z in (country_level(parsed) if country_level else ()) if z != UNKNOWN_ZONE]
    return tuple(zones)


@dataclass(frozen=True)
class Window:
    """When a number may be called: now, or from `next_at` (None: never within the next two weeks)."""

    open_now: bool
    next_at: datetime | None
    zones: tuple[str, ...]


@dataclass(frozen=True)
class CallingHours:
    opens: time
    closes: time
    days: frozenset[int]
    fallback_zone: str | None = None

    @classmethod
    def parse(cls, hours: str, days: str, fallback_zone: str | None = None) -> CallingHours:
        """Read the settings; raise ValueError saying what is wrong."""
        opens, closes = parse_hours(hours)
        if fallback_zone:
            try:
                ZoneInfo(fallback_zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{fallback_zone!r} is not a time zone like America/New_York") from None
        return cls(opens, closes, parse_days(days), fallback_zone)

    @property
    def always(self) -> bool:
        """Whether every hour of every day is allowed (the check is then skipped)."""
        return self.opens == time(0, 0) and self.closes == time.max and len(self.days) == 7

    def describe(self) -> str:
        """`09:00–20:00, Mon–Sat` for people."""
        closes = "24:00" if self.closes == time.max else self.closes.strftime("%H:%M")
        days = sorted(self.days)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            named = f"{DAYS[days[0]].title()}–{DAYS[days[-1]].title()}"
        else:
            named = ", ".join(DAYS[d].title() for d in days)
        return f"{self.opens.strftime('%H:%M')}–{closes}, {named}"

    def _open_in(self, zone: ZoneInfo, at: datetime) -> bool:
        local = at.astimezone(zone)
        return local.weekday() in self.days and self.opens <= local.time().replace(tzinfo=None) <= self.closes

    def _zones(self, number: str) -> tuple[str, ...]:
        zones = zones_of(number, None)
        if zones and _shared_window(self, zones):
            return zones
        return (self.fallback_zone,) if self.fallback_zone else ()

    def _all_open(self, zones: tuple[str, ...], at: datetime) -> bool:
        return all(self._open_in(ZoneInfo(z), at) for z in zones)

    def batch_window(self, numbers: list[str], at: datetime) -> tuple[int, datetime | None]:
        """How many of `numbers` are outside hours at `at`, and the earliest moment from `at` when every one
        of them is inside (None: not within two weeks, or some number's zone cannot be told)."""
        if self.always:
            return 0, at
        groups: dict[tuple[str, ...], int] = {}
        for number in numbers:  # few distinct zone sets, however many rows
            zones = self._zones(number)
            groups[zones] = groups.get(zones, 0) + 1
        outside = sum(count for zones, count in groups.items() if not zones or not self._all_open(zones, at))
        if () in groups:
            return outside, None
        if not outside:
            return 0, at
        every = tuple(sorted({zone for zones in groups for zone in zones}))
        return outside, self._next_open(every, at)

    def waves(self, numbers: list[str], at: datetime) -> tuple[list[tuple[datetime, list[int]]], list[int]]:
        """Split `numbers` into waves, each sent when its callees' hours open (from `at`), earliest first.

        Returns the waves (when, and the indices of their numbers) and the indices of numbers that have no
        calling hours within two weeks (their zone cannot be told, or never opens)."""
        if self.always:
            return ([(at, list(range(len(numbers))))] if numbers else []), []
        by_zones: dict[tuple[str, ...], list[int]] = {}
        for index, number in enumerate(numbers):  # few distinct zone sets, however many rows
            by_zones.setdefault(self._zones(number), []).append(index)
        by_time: dict[datetime, list[int]] = {}
        never: list[int] = []
        for zones, indices in by_zones.items():
            when = None if not zones else at if self._all_open(zones, at) else self._next_open(zones, at)
            if when is None:
                never.extend(indices)
            else:
                by_time.setdefault(when, []).extend(indices)
        return [(when, sorted(by_time[when])) for when in sorted(by_time)], sorted(never)

    def _next_open(self, zones: tuple[str, ...], at: datetime) -> datetime | None:
        """The next moment after `at` when all `zones` are inside hours: when the last of them opens."""
        candidates = sorted(
            datetime.combine(at.astimezone(ZoneInfo(z)).date() + timedelta(days=d), self.opens, ZoneInfo(z))
            for z in zones
            for d in range(LOOKAHEAD_DAYS)
        )
        for candidate in candidates:
            if candidate > at and self._all_open(zones, candidate):
                return candidate.astimezone(UTC)
        return None

    def window(self, number: str, at: datetime) -> Window:
        """When `number` may be called, seen from `at` (an aware datetime)."""
        if self.always:
            return Window(True, at, ())
        zones = self._zones(number)
        if not zones:
            return Window(False, None, ())
        if self._all_open(zones, at):
            return Window(True, at, zones)
        return Window(False, self._next_open(zones, at), zones)


@lru_cache(maxsize=1024)
def _shared_window(hours: CallingHours, zones: tuple[str, ...]) -> bool:
    """Whether the zones share some open time within a week (the whole +1 plan does not)."""
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; any week will do
    return any(hours._all_open(zones, start + timedelta(minutes=30 * i)) for i in range(7 * 48))
