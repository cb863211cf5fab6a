"""The plan's caps and how a batch is spread within them (bot/caps.py), without Bland or Slack."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime

from bot.caps import HOUR, SLOT, Caps, Usage, fits, spread, utc_day

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()  # a Monday, noon UTC
NONE = Usage(today=0, hour=0, active=0)


def always(_row: int, t: float) -> float:
    return t


def test_each_plan_has_its_documented_caps_and_the_settings_override_them() -> None:
    assert (Caps.of("start").daily, Caps.of("start").hourly, Caps.of("start").concurrent) == (100, 100, 10)
    assert (Caps.of("build").daily, Caps.of("build").hourly, Caps.of("build").concurrent) == (2000, 1000, 50)
    assert (Caps.of("scale").daily, Caps.of("scale").hourly, Caps.of("scale").concurrent) == (5000, 1000, 100)
    enterprise = Caps.of("enterprise")
    assert not enterprise.any and enterprise.concurrent is None
    assert Caps.of("build", hourly=300).hourly == 300 and Caps.of("build", hourly=300).daily == 2000
    assert Caps.of("build").describe() == "2,000 a day, 1,000 an hour, 50 at once (Build plan)"


def test_a_batch_that_fits_keeps_its_times() -> None:
    caps = Caps.of("build")
    assert fits(1000, caps, NONE) and not fits(1001, caps, NONE)
    assert not fits(10, caps, Usage(today=1995, hour=0, active=0))
    result = spread([NOON] * 3, caps, NONE, NOON, always)
    assert result.times == [NOON] * 3 and result.by is None


def test_2500_rows_on_build_go_out_over_two_days_within_both_caps() -> None:
    caps = Caps.of("build")
    result = spread([NOON] * 2500, caps, NONE, NOON, always)
    assert None not in result.times
    times = [t for t in result.times if t is not None]
    per_day = Counter(utc_day(t) for t in times)
    assert per_day == {"2026-12-07": 2000, "2026-12-08": 500}
    per_group = Counter(times)
    assert max(per_group.values()) == 1000 and len(per_group) == 3
    ordered = sorted(per_group)
    assert all(b - a >= HOUR for a, b in itertools.pairwise(ordered))
    assert result.by == "the daily cap and the hourly cap"


def test_calls_already_placed_count_against_the_first_hour_and_the_day() -> None:
    caps = Caps.of("start")  # 100 a day, 100 an hour
    result = spread([NOON] * 30, caps, Usage(today=80, hour=75, active=0), NOON, always)
    times = Counter(result.times)
    assert times[NOON] == 20  # the day's room (100 - 80) is less than the hour's (100 - 75)
    tomorrow = datetime(2026, 12, 8, tzinfo=UTC).timestamp()
    assert all(t is not None and t >= tomorrow for t in result.times if t != NOON)
    assert result.by == "the daily cap"


def test_a_delayed_row_waits_for_its_callees_hours_too() -> None:
    caps = Caps.of("start", daily=1000, hourly=2)
    opens_at = NOON + 2 * SLOT + 5  # the callee's hours open just after the third group

    def hours(row: int, t: float) -> float | None:
        return t if row < 3 or t >= opens_at else opens_at

    result = spread([NOON] * 4, caps, NONE, NOON, hours)
    assert result.times[:2] == [NOON, NOON] and result.times[2] == NOON + SLOT
    assert result.times[3] is not None and result.times[3] >= opens_at
    assert (result.times[3] - NOON) % SLOT == 0  # still on a group's time, so no hour holds two groups


def test_a_row_whose_hours_never_come_has_no_time() -> None:
    result = spread(
        [NOON] * 3, Caps.of("start", hourly=1), NONE, NOON, lambda row, t: None if row == 2 else t
    )
    assert result.times[2] is None and result.times[0] is not None and result.times[1] is not None
