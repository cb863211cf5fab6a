"""The unit of work on both databases: a change, what it tells and its audit row commit together or not at
all; the work that follows a commit happens once, after it; nothing hands a connection around."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain import AuditAction, AuditOutcome, CallRequestState, RequestState, Topic
from bot.payloads import BatchPayload
from bot.sandbox.harness import ALICE, Sandbox
from bot.store.outbox import Delivery
from bot.unit import Event

pytestmark = pytest.mark.usefixtures("database_url")  # every test here runs on each database


async def pending_request(box: Sandbox, request_id: str = "r1") -> None:
    await box.bot.deps.store.batch_requests.create(
        request_id, payload=BatchPayload({}), fingerprint="f", requester=ALICE, channel="C1", expires_at=1e12
    )


async def audit_actions(box: Sandbox) -> list[str]:
    return [entry.action for entry in await box.bot.deps.store.audit.since(0)]


class Boom(Exception):
    pass


async def test_a_move_its_messages_and_its_audit_row_commit_together(box: Sandbox) -> None:
    deps = box.bot.deps
    await pending_request(box)
    async with deps.unit() as u:
        moved = await u.move(
            deps.store.batch_requests, "r1", RequestState.PENDING, RequestState.APPROVED, approver="U2"
        )
        assert moved is not None and moved.state is RequestState.APPROVED and moved.approver == "U2"
        await u.deliver(Delivery(key="k1", channel="C1", text="approved"))
        await u.audit(
            actor="U2", action=AuditAction.BATCH_APPROVE, outcome=AuditOutcome.APPROVED, target="r1"
        )
    assert await deps.store.outbox.count() == 1
    assert await audit_actions(box) == [AuditAction.BATCH_APPROVE]
    again = await deps.store.batch_requests.move("r1", RequestState.PENDING, RequestState.APPROVED)
    assert again is None  # another caller's move of the same row finds it moved


async def test_a_unit_that_fails_leaves_nothing_behind_and_wakes_nobody(box: Sandbox) -> None:
    deps = box.bot.deps
    await pending_request(box)
    woken: list[str] = []
    deps.wake = lambda: woken.append("tick")
    with pytest.raises(Boom):
        async with deps.unit() as u:
            await u.move(deps.store.batch_requests, "r1", RequestState.PENDING, RequestState.APPROVED)
            await u.deliver(Delivery(key="k1", channel="C1", text="approved"))
            await u.audit(actor="U2", action=AuditAction.BATCH_APPROVE, outcome=AuditOutcome.APPROVED)
            u.wake()
            raise Boom
    request = await deps.store.batch_requests.get("r1")
    assert request is not None and request.state is RequestState.PENDING
    assert await deps.store.outbox.count() == 0
    assert await audit_actions(box) == []
    assert woken == []


async def test_nested_units_are_one_and_follow_their_commit_once(box: Sandbox) -> None:
    deps = box.bot.deps
    woken: list[str] = []
    refreshed: list[set[str] | None] = []
    deps.wake = lambda: woken.append("tick")

    async def refresh(users: set[str] | None) -> None:
        refreshed.append(users)

    deps.refresh_homes = refresh
    async with deps.unit() as outer:
        async with deps.unit() as inner:
            assert inner is outer
            inner.wake()
            await inner.announce(Event(key="e1", topic=Topic.CALLS, text="one", requester="U1"))
        assert woken == []  # nothing follows until the outermost unit commits
        outer.wake()
        await outer.announce(Event(key="e2", topic=Topic.CALLS, text="two", requester="U2"))
    assert woken == ["tick"]
    assert refreshed == [{"U1", "U2"}]


async def test_a_write_inside_a_transaction_joins_it_without_being_handed_a_connection(box: Sandbox) -> None:
    """SQLite used to deadlock here (its lock is not reentrant); PostgreSQL routed it by a contextvar."""
    deps = box.bot.deps
    with pytest.raises(Boom):
        async with asyncio.timeout(10), deps.store.db.transaction():
            await deps.store.subscriptions.add("C1", Topic.CALLS, "U1")
            await deps.store.outbox.add(
                [Delivery(key="k", channel="C1", text="t")]
            )  # its own transaction, joined
            raise Boom
    assert await deps.store.subscriptions.channels_for(Topic.CALLS) == []
    assert await deps.store.outbox.count() == 0


async def test_a_task_started_inside_a_transaction_does_not_write_into_it(box: Sandbox) -> None:
    deps = box.bot.deps
    started = asyncio.Event()

    async def elsewhere() -> None:
        started.set()
        await deps.store.subscriptions.add("C2", Topic.CALLS, "U1")  # waits for the transaction, then its own

    with pytest.raises(Boom):
        async with deps.store.db.transaction():
            task = asyncio.get_running_loop().create_task(elsewhere())
            await started.wait()
            raise Boom
    await task
    assert await deps.store.subscriptions.channels_for(Topic.CALLS) == ["C2"]


async def test_the_store_refuses_moves_outside_a_state_table(box: Sandbox) -> None:
    deps = box.bot.deps
    with pytest.raises(ValueError, match="no transition"):
        await deps.store.call_requests.move("c1", CallRequestState.SENT, CallRequestState.SENDING)
    with pytest.raises(ValueError, match="no transition"):
        await deps.store.batch_requests.move("r1", RequestState.SENT, RequestState.PENDING)
