"""The daily digest (DIGEST_TIME, off by default): yesterday's calls, answers, minutes and cost, batches run,
backfills started and approvals waiting, each against the day before, posted once to NOTIFY_CHANNEL.

Calls are counted from Bland's own list (so calls placed outside Slack count too); its rows carry no price,
so the cost is an estimate from the lengths (COST_PER_MINUTE), and says so. Batches and backfills come from the
audit log. The day is a UTC day; the digest is claimed by name, so it is posted once however many ticks (or
replicas) pass the hour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.bland.errors import BlandError
from bot.blocks.format import money
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, RequestState
from bot.pricing import Pricing
from bot.store.outbox import Delivery

log = logging.getLogger(__name__)

# Calls counted per day at most (a page of Bland's list is 1,000 rows).
DAY_CAP = 20_000


@dataclass(frozen=True)
class DayFigures:
    calls: int
    answered: int  # answered by a person
    finished: int
    minutes: float
    batches: int
    backfills: int
    cost: float = 0.0  # estimated: each call that ended at the plan's rate, never under its minimum

    @property
    def answer_rate(self) -> float | None:
        """Answered by a person, of the calls that ended."""
        return self.answered / self.finished if self.finished else None


def parse_digest_time(text: str) -> time:
    """Read `HH:MM` (UTC)."""
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


async def figures(deps: Deps, day: date) -> DayFigures:
    """One UTC day's figures."""
    calls = answered = finished = 0
    seconds = cost = 0.0
    pricing = deps.settings.pricing
    async for call in deps.bland.list_pages(created_at=day.isoformat()):
        calls += 1
        if call.is_terminal:
            finished += 1
            seconds += call.duration_seconds or 0.0
            cost += pricing.call((call.duration_seconds or 0.0) / 60)
            answered += (call.answered_by_text or "").lower() == "human"
        if calls >= DAY_CAP:
            break
    start = datetime.combine(day, time(0), UTC).timestamp()
    entries = [e for e in await deps.store.audit.since(start) if e.at < start + 86400]
    batches = sum(e.action == AuditAction.BATCH_SEND and e.outcome == AuditOutcome.SENT for e in entries)
    backfills = sum(e.action == AuditAction.BACKFILL_START for e in entries)
    return DayFigures(calls, answered, finished, seconds / 60, batches, backfills, cost)


def _change(now: float, before: float) -> str:
    if before == now:
        return "same as the day before"
    if not before:
        return "none the day before"
    return f"{(now - before) / before:+.0%} on the day before"


def digest_text(day: date, today: DayFigures, before: DayFigures, *, pending: int, pricing: Pricing) -> str:
    """The digest, one line a figure, each against the day before."""
    rate = f"{today.answer_rate:.0%}" if today.answer_rate is not None else "—"
    rate_before = f"{before.answer_rate:.0%}" if before.answer_rate is not None else "—"
    cost = money(today.cost)
    lines = [
        f":bar_chart: *Daily digest* for {day:%A %d %B %Y} (UTC)",
        f"• Calls: *{today.calls}* ({_change(today.calls, before.calls)})",
        f"• Answered by a person: *{rate}* of the calls that ended (the day before: {rate_before})",
        f"• Minutes: *{today.minutes:.0f}* ({_change(round(today.minutes), round(before.minutes))}); "
        f"cost about {cost} ({pricing.label}; Bland's list carries no price)",
        f"• Batches run: *{today.batches}* ({_change(today.batches, before.batches)})",
        f"• Backfills started: *{today.backfills}* ({_change(today.backfills, before.backfills)})",
        f"• Batch requests waiting for approval now: *{pending}*",
    ]
    return "\n".join(lines)


async def post_digest(deps: Deps) -> None:
    """Scheduler chore: once DIGEST_TIME (UTC) has passed, post yesterday's digest, once."""
    settings = deps.settings
    if not settings.digest_time or not settings.notify_channel:
        return
    now = datetime.fromtimestamp(deps.clock.now(), UTC)
    if now.time() < parse_digest_time(settings.digest_time):
        return
    day = now.date() - timedelta(days=1)
    if not await deps.store.chores.claim(f"digest:{day.isoformat()}"):
        return
    today = await figures(deps, day)
    before = await figures(deps, day - timedelta(days=1))
    pending = len(
        await deps.store.batch_requests.in_state(RequestState.PENDING, updated_before=now.timestamp())
    )
    text = digest_text(day, today, before, pending=pending, pricing=settings.pricing)
    try:
        account = await deps.bland.account()
        if account.balance is not None:
            text += f"\n• Balance now: *{money(account.balance)}*"
    except BlandError as exc:  # the digest goes out without it
        log.warning("digest: cannot read the balance: %s", exc)
    await deps.outbox.add(
        Delivery(key=f"digest:{day.isoformat()}", channel=settings.notify_channel, text=text)
    )
