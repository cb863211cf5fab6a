"""The store on a real SQLite file and a real PostgreSQL database: migrations, the schedule, the dedupe
ledger, atomic transitions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.domain import AuditAction, AuditOutcome, Kind, RequestState, Topic, TrackedState
from bot.payloads import BatchPayload
from bot.store import Store
from bot.store.notifications import CLAIM_LEASE_SECONDS, ClaimState

MIGRATIONS = Path(__file__).parents[2] / "bot" / "store" / "migrations"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """The store on each backend: a SQLite file, then a PostgreSQL schema."""
    opened = await Store.open(database_url, FakeClock())
    yield opened
    await opened.close()


async def test_migrations_run_once_and_set_user_version(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    first = await Store.open(path, FakeClock())
    await first.tracked.add(Kind.CALL, "c1", "C1", created_by="U1")
    await first.close()
    second = await Store.open(path, FakeClock())  # re-opening must not re-apply any migration
    row = await second.db.fetchone("PRAGMA user_version")
    newest = max(int(p.name.split("_")[0]) for p in MIGRATIONS.glob("*.sql"))
    assert row is not None and row[0] == newest == 17
    assert await second.tracked.count_active() == 1
    journal = await second.db.fetchone("PRAGMA journal_mode")
    assert journal is not None and journal[0] == "wal"
    await second.close()


async def test_a_database_migrated_before_a_landed_migration_grew_a_column_gets_it(tmp_path: Path) -> None:
    """Migration 009 landed without `batch_requests.start_at`, which was added to it later: a database that
    applied the first 009 gets the column when it opens, and batch requests work on it."""
    path = tmp_path / "landed-009.db"
    old = sqlite3.connect(path)
    for migration in sorted(MIGRATIONS.glob("*.sql"))[:9]:
        script = migration.read_text(encoding="utf-8")
        old.executescript(script.split("-- When the requester asked the batch to start")[0])
    old.execute("PRAGMA user_version = 9")
    old.close()
    store = await Store.open(str(path), FakeClock())
    try:
        await store.batch_requests.create(
            "r1",
            payload=BatchPayload({}),
            fingerprint="f",
            requester="U1",
            channel="C1",
            expires_at=0,
            start_at=123.0,
        )
        request = await store.batch_requests.get("r1")
        assert request is not None and request.start_at == 123.0
    finally:
        await store.close()


async def test_tracked_rows_are_unique_per_channel_and_become_due(store: Store) -> None:
    clock = FakeClock()
    item = await store.tracked.add(Kind.CALL, "c1", "C1", created_by="U1", data={"to": "+14155550123"})
    assert item is not None and item.data == {"to": "+14155550123"}
    assert await store.tracked.add(Kind.CALL, "c1", "C1", created_by="U2") is None
    second = await store.tracked.add(Kind.CALL, "c1", "C2", created_by="U2")
    assert second is not None
    # Due at once: what a poll finds before the card is posted waits for it in the outbox.
    assert len(await store.tracked.due(clock.now())) == 2
    for tracked in (item, second):
        await store.tracked.record_poll(
            tracked.id, next_poll_at=clock.now() + 60, last_status="queued", attempts=0, failures=0
        )
    assert await store.tracked.due(clock.now()) == []
    assert await store.tracked.mark_due(Kind.CALL, "c1") == 2
    assert len(await store.tracked.due(clock.now())) == 2
    await store.tracked.finish(item.id, TrackedState.DONE)
    assert [i.channel for i in await store.tracked.due(clock.now())] == ["C2"]


async def test_ledger_claims_an_event_once_per_channel(database_url: str) -> None:
    clock = FakeClock()
    store = await Store.open(database_url, clock)
    ledger = store.notifications
    try:
        assert (await ledger.claim("call:1:result", "C1", "me")).state is ClaimState.NEW
        assert (
            await ledger.claim("call:1:result", "C1", "me")
        ).state is ClaimState.BUSY  # my send is under way
        assert (await ledger.claim("call:1:result", "C2", "me")).state is ClaimState.NEW  # per channel
        await ledger.release("call:1:result", "C1")
        assert (await ledger.claim("call:1:result", "C1", "me")).state is ClaimState.NEW
        await ledger.record("call:1:result", "C1", "111.222")
        await ledger.release("call:1:result", "C1")  # posted: release must not undo it
        done = await ledger.claim("call:1:result", "C1", "me")
        assert done.state is ClaimState.DONE and done.ts == "111.222"
        assert await ledger.ts_of("call:1:result", "C1") == "111.222"
    finally:
        await store.close()


async def test_a_claim_cut_off_by_a_crash_is_in_doubt_and_taken_over_once(database_url: str) -> None:
    clock = FakeClock()
    store = await Store.open(database_url, clock)
    ledger = store.notifications
    try:
        assert (await ledger.claim("call:2:result", "C1", "before-the-crash")).state is ClaimState.NEW
        doubt = await ledger.claim("call:2:result", "C1", "after-the-restart")
        assert doubt.state is ClaimState.IN_DOUBT and doubt.claimed_at is not None
        assert await ledger.take_over("call:2:result", "C1", "after-the-restart", doubt)
        assert not await ledger.take_over("call:2:result", "C1", "someone-else", doubt)  # one winner
        # A send of this very process that holds its claim past the lease is taken as stuck.
        assert (await ledger.claim("call:2:result", "C1", "after-the-restart")).state is ClaimState.BUSY
        clock.advance(CLAIM_LEASE_SECONDS + 1)
        assert (await ledger.claim("call:2:result", "C1", "after-the-restart")).state is ClaimState.IN_DOUBT
    finally:
        await store.close()


async def test_concurrent_transitions_have_exactly_one_winner(store: Store, tmp_path: Path) -> None:
    await store.batch_requests.create(
        "r1",
        payload=BatchPayload({"n": 1}),
        fingerprint="f",
        requester="U1",
        channel="C1",
        expires_at=FakeClock().now() + 100,
    )
    other = await Store.open(store.db.path, FakeClock())  # a second process on the same file
    try:
        attempts = [
            store.batch_requests.move("r1", RequestState.PENDING, RequestState.APPROVED, approver=f"U{i}")
            for i in range(25)
        ]
        attempts += [
            other.batch_requests.move("r1", RequestState.PENDING, RequestState.APPROVED, approver=f"V{i}")
            for i in range(25)
        ]
        results = await asyncio.gather(*attempts)
    finally:
        await other.close()
    won = [r for r in results if r is not None]
    assert len(won) == 1 and won[0].state == "approved"  # the winner gets the moved row back
    request = await store.batch_requests.get("r1")
    assert request is not None and request.state == "approved" and request.approver == won[0].approver


async def test_illegal_transitions_are_refused(store: Store) -> None:
    await store.batch_requests.create(
        "r2", payload=BatchPayload({}), fingerprint="f", requester="U1", channel="C1", expires_at=0
    )
    with pytest.raises(ValueError):
        await store.batch_requests.move("r2", RequestState.PENDING, RequestState.SENT)
    assert [r.id for r in await store.batch_requests.expired(1.0)] == ["r2"]


async def test_transaction_rolls_back_everything_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute("INSERT INTO subscriptions VALUES ('C1', 'calls', 'U1', 0)")
            raise RuntimeError("boom")
    assert await store.subscriptions.topics("C1") == []


async def test_audit_and_subscriptions(store: Store) -> None:
    await store.audit.record(
        actor="U1", action=AuditAction.CALL_SEND, outcome=AuditOutcome.SENT, channel="C1", target="c1"
    )
    entries = await store.audit.since(0)
    assert [(e.actor, e.action, e.outcome) for e in entries] == [("U1", "call.send", "sent")]
    assert await store.subscriptions.add("C1", Topic.CALLS, "U1")
    assert not await store.subscriptions.add("C1", Topic.CALLS, "U1")
    await store.subscriptions.add("C2", Topic.ALL, "U1")
    assert await store.subscriptions.channels_for(Topic.CALLS) == ["C1", "C2"]
    assert await store.subscriptions.remove("C1", Topic.CALLS)


async def test_a_card_the_ledger_knows_is_adopted_by_a_card_less_item(store: Store) -> None:
    clock = FakeClock()
    item = await store.tracked.add(Kind.CALL, "c9", "C1", created_by="U1")
    other = await store.tracked.add(Kind.CALL, "c10", "C1", created_by="U1")
    assert item is not None and other is not None
    # Posted and recorded in the ledger, then the process died before the item stored its card.
    assert (await store.notifications.claim("call:c9:card", "C1")).state is ClaimState.NEW
    await store.notifications.record("call:c9:card", "C1", "1.000042")
    assert (
        await store.notifications.claim("call:c10:card", "C1")
    ).state is ClaimState.NEW  # no reply yet: no ts
    assert await store.tracked.adopt_cards() == 1
    adopted = await store.tracked.get(item.id)
    assert adopted is not None and adopted.card_ts == adopted.thread_ts == "1.000042"
    still = await store.tracked.get(other.id)
    assert still is not None and still.card_ts is None
    assert {i.external_id for i in await store.tracked.due(clock.now())} == {"c9", "c10"}


async def test_recent_requests_carry_their_settings_but_not_their_rows(store: Store) -> None:
    rows = [{"phone_number": f"+1415555{i:04d}"} for i in range(3)]
    await store.batch_requests.create(
        "r1",
        payload=BatchPayload({"call_data": rows, "max_duration": 4, "label": "L"}),
        fingerprint="f",
        requester="U1",
        channel="C1",
        expires_at=FakeClock().now() + 100,
        call_count=3,
    )
    listed = await store.batch_requests.recent(5)
    assert [r.id for r in listed] == ["r1"] and listed[0].call_count == 3
    assert listed[0].payload == BatchPayload({"max_duration": 4, "label": "L"})
    full = await store.batch_requests.get("r1")
    assert full is not None and full.payload.rows == rows


async def test_replicas_starting_together_apply_each_migration_once() -> None:
    from tests.conftest import postgres_schema

    async with postgres_schema() as url:
        stores = await asyncio.gather(*(Store.open(url, FakeClock()) for _ in range(3)))
        try:
            rows = await stores[0].db.fetchall("SELECT version FROM schema_version ORDER BY version")
            newest = max(int(p.name.split("_")[0]) for p in MIGRATIONS.glob("*.sql"))
            assert [int(r[0]) for r in rows] == list(range(1, newest + 1))
            await stores[1].tracked.add(Kind.CALL, "c1", "C1", created_by="U1")
            assert await stores[2].tracked.find(Kind.CALL, "c1") is not None  # one database, shared
        finally:
            for opened in stores:
                await opened.close()


async def test_replicas_lease_each_due_item_to_one_of_them_and_take_over_a_dead_ones(
    database_url: str,
) -> None:
    clock = FakeClock()
    replicas = [await Store.open(database_url, clock) for _ in range(3)]
    try:
        for i in range(120):
            await replicas[0].tracked.add(Kind.CALL, f"c{i}", "C1", created_by="U1")
        claims = await asyncio.gather(
            *(r.tracked.claim_due(owner=f"r{n}", lease=60, limit=40) for n, r in enumerate(replicas))
        )
        claimed = [item.id for batch in claims for item in batch]
        assert len(claimed) == 120 and len(set(claimed)) == 120  # every item once, to one replica
        assert await replicas[1].tracked.claim_due(owner="r9", lease=60) == []  # all held
        # Replica 0 dies holding its leases; the others give theirs back after polling.
        held = {item.id for item in claims[0]}
        assert held and await replicas[0].tracked.leases("r0") == len(held)
        for n in (1, 2):
            for item in claims[n]:
                await replicas[n].tracked.release(item.id, f"r{n}")
        again = await replicas[1].tracked.claim_due(owner="r1", lease=60, limit=500)
        assert {item.id for item in again} == set(claimed) - held  # not the dead replica's, yet
        clock.advance(61)
        taken = await replicas[2].tracked.claim_due(owner="r2", lease=60, limit=500)
        assert held <= {item.id for item in taken}  # its leases lapsed: another replica has them
    finally:
        for store in replicas:
            await store.close()


async def test_one_replica_leads_periodic_work_until_it_stops_renewing(database_url: str) -> None:
    clock = FakeClock()
    a, b = await Store.open(database_url, clock), await Store.open(database_url, clock)
    try:
        turns = await asyncio.gather(
            *(s.chores.take_turn("chores", o, 60) for s, o in [(a, "A"), (b, "B")] * 5)
        )
        assert (
            turns.count(True) >= 1 and len({o for t, o in zip(turns, ["A", "B"] * 5, strict=True) if t}) == 1
        )
        leader, other = ("A", "B") if turns[0] else ("B", "A")
        stores = {"A": a, "B": b}
        clock.advance(30)
        assert await stores[leader].chores.take_turn("chores", leader, 60)  # it renews its own turn
        assert not await stores[other].chores.take_turn("chores", other, 60)
        clock.advance(61)  # the leader stopped (died): its turn lapses
        assert await stores[other].chores.take_turn("chores", other, 60)
        assert not await stores[leader].chores.take_turn("chores", leader, 60)
    finally:
        await a.close()
        await b.close()


async def test_replicas_spend_one_slack_budget_and_honour_one_hold(database_url: str) -> None:
    clock = FakeClock()
    # Three processes share PostgreSQL; SQLite is one process's, so there the three share its one store.
    shared = database_url.startswith("postgresql")
    opened = [await Store.open(database_url, clock) for _ in range(3 if shared else 1)]
    replicas = opened if shared else opened * 3
    try:
        # A bucket of 5 refilled at one a second: three replicas racing for 30 tokens get 5 between them.
        waits = await asyncio.gather(
            *(replicas[n % 3].slack_budget.take("chat.update", 1.0, 5.0) for n in range(30))
        )
        assert waits.count(0.0) == 5
        assert all(0 < w <= 1.0 for w in waits if w)  # the others learn when the next token comes
        clock.advance(2)
        refilled = [await replicas[n % 3].slack_budget.take("chat.update", 1.0, 5.0) for n in range(3)]
        assert refilled[:2] == [0.0, 0.0] and refilled[2] > 0  # two seconds bought two tokens
        assert await replicas[0].slack_budget.take("post:C1", 1.0, 5.0) == 0.0  # keys are separate
        # Slack said 429 with Retry-After: 30 to one replica: no replica spends on that key for 30 s.
        clock.advance(600)
        await replicas[1].slack_budget.hold("chat.update", 30)
        assert 29 <= await replicas[2].slack_budget.take("chat.update", 1.0, 5.0) <= 30
        await replicas[0].slack_budget.hold("chat.update", 5)  # a shorter hold does not cut it short
        clock.advance(20)
        assert 9 <= await replicas[0].slack_budget.take("chat.update", 1.0, 5.0) <= 10
        clock.advance(11)
        assert await replicas[0].slack_budget.take("chat.update", 1.0, 5.0) == 0.0
        # A replica whose clock is a little behind never moves the bucket back, nor gets tokens for it.
        behind = FakeClock(clock.now() - 0.5)
        late = Store(replicas[0].db, behind)
        spent = [await late.slack_budget.take("chat.update", 1.0, 5.0) for _ in range(6)]
        assert spent.count(0.0) == 4  # the 4 left in the bucket, and no more
    finally:
        for store in opened:
            await store.close()
