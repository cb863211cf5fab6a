"""Bland's plan caps (docs/bland.md, "Prices and plans"): calls a day, calls an hour and calls at once. Over
a cap Bland rejects calls, so a batch that would pass one is spread instead: its rows ring in groups an hour
(and a minute) apart, each group within the hour's and the day's room, each row inside its callee's calling
hours.

What the documents leave open, and what the bot assumes (the safe reading each time):
- an hour is any 60 minutes, not a clock hour: groups are an hour and a minute apart, and the hour before a
  batch counts against its first group;
- a day is a UTC day (the call list's date-only filters are read as UTC);
- calls count when they ring (a v2 call with a start time counts then).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.pricing import Plan

# Calls a day, an hour and at once, per plan; enterprise has none.
PLAN_CAPS: dict[Plan, tuple[int, int, int]] = {
    Plan.START: (100, 100, 10),
    Plan.BUILD: (2000, 1000, 50),
    Plan.SCALE: (5000, 1000, 100),
}
HOUR = 3600.0
# Groups are this far apart, so that no 60 minutes hold two of them.
SLOT = HOUR + 60.0
# How far a spread looks ahead before it calls the rest unplaceable.
MAX_SLOTS = 24 * 45


@dataclass(frozen=True)
class Caps:
    """The caps the bot keeps to: the plan's, or DAILY/HOURLY/CONCURRENT_CALL_LIMIT (None: no cap)."""

    plan: Plan
    daily: int | None
    hourly: int | None
    concurrent: int | None

    @classmethod
    def of(
        cls,
        plan: Plan | str,
        *,
        daily: int | None = None,
        hourly: int | None = None,
        concurrent: int | None = None,
    ) -> Caps:
        plan = Plan(plan)
        day, hour, once = PLAN_CAPS.get(plan, (None, None, None))
        return cls(plan, daily or day, hourly or hour, concurrent or once)

    @property
    def any(self) -> bool:
        return self.daily is not None or self.hourly is not None

    def describe(self) -> str:
        """`2,000 a day, 1,000 an hour, 50 at once (Build plan)`."""
        parts = [
            f"{value:,} {unit}"
            for value, unit in ((self.daily, "a day"), (self.hourly, "an hour"), (self.concurrent, "at once"))
            if value is not None
        ]
        return f"{', '.join(parts) or 'no caps'} ({self.plan.value.title()} plan)"


@dataclass(frozen=True)
class Usage:
    """Calls counted from Bland's call list: today's (UTC), the last hour's, and those not finished."""

    today: int
    hour: int
    active: int


@dataclass(frozen=True)
class Spread:
    """When each row rings so that no cap is passed, and which cap made the bot spread them (None: none)."""

    times: list[float | None]  # None: no time within MAX_SLOTS (its callee's hours never come)
    by: str | None


@dataclass(frozen=True)
class CapCheck:
    """What an approval card says about the caps: the caps, what was counted (None: Bland could not be
    asked) and the cap the batch was spread for (None: it fits as it is)."""

    caps: Caps
    usage: Usage | None
    capped_by: str | None = None


def utc_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def next_utc_day(epoch: float) -> float:
    day = datetime.fromtimestamp(epoch, UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def fits(count: int, caps: Caps, usage: Usage) -> bool:
    """Whether `count` more calls fit now, whenever in the next hours they ring (no spreading needed)."""
    room_day = math.inf if caps.daily is None else caps.daily - usage.today
    room_hour = math.inf if caps.hourly is None else caps.hourly - usage.hour
    return count <= min(room_day, room_hour)


def spread(
    earliest: list[float],
    caps: Caps,
    usage: Usage,
    now: float,
    opens: Callable[[int, float], float | None],
) -> Spread:
    """Give each row (its earliest time in `earliest`) a time that keeps within the hourly and daily caps.

    `opens(row, t)` is when the row's callee may be called from `t` (t itself when inside calling hours;
    None: never). Rows keep their order of earliest time; a row that does not fit waits for the next group
    (an hour and a minute on) or the next UTC day, whichever frees room, and then for its calling hours."""
    if not caps.any or fits(len(earliest), caps, usage):
        return Spread(list(earliest), None)
    per_slot: dict[int, int] = {}
    per_day: dict[str, int] = {utc_day(now): usage.today}
    times: list[float | None] = [None] * len(earliest)
    hourly_hit = daily_hit = False
    for row in sorted(range(len(earliest)), key=lambda i: earliest[i]):
        at: float | None = now + math.ceil(max(0.0, earliest[row] - now) / SLOT) * SLOT
        for _ in range(MAX_SLOTS):
            if at is None:
                break
            slot = round((at - now) / SLOT)
            used_hour = per_slot.get(slot, usage.hour if slot == 0 else 0)
            day = utc_day(at)
            if caps.hourly is not None and used_hour >= caps.hourly:
                hourly_hit = True
                at = now + (slot + 1) * SLOT
            elif caps.daily is not None and per_day.get(day, 0) >= caps.daily:
                daily_hit = True
                at = now + math.ceil((next_utc_day(at) - now) / SLOT) * SLOT
            else:
                inside = opens(row, at)
                if inside is None or inside == at:
                    if inside is not None:
                        times[row] = at
                        per_slot[slot] = used_hour + 1
                        per_day[day] = per_day.get(day, 0) + 1
                    break
                at = now + math.ceil((inside - now) / SLOT) * SLOT
    by = " and ".join(
        name for name, hit in (("the daily cap", daily_hit), ("the hourly cap", hourly_hit)) if hit
    )
    return Spread(times, by or None)
