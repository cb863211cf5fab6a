"""Bland's request budget: every request spends a token of one bucket in the database, shared by replicas;
sends are served before result reads, result reads before safety-net reads; a 429 holds everyone.

Driven by a clock of its own: a wait advances it, so nothing here waits on wall-clock time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.bland.budget import BlandBudget, Priority
from bot.bland.client import BlandClient
from bot.bland.errors import BlandRateLimitedError
from bot.clock import FakeClock
from bot.store import Store
from bot.store.budget import RateBudgetRepo
from tests.helpers import answering


class Waits:
    """A sleep that moves the clock instead of waiting, and remembers how long each wait was."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, FakeClock())
    yield opened
    await opened.close()


def budget(store: Store, clock: FakeClock, rate: float = 5.0) -> tuple[BlandBudget, Waits]:
    waits = Waits(clock)
    return BlandBudget(RateBudgetRepo(store.db, clock), rate, sleep=waits), waits


async def test_requests_keep_to_the_rate_a_second_once_the_burst_is_spent(store: Store) -> None:
    clock = FakeClock()
    spend, waits = budget(store, clock)
    start = clock.now()
    times = []
    for _ in range(36):
        await spend.spend(Priority.SEND)
        times.append(clock.now())
    # A burst of 1.5 (30 % of 5), then 3.5 a second: never more than 5 within any one second, and 36
    # requests take (36 - 1.5) / 3.5 seconds, never less.
    assert waits.waited and clock.now() - start == pytest.approx(34.5 / 3.5, abs=0.05)
    assert max(sum(1 for t in times if at <= t < at + 1.0) for at in times) <= 5


async def test_two_replicas_share_one_budget(store: Store) -> None:
    clock = FakeClock()
    first, _ = budget(store, clock)
    second, _ = budget(store, clock)
    start = clock.now()
    for _ in range(18):
        await first.spend(Priority.SEND)
        await second.spend(Priority.SEND)
    assert clock.now() - start == pytest.approx(34.5 / 3.5, abs=0.05)  # 36 between them, as from one


async def test_sends_go_before_reads_when_the_budget_is_short(store: Store) -> None:
    clock = FakeClock()
    spend, waits = budget(store, clock)
    await spend.spend(Priority.SEND)  # a send takes a token at once; 0.5 are left
    assert waits.waited == []
    await spend.spend(Priority.SAFETY)  # a safety-net read leaves part of the burst to others: it waits
    assert waits.waited and waits.waited[0] > 0
    for _ in range(6):  # empty
        await spend.spend(Priority.SEND)
    took = {}
    for priority in (Priority.SEND, Priority.RESULT, Priority.SAFETY):
        for _ in range(3):  # each from an empty bucket
            await spend.spend(Priority.SEND)
        start = clock.now()
        await spend.spend(priority)
        took[priority] = clock.now() - start
    # The lower the priority, the more tokens it leaves to others: it waits longer from the same start.
    assert took[Priority.SEND] < took[Priority.RESULT] < took[Priority.SAFETY]


async def test_a_429_holds_every_replica_for_its_retry_after(store: Store) -> None:
    clock = FakeClock()
    first, _ = budget(store, clock)
    second, waits = budget(store, clock)
    await first.hold(7.0)
    start = clock.now()
    await second.spend(Priority.SEND)
    assert clock.now() - start >= 7.0 and waits.waited
    await first.hold(None)  # no Retry-After: a short backoff, not none
    start = clock.now()
    await second.spend(Priority.SEND)
    assert clock.now() - start >= 2.0


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[tuple[BlandClient, list[str], Store, FakeClock]]:
    """The real client against a server that answers its first request 429 with Retry-After: 4."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        if len(seen) == 1:
            return web.json_response(
                {"status": "error", "message": "Rate limit exceeded"},
                status=429,
                headers={"Retry-After": "4"},
            )
        return web.json_response({"total_count": 0, "count": 0, "calls": []})

    clock = FakeClock()
    store = await Store.open(str(tmp_path / "b.db"), clock)
    spend, _ = budget(store, clock)
    async with answering(answer) as url:
        client = BlandClient(url, "key", budget=spend, http=httpx.AsyncClient())
        try:
            yield client, seen, store, clock
        finally:
            await client.aclose()
            await store.close()


async def test_the_client_spends_before_each_request_and_a_429_holds_the_next(
    limited: tuple[BlandClient, list[str], Store, FakeClock],
) -> None:
    client, seen, store, clock = limited
    start = clock.now()
    listed = await client.list_calls(limit=1)  # 429, then (retried) the answer
    assert listed.count == 0 and len(seen) == 2
    assert clock.now() - start >= 4.0  # the retry waited for Bland's Retry-After, through the budget
    held = await RateBudgetRepo(store.db, clock).held_until("bland:requests")
    assert held is not None and held >= start + 4.0


async def test_a_send_refused_with_429_is_not_retried(
    limited: tuple[BlandClient, list[str], Store, FakeClock],
) -> None:
    client, seen, _, _ = limited
    with pytest.raises(BlandRateLimitedError):
        await client.create_batch_v2(
            {"global": {"task": "x"}, "call_objects": [{"phone_number": "+14155550100"}]}
        )
    assert seen == ["/v2/batches/create"]  # once: it can dial
