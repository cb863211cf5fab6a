"""The tick: poll every due item, isolated from each other, and schedule the next poll."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from random import Random
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.bland.errors import (
    BlandAuthError,
    BlandError,
    BlandForbiddenError,
    BlandNotFoundError,
    BlandRateLimitedError,
)
from bot.deps import Deps
from bot.domain import Kind, TrackedState
from bot.notifier import is_transient, slack_error
from bot.store.db import Outage
from bot.store.tracked import TrackedItem
from bot.tracking.kinds import PollOutcome, TrackedKind

log = logging.getLogger(__name__)

MAX_INTERVAL = 300.0
MAX_FAILURE_BACKOFF = 600.0
# Not-found errors are retried a few times (Bland may lag right after creation), then tracking stops.
MAX_NOT_FOUND = 5
# A tick leases due items this many rounds of POLL_CONCURRENCY at a time, up to this many in all (then the
# periodic work gets its turn, and the next tick goes on).
CLAIM_ROUNDS = 2
MAX_POLLS_PER_TICK = 500
# Webhook bodies kept for the next poll of their item, at most (each is let go when a poll takes it).
MAX_SENT = 5000


def next_interval(base: float, unchanged_polls: int, rng: Random) -> float:
    """Back off while nothing changes: base × 1.5^n, capped, with ±10 % jitter from `rng`."""
    return min(base * 1.5 ** min(unchanged_polls, 10), MAX_INTERVAL) * rng.uniform(0.9, 1.1)


def failure_backoff(base: float, failures: int, error: Exception, rng: Random) -> float:
    """Slow a failing item down: base × 2^n (or Retry-After), capped, with ±10 % jitter from `rng`."""
    if isinstance(error, BlandRateLimitedError) and error.retry_after:
        return max(error.retry_after, base)
    return min(base * 2.0 ** min(failures, 10), MAX_FAILURE_BACKOFF) * rng.uniform(0.9, 1.1)


Chore = Callable[[Deps], Awaitable[None]]


class Poller:
    """Holds the registry of kinds and the chores (expiry, reconciliation) and runs ticks."""

    def __init__(self, deps: Deps, kinds: list[TrackedKind], chores: Sequence[Chore] = ()) -> None:
        self.deps = deps
        self.kinds = {kind.name: kind for kind in kinds}
        self.chores = list(chores)
        self._busy: set[int] = set()  # items being polled now (by a tick or a webhook): never two at once
        # When news last made this replica read an item at once: news within the gap of it makes the item
        # due when the gap ends, for the tick to read once, so a flood of webhooks reads the item a few
        # times, not once each (WEBHOOK_READ_GAP_SECONDS).
        self._read_for_news: dict[int, float] = {}
        self._news_due: dict[int, float] = {}  # item -> when the gap ends for the news that came within it
        # What Bland's signed webhooks carried, by item, for the next poll of the item here to take for its
        # read: the webhook's own poll, or a tick's that held the item when the webhook came.
        self._sent: dict[int, dict[str, Any]] = {}
        self._now_slots = asyncio.Semaphore(deps.settings.poll_slots)
        self._outage = Outage("tick")
        self._stopping = False

    def stop(self) -> None:
        """Shutting down: the running tick finishes the polls it started and leases no more (with Bland's
        request budget, a tick of many due items could otherwise hold shutdown for minutes)."""
        self._stopping = True

    async def poll_now(self, kind: str, external_id: str, sent: dict[str, Any] | None = None) -> int:
        """Poll the active items of one id at once, each in its own task (webhooks first, ticks second).

        `sent` is what Bland's signed webhook carried: the next poll of each item here may take it for its
        read (an ended call), whether this one or a tick's that holds the item now.

        The tasks count as in-flight work, so shutdown waits for them. An item read for news less than
        WEBHOOK_READ_GAP_SECONDS ago is made due when the gap ends (the tick reads it then, once, however much
        news came meanwhile); one this replica is polling now, or another replica holds, is made due now, so
        that the news is read by the next poll. Returns how many items of that id are tracked.
        """
        store = self.deps.store.tracked
        active = await store.active(Kind(kind), external_id)
        now = self.deps.clock.now()
        gap = self.deps.settings.webhook_read_gap_seconds
        # Decided before the next await, so that news arriving together is one read, not one each.
        recent = {
            item.id: self._read_for_news[item.id] + gap
            for item in active
            if item.id in self._read_for_news and now < self._read_for_news[item.id] + gap
        }
        if sent is not None:
            for item in active:
                self._sent[item.id] = sent
            while len(self._sent) > MAX_SENT:  # the oldest first (a dict keeps its order)
                del self._sent[next(iter(self._sent))]
        wanted = [item.id for item in active if item.id not in self._busy and item.id not in recent]
        if len(self._read_for_news) > 1000:  # forget what is past the gap
            self._read_for_news = {i: at for i, at in self._read_for_news.items() if now < at + gap}
        for item_id in wanted:
            self._read_for_news[item_id] = now
        for item_id, gap_ends in recent.items():
            self._news_due.setdefault(item_id, gap_ends)
        items = await store.claim_items(
            wanted, owner=self.deps.replica, lease=self.deps.settings.lease_seconds
        )
        claimed = {item.id for item in items}
        held = [item.id for item in active if item.id not in recent and item.id not in claimed]
        if held:
            # Being polled right now (by a tick here, or by another replica), maybe from before this news:
            # the next poll reads it again.
            await store.due_by(held, self.deps.clock.now())
            self.deps.wake()
        for item in items:
            self._in_flight(self._poll_guarded(item, self._now_slots))
        return len(active)

    def _in_flight(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work in a task of its own, counted as in-flight work (shutdown waits for it)."""
        task = asyncio.get_running_loop().create_task(work)
        self.deps.inflight.add(task)
        task.add_done_callback(self.deps.inflight.discard)

    async def tick(self) -> int:
        """Poll every tracked item that is due, at most POLL_CONCURRENCY at a time; returns how many."""
        deps = self.deps
        with deps.metrics.tick_seconds.time():
            try:
                polled = await self._tick()
            except Exception as exc:
                if not deps.store.db.unreachable(exc):
                    raise
                self._outage.lost(exc)  # nothing can be claimed: /healthz says 503 meanwhile
                return 0
        self._outage.back()
        return polled

    async def _tick(self) -> int:
        deps = self.deps
        adopted = await deps.store.tracked.adopt_cards()
        if adopted:
            log.info("tick: recovered the cards of %d item(s) from the notification ledger", adopted)
        for kind in self.kinds.values():
            try:
                await kind.sweep(deps)
            except Exception:
                log.exception("tick: the %s sweep failed", kind.name)
        await self._news_past_gap()
        polled = await self._poll_due()
        lead = await deps.store.chores.take_turn("chores", deps.replica, deps.settings.lease_seconds)
        for chore in self.chores if lead else ():  # one replica leads the periodic work
            try:
                await chore(deps)
            except Exception:
                log.exception("tick: chore %s failed", getattr(chore, "__name__", chore))
        return polled

    async def _news_past_gap(self) -> None:
        """Make due the items whose news came within a gap that has now passed (after the sweeps, which
        may have put them off: the news may be what Bland's list does not show)."""
        now = self.deps.clock.now()
        ready = [item_id for item_id, gap_ends in self._news_due.items() if gap_ends <= now]
        for item_id in ready:
            del self._news_due[item_id]
        if ready:
            await self.deps.store.tracked.due_by(ready, now)

    async def _poll_due(self) -> int:
        """Poll the due items, leasing them a few rounds of slots at a time, not all at once: what would only
        wait here for a slot stays free for the other replicas, and what is leased is polled well within its
        lease. Each leased item takes a slot before the next round is leased, so no slot idles meanwhile."""
        deps = self.deps
        slots = asyncio.Semaphore(deps.settings.poll_slots)
        claim = CLAIM_ROUNDS * deps.settings.poll_slots
        polled = 0
        async with asyncio.TaskGroup() as group:
            while polled < MAX_POLLS_PER_TICK:
                due = await deps.store.tracked.claim_due(
                    owner=deps.replica, lease=deps.settings.lease_seconds, limit=claim
                )
                for index, item in enumerate(due):
                    await slots.acquire()  # released by the poll
                    if self._stopping:  # give back what this replica leased and will not poll now
                        slots.release()
                        for left in due[index:]:
                            await deps.store.tracked.release(left.id, deps.replica)
                        break
                    group.create_task(self._poll_guarded(item, slots, seated=True))
                polled += len(due)
                if len(due) < claim or self._stopping:
                    break
        return polled

    async def _poll_guarded(
        self,
        item: TrackedItem,
        slots: asyncio.Semaphore,
        *,
        seated: bool = False,
    ) -> None:
        """Poll one item (unless it is being polled already); log and back off on failure, never raise.

        `seated`: the caller took the item's slot already (it is given back here)."""
        if item.id in self._busy:
            if seated:
                slots.release()
            return
        self._busy.add(item.id)
        try:
            await self._poll_slot(item, slots, seated)
        finally:
            self._busy.discard(item.id)
            try:
                await self.deps.store.tracked.release(item.id, self.deps.replica)
            except Exception:  # the lease then lapses on its own
                log.exception("tick: cannot give back the lease of item %s", item.id)

    async def _poll_slot(self, item: TrackedItem, slots: asyncio.Semaphore, seated: bool) -> None:
        waited = seated or slots.locked()  # seated: its slot was taken a while after its lease
        if not seated:
            await slots.acquire()
        try:
            # As it stands once a slot is free, and still this replica's: the lease is renewed for the poll,
            # unless it lapsed while the item waited and another replica took it (then that one polls it).
            # An item leased just now (news, and a slot free at once) is as it stands already.
            if waited:
                fresh = await self.deps.store.tracked.claim_items(
                    [item.id], owner=self.deps.replica, lease=self.deps.settings.lease_seconds
                )
                if not fresh:
                    return
                item = fresh[0]
            metrics = self.deps.metrics
            outcome = "crashed"
            started = time.monotonic()
            keeper = asyncio.create_task(self._keep_lease(item.id))
            try:
                await self._poll(item)
                outcome = "ok"
            except SlackApiError as exc:
                outcome = "slack_error"
                if is_transient(exc):
                    # Slack is failing for now (429 past its retries, 5xx): poll again later; the ledger
                    # makes sure what was already posted is not posted twice.
                    log.warning(
                        "tick: Slack failed for item %s (%s); retrying later", item.id, slack_error(exc)
                    )
                    await self._safe_backoff(item, f"Slack: {slack_error(exc)}")
                else:
                    await self._crashed(item)
            except Exception:
                await self._crashed(item)
            finally:
                keeper.cancel()
                await asyncio.wait([keeper])  # ended before the lease is given back, never after
                metrics.polls.labels(kind=item.kind, outcome=outcome).inc()
                metrics.poll_seconds.labels(kind=item.kind).observe(time.monotonic() - started)
        finally:
            slots.release()

    async def _keep_lease(self, item_id: int) -> None:
        """Renew an item's lease while its poll runs: a poll that waits on Bland's request budget (or a slow
        Bland) must not lose its item to another replica half-way, or both would read the same thing."""
        lease = self.deps.settings.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self.deps.store.tracked.claim_items([item_id], owner=self.deps.replica, lease=lease)
            except Exception as exc:  # the lease then lapses on its own, as it would have
                log.warning("tick: cannot renew the lease of item %s (%s)", item_id, type(exc).__name__)

    async def _crashed(self, item: TrackedItem) -> None:
        """Log an unexpected failure with its traceback and an error id, and slow the item down."""
        error_id = uuid.uuid4().hex[:8]
        log.exception(
            "tick: item %s (%s %s) crashed [error %s]", item.id, item.kind, item.external_id, error_id
        )
        await self._safe_backoff(item, f"internal error {error_id}")

    async def _safe_backoff(self, item: TrackedItem, reason: str) -> None:
        try:
            kind = self.kinds.get(item.kind)
            base = kind.base_interval(self.deps) if kind else 60.0
            await self.deps.store.tracked.record_poll(
                item.id,
                next_poll_at=self.deps.clock.now()
                + failure_backoff(base, item.failures + 1, Exception(), self.deps.rng),
                last_status=item.last_status,
                attempts=item.attempts,
                failures=item.failures + 1,
                last_error=reason,
            )
        except Exception:
            log.exception("tick: cannot even reschedule item %s", item.id)

    async def _poll(self, item: TrackedItem) -> None:
        deps = self.deps
        store = deps.store.tracked
        kind = self.kinds.get(item.kind)
        now = deps.clock.now()
        if kind is None:
            log.error("tick: no handler for kind %r; item %s left alone", item.kind, item.id)
            await store.finish(item.id, TrackedState.FAILED, last_status="unknown kind")
            return
        if now - item.created_at > kind.max_age:
            await kind.give_up(deps, item)
            await store.finish(item.id, TrackedState.GAVE_UP)
            return
        if item.card_ts is None:
            # Queued with the item; an item tracked before the outbox existed gets it now (idempotent).
            card = kind.card(deps, item)
            if card is not None:
                await deps.outbox.add(card)
        base = kind.base_interval(deps)
        try:
            outcome = await kind.poll(deps, item, self._sent.pop(item.id, None))
        except BlandError as error:
            await self._on_bland_error(kind, item, error, base)
            return
        await self._record(item, outcome, base)

    async def _on_bland_error(
        self, kind: TrackedKind, item: TrackedItem, error: BlandError, base: float
    ) -> None:
        deps = self.deps
        failures = item.failures + 1
        if isinstance(error, BlandAuthError):
            log.error(
                "Bland refused the API key while polling %s %s: admins, check BLAND_API_KEY",
                item.kind,
                item.external_id,
            )
        elif isinstance(error, BlandForbiddenError):
            log.error(
                "Bland answered 403 while polling %s %s: the account may not read it (a plan feature, or "
                "another organisation's resource); the key itself works",
                item.kind,
                item.external_id,
            )
        else:
            log.warning(
                "poll %s %s failed (%s): %s", item.kind, item.external_id, type(error).__name__, error
            )
        if failures == 1:
            try:
                await kind.on_failure(deps, item, error)
            except Exception:
                log.exception("on_failure for item %s raised", item.id)
        if isinstance(error, BlandNotFoundError) and failures >= MAX_NOT_FOUND:
            await kind.give_up(deps, item)
            await deps.store.tracked.finish(item.id, TrackedState.FAILED, last_status="not found")
            return
        await deps.store.tracked.record_poll(
            item.id,
            next_poll_at=deps.clock.now() + failure_backoff(base, failures, error, deps.rng),
            last_status=item.last_status,
            attempts=item.attempts,
            failures=failures,
            last_error=f"{type(error).__name__}: {error}",
        )

    async def _record(self, item: TrackedItem, outcome: PollOutcome, base: float) -> None:
        """Commit what the poll learnt and what people should see, together."""
        deps = self.deps
        if outcome.done:
            next_poll_at, attempts = deps.clock.now(), item.attempts
        else:
            attempts = item.attempts + 1 if outcome.status == item.last_status else 0
            delay = (
                outcome.retry_in if outcome.retry_in is not None else next_interval(base, attempts, deps.rng)
            )
            next_poll_at = deps.clock.now() + delay
        async with deps.unit() as u:
            await deps.store.tracked.record_poll(
                item.id,
                next_poll_at=next_poll_at,
                last_status=outcome.status,
                attempts=attempts,
                failures=0,
                data=outcome.data,
                state=outcome.final_state if outcome.done else TrackedState.ACTIVE,
                card_updated=outcome.card_updated,
            )
            await u.deliver(*outcome.deliveries)
            for event in outcome.events:
                await u.announce(event)
