"""Today's figures for the Home tab: the account's calls since midnight UTC (the day the plan's daily cap
counts), how many a person answered, their minutes and what they cost, read from Bland's call list.

Every Home tab shows the same figures, so they are read once a minute at most (`FIGURES_SECONDS`) and
shared; a Home tab never waits on Bland longer than `READ_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.bland.errors import BlandError
from bot.blocks.batches import CostSource, call_cost
from bot.blocks.home import Today, Unread
from bot.deps import Deps

log = logging.getLogger(__name__)

FIGURES_SECONDS = 60.0
READ_SECONDS = 3.0
# Past this many rows the figures say "at least": the Scale plan's day is 5,000 calls.
MOST_ROWS = 10_000


@dataclass
class FiguresMemo:
    """The last reading, shared by every Home tab of this process."""

    figures: Today | Unread | None = None
    read_at: float = 0.0  # a failure is kept as long: a Bland that is down is not asked at every publish
    lock: asyncio.Lock | None = None


async def today_figures(deps: Deps) -> Today | Unread:
    """Today's figures, read again when the last reading is more than FIGURES_SECONDS old."""
    memo = deps.memo.setdefault("today", FiguresMemo())
    assert isinstance(memo, FiguresMemo)
    memo.lock = memo.lock or asyncio.Lock()
    async with memo.lock:  # one reading at a time: a burst of Home tabs shares it
        now = deps.clock.now()
        if memo.figures is not None and now - memo.read_at < FIGURES_SECONDS:
            return memo.figures
        memo.read_at = now
        try:
            memo.figures = await asyncio.wait_for(read_today(deps, now), READ_SECONDS)
        except TimeoutError:
            memo.figures = Unread("Bland did not answer in time")
        except BlandError as exc:
            log.warning("cannot read today's calls: %s", exc)
            memo.figures = Unread(f"Bland's call list cannot be read now ({exc.user_message})")
        return memo.figures


async def read_today(deps: Deps, now: float) -> Today:
    """Read the UTC day's calls, a page of 1,000 at a time (light rows); raise BlandError."""
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    pricing = deps.settings.pricing
    calls = ended = answered = 0
    seconds = spend = 0.0
    estimated = more = False
    async for call in deps.bland.list_pages(created_at=day):
        if calls >= MOST_ROWS:
            more = True
            break
        calls += 1
        cost = call_cost(call, pricing)
        if cost is not None:
            spend += cost[0]
            estimated = estimated or cost[1] is CostSource.ESTIMATE
        if not call.is_terminal:
            continue
        ended += 1
        if (call.answered_by_text or "").lower() == "human":
            answered += 1
        length = call.duration_seconds
        if length is not None and not call.is_error:
            seconds += length
    return Today(calls, ended, answered, seconds, spend, estimated, more, now)
