"""How much of the plan's caps is used, counted from Bland's call list, and what that means for a call or a
batch (bot/caps.py has the caps and the spreading)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.bland.client import BlandClient
from bot.bland.errors import BlandError
from bot.bland.models import epoch, iso_time
from bot.caps import HOUR, Caps, Usage, next_utc_day
from bot.deps import Deps

log = logging.getLogger(__name__)

# A call lasts at most 12 hours (docs/bland.md, "Calls"): older unfinished calls are not "at once".
LONGEST_CALL = 12 * HOUR
# The Send a call modal waits this long for the counts; past it, the call is sent and Bland decides.
MODAL_SECONDS = 1.5


async def read_usage(deps: Deps, caps: Caps | None = None) -> Usage | None:
    """Today's (UTC), the last hour's and the unfinished calls (count_usage); None when Bland cannot be
    asked (the caller says so)."""
    try:
        return await count_usage(deps.bland, caps or deps.settings.caps, deps.clock.now())
    except BlandError as exc:
        log.warning("cannot count the calls against the plan's caps: %s", exc)
        return None


# One page of the call list answers all three counts when the day holds fewer calls than this.
USAGE_PAGE = 1000


async def count_usage(bland: BlandClient, caps: Caps, now: float) -> Usage:
    """Count the calls against each cap there is, in Bland's call list; raise BlandError.

    One request in the usual case: the calls since the start of the UTC day (or since the longest call
    could have begun, if earlier), counted by when each was made and whether it ended. A day past one page
    is counted a cap at a time instead (total_count, else paging)."""
    day_start = (
        datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    )
    page = await bland.list_calls(start_date=iso_time(min(day_start, now - LONGEST_CALL)), limit=USAGE_PAGE)
    if len(page.calls) < USAGE_PAGE:
        made = [(epoch(call.created_at), call) for call in page.calls]
        return Usage(
            today=sum(1 for at, _ in made if at is not None and at >= day_start),
            hour=sum(1 for at, _ in made if at is not None and at >= now - HOUR),
            active=sum(1 for _, call in made if not call.is_terminal),
        )
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    return Usage(
        today=await bland.count_calls(created_at=today, cap=caps.daily + 1) if caps.daily else 0,
        hour=await bland.count_calls(start_date=iso_time(now - HOUR), cap=caps.hourly + 1)
        if caps.hourly
        else 0,
        active=await bland.count_calls(
            completed=False, start_date=iso_time(now - LONGEST_CALL), cap=caps.concurrent + 1
        )
        if caps.concurrent
        else 0,
    )


@dataclass(frozen=True)
class Refusal:
    """Why a call cannot go now, and when it could (None: when a call in progress ends)."""

    why: str
    at: float | None


async def call_refusal(deps: Deps) -> Refusal | None:
    """Whether one more call now would pass a cap; counted within MODAL_SECONDS (else None: Bland decides)."""
    caps = deps.settings.caps
    if not caps.any and caps.concurrent is None:
        return None
    try:
        usage = await asyncio.wait_for(read_usage(deps, caps), MODAL_SECONDS)
    except TimeoutError:
        return None
    if usage is None:
        return None
    now = deps.clock.now()
    plan = caps.plan.value.title()
    if caps.daily is not None and usage.today >= caps.daily:
        at = next_utc_day(now)
        return Refusal(
            f"{usage.today} calls were placed today: the {plan} plan's cap is {caps.daily:,} a day, and Bland "
            f"rejects calls past it. It can go from {_when(at)}.",
            at,
        )
    if caps.hourly is not None and usage.hour >= caps.hourly:
        at = await _hour_frees(deps, now) or now + HOUR
        return Refusal(
            f"{usage.hour} calls were placed in the last hour: the {plan} plan's cap is {caps.hourly:,} an "
            f"hour, and Bland rejects calls past it. It can go from {_when(at)}.",
            at,
        )
    if caps.concurrent is not None and usage.active >= caps.concurrent:
        return Refusal(
            f"{usage.active} calls are in progress: the {plan} plan allows {caps.concurrent} at once, and Bland "
            "rejects calls past it. It can go as soon as one of them ends.",
            None,
        )
    return None


async def _hour_frees(deps: Deps, now: float) -> float | None:
    """When the oldest call of the last hour turns an hour old (room for one more)."""
    try:
        page = await deps.bland.list_calls(start_date=iso_time(now - HOUR), ascending=True, limit=1)
    except BlandError:
        return None
    oldest = epoch(page.calls[0].created_at) if page.calls else None
    return oldest + HOUR if oldest is not None else None


def _when(at: float) -> str:
    """Plain text (a modal's error shows no mrkdwn): `Sun 06 Dec 15:04 UTC`."""
    return datetime.fromtimestamp(at, UTC).strftime("%a %d %b %H:%M UTC")
