"""Calling hours in the callee's local time: zones from the number, the safe window when several apply."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows.batches import plan_at
from bot.hours import CallingHours, parse_days, parse_hours

HOURS = CallingHours.parse("09:00-20:00", "Mon-Sat")
LA = "+14155550123"  # America/Los_Angeles
NY = "+12125550123"  # America/New_York
AU = "+61412345678"  # a mobile: any of Australia's zones


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_settings_are_read_and_refused_clearly() -> None:
    assert parse_days("Mon-Sat") == frozenset(range(6))
    assert parse_days("Fri-Mon") == frozenset({4, 5, 6, 0})
    assert parse_days("mon, wed,Fri") == frozenset({0, 2, 4})
    assert parse_hours("9:00-20:00") == (time(9), time(20))
    assert parse_hours("00:00-24:00")[1] == time.max
    for bad in ("9-20", "20:00-09:00", "09:00-25:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    with pytest.raises(ValueError, match="not a day"):
        parse_days("Mon-Funday")
    with pytest.raises(ValueError, match="time zone"):
        CallingHours.parse("09:00-20:00", "Mon-Sat", "Mars/Olympus")
    assert HOURS.describe() == "09:00–20:00, Mon–Sat"


def test_the_callees_own_clock_decides() -> None:
    monday_17_utc = utc(2026, 11, 23, 17, 0)  # 09:00 in Los Angeles, 12:00 in New York
    assert HOURS.window(LA, monday_17_utc).open_now and HOURS.window(NY, monday_17_utc).open_now
    monday_15_utc = utc(2026, 11, 23, 15, 0)  # 07:00 in Los Angeles, 10:00 in New York
    early = HOURS.window(LA, monday_15_utc)
    assert not early.open_now and early.next_at == monday_17_utc and early.zones == ("America/Los_Angeles",)
    assert HOURS.window(NY, monday_15_utc).open_now


def test_sunday_and_late_evenings_wait_for_the_next_allowed_morning() -> None:
    saturday_late = utc(2026, 11, 29, 5, 0)  # Saturday 21:00 in Los Angeles
    window = HOURS.window(LA, saturday_late)
    assert not window.open_now and window.next_at == utc(2026, 11, 30, 17, 0)  # Monday 09:00 there


def test_a_number_in_several_zones_is_called_only_when_it_is_within_hours_in_all() -> None:
    # Australia's numbers run from UTC+6:30 (Cocos) to UTC+11 (Lord Howe, in summer): the shared window is
    # from 09:00 at UTC+6:30 (02:30 UTC) to 20:00 at UTC+11 (09:00 UTC).
    window = HOURS.window(AU, utc(2026, 11, 23, 1, 0))
    assert not window.open_now and len(window.zones) > 1
    assert window.next_at == utc(2026, 11, 23, 2, 30)
    assert HOURS.window(AU, utc(2026, 11, 23, 8, 30)).open_now
    assert not HOURS.window(AU, utc(2026, 11, 23, 9, 30)).open_now


def test_a_number_of_no_known_area_gets_its_countrys_zones_or_calling_timezone() -> None:
    # 555 has no area: the whole +1 plan applies, Pago Pago (UTC-11) to Guam (UTC+10), whose only shared
    # half hour of 09:00-20:00 is 23:00-23:30 UTC.
    unknown = "+15555550123"
    window = HOURS.window(unknown, utc(2026, 11, 23, 17, 0))
    assert not window.open_now and window.next_at == utc(2026, 11, 23, 23, 0) and len(window.zones) > 30
    # A number the data places nowhere (international freephone) is called only with CALLING_TIMEZONE.
    freephone = "+80012345678"
    assert HOURS.window(freephone, utc(2026, 11, 23, 17, 0)).next_at is None
    fallback = CallingHours.parse("09:00-20:00", "Mon-Sat", "America/Chicago")
    assert fallback.window(freephone, utc(2026, 11, 23, 17, 0)).open_now  # 11:00 in Chicago


def test_always_open_hours_skip_the_check() -> None:
    always = CallingHours.parse("00:00-24:00", "Mon-Sun")
    assert always.always and always.window("+15555550123", utc(2026, 11, 29, 5, 0)).open_now


def test_a_list_across_zones_is_split_into_waves_each_when_its_callees_hours_open() -> None:
    # Monday 14:00 UTC: 09:00 in New York (open), 08:00 in Chicago, 06:00 in Los Angeles; Sydney is closed
    # (01:00 Tuesday there) and opens at 09:00 its time, 22:00 UTC.
    chicago, sydney, freephone = "+13125550123", "+61255550123", "+80012345678"
    numbers = [LA, NY, chicago, sydney, NY, freephone, LA]
    monday = utc(2026, 11, 23, 14, 0)
    waves, never = HOURS.waves(numbers, monday)
    assert waves == [
        (monday, [1, 4]),
        (utc(2026, 11, 23, 15, 0), [2]),
        (utc(2026, 11, 23, 17, 0), [0, 6]),
        (utc(2026, 11, 23, 22, 0), [3]),
    ]
    assert never == [5]  # no zone, no CALLING_TIMEZONE: never placed
    assert CallingHours.parse("00:00-24:00", "Mon-Sun").waves(numbers, monday) == (
        [(monday, list(range(len(numbers))))],
        [],
    )


# -- exact times: "now" never makes a float → datetime → float round trip ---------------------------

ZONED_NUMBERS = [
    "+14155550123",  # Los Angeles
    "+12125550123",  # New York
    "+13125550123",  # Chicago
    "+13035550123",  # Denver
    "+18085550123",  # Honolulu
    "+442071838750",  # London
    "+61293744000",  # Sydney
    "+81335814111",  # Tokyo
]


def test_a_clock_time_that_comes_back_later_from_a_datetime_is_not_outside_hours() -> None:
    hours = CallingHours.parse("00:00-23:59", "Mon-Sun")
    # 15:32 UTC with microseconds a float cannot hold: the round trip gives a later float.
    now = next(
        t
        for t in (1_800_000_000 + 55_920 + i / 1_000_003 for i in range(1, 10_000))
        if datetime.fromtimestamp(t, UTC).timestamp() != t
    )
    plan = plan_at(hours, ZONED_NUMBERS[:6], now)
    assert plan.outside == 0 and plan.waves == [(now, list(range(6)))]


@settings(max_examples=400, deadline=None)
@given(
    now=st.floats(min_value=1_767_225_600, max_value=1_830_297_600, allow_nan=False),  # 2026–2027
    chosen=st.lists(st.sampled_from(ZONED_NUMBERS), min_size=1, max_size=8),
    hours=st.sampled_from(["09:00-20:00", "08:00-21:00", "00:00-23:59", "10:30-16:45"]),
    days=st.sampled_from(["Mon-Sat", "Mon-Fri", "Mon-Sun"]),
)
def test_rows_outside_hours_are_exactly_those_whose_callees_are_outside_them(
    now: float, chosen: list[str], hours: str, days: str
) -> None:
    window = CallingHours.parse(hours, days)
    plan = plan_at(window, chosen, now)
    instant = datetime.fromtimestamp(now, UTC)
    closed = [i for i, number in enumerate(chosen) if not window.window(number, instant).open_now]
    assert plan.never == []  # every one of these numbers has a known zone with hours in the week
    assert plan.outside == len(closed)
    for at, rows in plan.waves:
        assert at >= now
        assert (at == now) == all(i not in closed for i in rows)  # "at once" exactly when open now
    assert sorted(i for _, rows in plan.waves for i in rows) == list(range(len(chosen)))  # each row once
