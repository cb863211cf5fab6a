"""The generic tick and scheduler: isolation, backoff, max age, wake-ups, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.bland.errors import BlandRateLimitedError, BlandResponse, BlandServerError
from bot.deps import Deps
from bot.domain import Kind
from bot.sandbox.harness import Sandbox
from bot.store.tracked import TrackedItem
from bot.tracking.kinds import PollOutcome
from bot.tracking.poller import Poller, failure_backoff, next_interval
from bot.tracking.scheduler import Scheduler


@dataclass
class ScriptedKind:
    """A tracked kind whose poll results are scripted per external id (a plug-in, not a mock of Bland)."""

    name: Kind = Kind.CALL
    max_age: float = 3600.0
    script: dict[str, list[object]] = field(default_factory=dict)
    polled: list[str] = field(default_factory=list)
    failures_told: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)

    def base_interval(self, deps: Deps) -> float:
        return 10.0

    def card(self, deps: Deps, item: TrackedItem) -> None:
        return None

    async def sweep(self, deps: Deps) -> None:
        return None

    async def poll(self, deps: Deps, item: TrackedItem, sent: dict[str, Any] | None = None) -> PollOutcome:
        self.polled.append(item.external_id)
        step = self.script[item.external_id].pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, PollOutcome)
        return step

    async def on_failure(self, deps: Deps, item: TrackedItem, error: Exception) -> None:
        self.failures_told.append(item.external_id)

    async def give_up(self, deps: Deps, item: TrackedItem) -> None:
        self.given_up.append(item.external_id)


async def test_one_failing_item_never_stops_the_others(sandbox: Sandbox) -> None:
    store = sandbox.bot.deps.store.tracked
    kind = ScriptedKind(
        script={
            "good": [PollOutcome("in_progress"), PollOutcome("completed", done=True)],
            "crashes": [ZeroDivisionError("bug"), PollOutcome("in_progress")],
            "bland-down": [
                BlandServerError("HTTP 500", response=BlandResponse(500, "")),
                PollOutcome("in_progress"),
            ],
        }
    )
    poller = Poller(sandbox.bot.deps, [kind])
    for external_id in kind.script:
        await store.add(Kind.CALL, external_id, "C1", created_by="U1")
    assert await poller.tick() == 3
    rows = {i.external_id: i for i in await store.recent(Kind.CALL)}
    assert rows["good"].failures == 0 and rows["good"].last_status == "in_progress"
    assert rows["crashes"].failures == 1 and "internal error" in (rows["crashes"].last_error or "")
    assert rows["bland-down"].failures == 1 and kind.failures_told == ["bland-down"]
    for row in rows.values():
        assert row.next_poll_at > sandbox.clock.now()  # everything was rescheduled
    await sandbox.advance(60)
    await poller.tick()
    rows = {i.external_id: i for i in await store.recent(Kind.CALL)}
    assert rows["good"].state == "done" and rows["crashes"].failures == 0


async def test_items_past_their_max_age_are_given_up(sandbox: Sandbox) -> None:
    kind = ScriptedKind(max_age=100.0, script={"old": [PollOutcome("in_progress")] * 5})
    poller = Poller(sandbox.bot.deps, [kind])
    await sandbox.bot.deps.store.tracked.add(Kind.CALL, "old", "C1", created_by="U1")
    await poller.tick()
    await sandbox.advance(200)
    await poller.tick()
    assert kind.given_up == ["old"] and kind.polled == ["old"]
    assert await sandbox.bot.deps.store.tracked.count_active() == 0


def test_backoff_grows_while_nothing_changes_and_honours_retry_after() -> None:
    rng = random.Random(3)
    assert 9 <= next_interval(10, 0, rng) <= 11
    assert next_interval(10, 4, rng) > next_interval(10, 0, rng) * 4
    assert next_interval(10, 50, rng) <= 330
    server = BlandServerError("x")
    assert failure_backoff(10, 1, server, rng) < failure_backoff(10, 4, server, rng)
    assert failure_backoff(10, 1, BlandRateLimitedError("x", retry_after=42), rng) == 42
    # The same seed gives the same schedule: runs are reproducible.
    assert next_interval(10, 2, random.Random(5)) == next_interval(10, 2, random.Random(5))


async def test_wake_runs_a_tick_and_overlapping_wakes_coalesce() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    runs = 0

    async def tick() -> None:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()

    scheduler = Scheduler(tick, interval=3600)
    scheduler.start()
    try:
        scheduler.wake()
        await started.wait()
        scheduler.wake()
        scheduler.wake()  # both arrive while a tick runs: exactly one more tick follows
        release.set()
        for _ in range(200):
            if runs >= 2:
                break
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0)
    finally:
        await scheduler.shutdown()
    assert runs == 2


async def test_a_tick_held_up_is_said_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def tick() -> None:
        started.set()
        await release.wait()  # a database that does not answer

    scheduler = Scheduler(tick, interval=3600)  # the interval job is driven by hand below
    scheduler.start()
    try:
        scheduler.wake()
        await started.wait()
        # The interval job only asks for a tick and returns, even while one is held: APScheduler never sees
        # an overlap (it would log each one).
        await asyncio.wait_for(scheduler.on_interval(), timeout=5)
        for _ in range(49):
            await scheduler.run_tick()  # what each tick asked for meanwhile does: finds it running
        release.set()
        await scheduler.settle()
    finally:
        release.set()
        await scheduler.shutdown()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    held = [line for line in lines if "still running" in line]
    resumed = [line for line in lines if line.startswith("ticks resumed")]
    assert len(held) == 1 and len(resumed) == 1, lines
    assert "and 50 asked for meanwhile" in resumed[0], resumed
    assert scheduler.skipped == 0


async def test_shutdown_waits_for_the_running_tick() -> None:
    finished = asyncio.Event()
    entered = asyncio.Event()

    async def tick() -> None:
        entered.set()
        await asyncio.sleep(0.05)
        finished.set()

    scheduler = Scheduler(tick, interval=3600)
    scheduler.start()
    assert scheduler.running
    scheduler.wake()
    await entered.wait()
    await scheduler.shutdown()
    assert finished.is_set() and not scheduler.running
    scheduler.wake()  # after shutdown: ignored, no error


async def test_calls_in_flight_are_checked_through_the_list_not_one_by_one(sandbox: Sandbox) -> None:
    deps, sim = sandbox.bot.deps, sandbox.sim
    sim.config.concurrent_cap = 50  # an account on Build: 30 calls at once are within its caps
    for i in range(30):
        created = await deps.bland.send_call({"phone_number": f"+1415555{i:04d}", "task": "Say hi"})
        await deps.tracker.track(
            deps, Kind.CALL, str(created.call_id), "C0OPS", created_by="U1", data={}, last_status="queued"
        )
    await sandbox.tick()  # new items are read once; the sweep learns the rest from the list
    reads, lists = sim.count("calls.get"), sim.count("calls.list")
    for _ in range(12):  # two minutes of calls in progress, polled every 10 s
        await sandbox.advance(10)
        await sandbox.tick()
    assert sim.count("calls.list") - lists <= 13  # about one list read per interval, whatever N is
    # Read in full only when the list shows a change (each call starts once): one by one would be 360.
    assert sim.count("calls.get") - reads <= 2 * 30
    await sandbox.run_until_done()
    results = [m for m in sandbox.slack.messages if m.thread_ts and m.thread_ts != m.ts]
    assert len(results) == 30  # every call still reported, once
