"""When a batch's rows may ring: calling hours, waves, the start time, and numbers on the do-not-call list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.blocks.approvals import wave_times
from bot.blocks.format import mask_phone
from bot.caps import CapCheck, Usage, fits, spread
from bot.deps import Deps
from bot.domain import BatchApi
from bot.errors import FormErrors
from bot.flows.batch_form import BatchForm
from bot.flows.usage import read_usage
from bot.hours import CallingHours
from bot.ids import BlockId
from bot.store.batch_requests import BatchRequest


async def leave_out_listed(deps: Deps, form: BatchForm, *, where: str) -> BatchForm:
    """Take the rows whose numbers are on the do-not-call list out of a form, and name them (masked).

    Raise FormErrors on `where` when no row is left."""
    recipients = form.recipients
    numbers = [row[recipients.phone_column] for row in recipients.rows]
    listed = await deps.store.dnc.find(numbers)
    if not listed:
        return form
    kept = [
        (row, line)
        for row, line in zip(recipients.rows, recipients.lines, strict=True)
        if row[recipients.phone_column] not in listed
    ]
    if not kept:
        raise FormErrors(
            {where: f"Every number of the list ({len(numbers)}) is on the do-not-call list: nothing to send."}
        )
    redact = deps.settings.redact_phone_numbers
    return replace(
        form,
        recipients=replace(recipients, rows=[row for row, _ in kept], lines=[line for _, line in kept]),
        excluded=tuple(mask_phone(number, redact=redact) for number in numbers if number in listed),
    )


async def calling_hours_of(
    deps: Deps, numbers: list[str], *, start: float | None = None
) -> tuple[int, float | None]:
    """How many numbers are outside calling hours at `start` (default: now), and when from then all are
    inside together (None: not within two weeks). Worked out off the event loop: each number's zone is
    looked up."""
    begin = max(deps.clock.now(), start or 0.0)
    window = deps.settings.calling_window
    if window.always:  # nothing to look up
        return 0, begin
    instant = datetime.fromtimestamp(begin, UTC)
    outside, at = await asyncio.to_thread(window.batch_window, numbers, instant)
    return outside, None if at is None else exact_epoch(at, instant, begin)


def exact_epoch(when: datetime, start: datetime, start_epoch: float) -> float:
    """`when` in epoch seconds: exactly `start_epoch` when it is the start itself.

    A float turned into a datetime and back is not always the same float (about a third of clock times
    come back a little later), so "now" must never make that round trip: a later "now" reads as a time
    to come, and a batch whose callees are all inside hours would be counted outside them. Other times
    are hour boundaries, exact in either form."""
    return start_epoch if when <= start else when.timestamp()


@dataclass(frozen=True)
class Plan:
    """When a list's rows go out: waves of (epoch seconds, row indices), earliest first, from `start`;
    and the rows with no calling hours at all. With the plan's caps (bot/caps.py) the waves are also
    spread so that none is passed: `capped_by` names the cap, and `usage` is what was counted (None: Bland
    could not be asked, so the caps could not be checked)."""

    start: float
    waves: list[tuple[float, list[int]]]
    never: list[int]
    capped_by: str | None = None
    usage: Usage | None = None
    hours_outside: int | None = None  # rows outside calling hours at the start, before any spreading

    @property
    def outside(self) -> int:
        """How many rows are outside calling hours at the start."""
        if self.hours_outside is not None:
            return self.hours_outside
        return sum(len(rows) for at, rows in self.waves if at > self.start) + len(self.never)

    @property
    def summary(self) -> list[tuple[float, int]]:
        """When, and how many rows: what the approval card shows."""
        return [(at, len(rows)) for at, rows in self.waves]


async def plan_of(deps: Deps, numbers: list[str], *, start: float | None = None) -> Plan:
    """Split numbers into waves, each when its callees' calling hours open, from `start` (or now, whichever
    is later), spread within the plan's caps. Worked out off the event loop: each number's zone is looked
    up."""
    at = max(deps.clock.now(), start or 0.0)
    window = deps.settings.calling_window
    if window.always:
        plan = plan_at(window, numbers, at)
    else:
        plan = await asyncio.to_thread(plan_at, window, numbers, at)
    return await within_caps(deps, plan, numbers)


async def within_caps(deps: Deps, plan: Plan, numbers: list[str]) -> Plan:
    """The plan spread so that no row passes the plan's daily or hourly cap, as counted in Bland's call
    list now; unchanged (with what was counted) when it fits."""
    caps = deps.settings.caps
    if not caps.any or not plan.waves:
        return plan
    usage = await read_usage(deps, caps)
    if usage is None or fits(sum(len(rows) for _, rows in plan.waves), caps, usage):
        return replace(plan, usage=usage, hours_outside=plan.outside)
    placed = [row for _, rows in plan.waves for row in rows]
    earliest = [at for at, rows in plan.waves for _ in rows]
    window = deps.settings.calling_window

    def opens(index: int, t: float) -> float | None:
        if window.always:
            return t
        found = window.window(numbers[placed[index]], datetime.fromtimestamp(t, UTC))
        if found.open_now:
            return t
        return found.next_at.timestamp() if found.next_at else None

    result = await asyncio.to_thread(spread, earliest, caps, usage, deps.clock.now(), opens)
    by_time: dict[float, list[int]] = {}
    never = list(plan.never)
    for index, when in enumerate(result.times):
        if when is None:
            never.append(placed[index])
        else:
            by_time.setdefault(when, []).append(placed[index])
    waves = [(when, sorted(by_time[when])) for when in sorted(by_time)]
    return Plan(plan.start, waves, sorted(never), result.by, usage, plan.outside)


def plan_at(window: CallingHours, numbers: list[str], at: float) -> Plan:
    """Split numbers into waves from the instant `at` (epoch seconds), each when its callees' hours open."""
    if window.always:
        return Plan(at, [(at, list(range(len(numbers))))] if numbers else [], [])
    instant = datetime.fromtimestamp(at, UTC)
    waves, never = window.waves(numbers, instant)
    return Plan(at, [(exact_epoch(when, instant, at), rows) for when, rows in waves], never)


async def plan_for(deps: Deps, request: BatchRequest) -> Plan:
    """How an approved request goes out. A whole request may be split into waves; a wave goes out whole,
    when all its callees are inside hours together; a test dials only its first row."""
    numbers = request.payload.numbers
    if request.payload.test_mode:
        numbers = numbers[:1]
    if request.parent_id is None:
        return await plan_of(deps, numbers, start=request.start_at)
    _, at = await calling_hours_of(deps, numbers, start=request.start_at)
    rows = list(range(len(numbers)))
    start = max(deps.clock.now(), request.start_at or 0.0)
    return Plan(start, [(at, rows)], []) if at is not None else Plan(start, [], rows)


# How far ahead a batch may be scheduled.
MAX_START_DAYS = 30


def start_time(deps: Deps, chosen: Any) -> float | None:
    """Read the batch modal's start time (epoch seconds); raise FormErrors when it has passed or is too far."""
    if chosen in (None, ""):
        return None
    try:
        at = float(chosen)
    except (TypeError, ValueError):
        raise FormErrors({BlockId.START_AT: "Choose a date and a time, or leave it empty."}) from None
    now = deps.clock.now()
    if at < now - 60:
        raise FormErrors({BlockId.START_AT: "That time has passed: choose one to come, or leave it empty."})
    if at > now + MAX_START_DAYS * 86400:
        raise FormErrors({BlockId.START_AT: f"At most {MAX_START_DAYS} days ahead."})
    return at if at > now else None


async def check_hours(deps: Deps, form: BatchForm, *, where: str) -> BatchForm:
    """Plan the rows' waves from the start time (for the approval card); refuse rows with no calling hours."""
    recipients = form.recipients
    numbers = [row[recipients.phone_column] for row in recipients.rows]
    plan = await plan_of(deps, numbers[:1] if form.test_mode else numbers, start=form.start_at)
    if plan.never:
        lines = ", ".join(str(recipients.lines[i]) for i in plan.never[:10])
        more = f" and {len(plan.never) - 10} more" if len(plan.never) > 10 else ""
        raise FormErrors(
            {
                where: f"{len(plan.never)} number(s) have no calling hours the bot can tell (line {lines}{more}): "
                "their time zone is unknown. Take them out, or have an admin set CALLING_TIMEZONE."
            }
        )
    caps = deps.settings.caps
    return replace(
        form,
        outside_rows=plan.outside,
        wave_plan=tuple(plan.summary),
        cap_check=CapCheck(caps, plan.usage, plan.capped_by) if caps.any else None,
    )


async def ready_to_freeze(deps: Deps, form: BatchForm, *, where: str) -> BatchForm:
    """The rules every batch keeps before its payload is frozen: numbers on the do-not-call list are left
    out (and named on the card), and the rest must share calling hours; problems go on input `where`."""
    return await check_hours(deps, await leave_out_listed(deps, form, where=where), where=where)


def hours_note(request: BatchRequest, api: BatchApi | None = None) -> str:
    """A line for the requester when some rows are outside calling hours: how the batch will go out."""
    if not request.outside_rows:
        return ""
    if api is BatchApi.V2:
        return (
            f"\n:clock9: {request.outside_rows} of its rows are outside calling hours now: once approved, it is "
            "sent as one batch and each call rings when its callee's hours open. If approved at once: "
            f"{wave_times(request)}."
        )
    waves = len(request.wave_plan)
    when = f"in {waves} waves" if waves > 1 else "when their hours open"
    return (
        f"\n:clock9: {request.outside_rows} of its rows are outside calling hours now: once approved, it goes "
        f"out {when}, each row inside its callee's hours. If approved at once: {wave_times(request)}."
    )
