"""kill -9 at each step of a call's and a batch's life, then restart on the same database.

The real `blandbot serve` process talks to the Slack stand-in and the Bland simulator. A hold keeps one
request open at the chosen step (before the service acts on it, or after it acted but before the bot
heard back); the test kills the bot there, lets the request go, and restarts the bot. Whatever the step:
every result is posted exactly once, in its thread; no call is dialled twice and no batch sent twice;
what could not be known (a call Bland never received) is said to the person, not lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.harness import block_text
from bot.sandbox.holds import Hold
from bot.sandbox.slack_stub import SlackStub, StubMessage
from tests.helpers import card_text
from tests.processes import BotProcess, approve_body, next_request, until_seen

pytestmark = pytest.mark.slow  # the bot as a process: `pytest -m "not slow"` leaves these out

ALICE, BOB = "U0ALICE", "U0BOB"
OPS, NOTIFY, APPROVALS = "C0OPS", "C0NOTIFY", "C0APPROVE"
ALICE_DM = "D" + ALICE
NUMBER = "+14155550123"
PROMPT = "Hi {{name}}, this is Acme calling about your {{plan}} renewal."
RECIPIENTS = "Phone,name,plan\n+14155550100,Ada,gold\n+14155550101,Grace,silver\n"


@dataclass
class World:
    stub: SlackStub
    sim: BlandSimulator
    bot: BotProcess
    sent: list[asyncio.Task[Any]]

    def act(self, body: str) -> None:
        """Send a signed Slack request without waiting for its answer (a kill may cut it off)."""
        self.sent.append(asyncio.create_task(self.bot.signed(body)))


@pytest.fixture
async def world(tmp_path: Path, services: tuple[SlackStub, BlandSimulator]) -> AsyncIterator[World]:
    stub, sim = services
    sim.clock.speed = 1.0  # calls stay live until the test advances Bland's clock
    bot = BotProcess(
        stub,
        sim,
        tmp_path,
        POLL_TICK_SECONDS="0.1",
        CALL_POLL_SECONDS="0.2",
        BATCH_POLL_SECONDS="0.2",
        SEND_STUCK_SECONDS="0.5",
        NOTIFY_CHANNEL=NOTIFY,
        APPROVER_USERS=BOB,
        APPROVAL_CHANNEL=APPROVALS,
        # No plan caps to count: every request to Bland here is one a kill point is about.
        BLAND_PLAN="enterprise",
        COST_PER_MINUTE="0.14",
    )
    w = World(stub, sim, bot, [])
    yield w
    for task in w.sent:
        task.cancel()
    await asyncio.gather(*w.sent, return_exceptions=True)
    await bot.close()


async def until(w: World, predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Wait, bounded, until the bot's requests into the stand-ins make `predicate()` truthy."""
    return await until_seen(w.stub, w.sim, predicate, what, timeout)


async def quiet(w: World) -> None:
    """Wait until the bot tracks nothing and its outbox is empty: nothing more will be posted.

    Asked again after each request the bot makes (the last one may be the card update that emptied it).
    """
    deadline = time.monotonic() + 30
    while True:
        health = await w.bot.health()
        if health["tracked"] == 0 and health["outbox"] == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot never settled: {health}")
        await next_request(w.stub, w.sim, timeout=1.0)


def texts(stub: SlackStub, channel: str, needle: str) -> list[StubMessage]:
    """Top-level messages of a channel whose text contains `needle`."""
    return [m for m in stub.channel_messages(channel) if needle in m.text]


def assert_clean_log(bot: BotProcess) -> None:
    log = bot.log()
    assert "Traceback" not in log, log[-3000:]


# -- calls ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    name: str
    service: str  # "slack" or "bland"
    route: str
    after: bool
    channel: str | None = None
    phase: str = "start"  # armed before the work starts, or (for calls and batches) before it ends


def arm(w: World, point: Point) -> Hold:
    if point.service == "bland":
        return w.sim.hold_next(point.route, after=point.after)
    return w.stub.hold_next(point.route, after=point.after, channel=point.channel)


CALL_POINTS = [
    Point("before Bland takes the call", "bland", "calls.send", after=False),
    Point("after Bland took the call, before the bot heard", "bland", "calls.send", after=True),
    Point("before Slack takes the card", "slack", "chat.postMessage", after=False, channel=OPS),
    Point("after Slack took the card, before the bot heard", "slack", "chat.postMessage", True, OPS),
    Point("after Bland answered the first poll", "bland", "calls.get", after=True),
    Point("after Bland answered the poll that sees the end", "bland", "calls.get", True, phase="end"),
    Point("before Slack takes the result", "slack", "chat.postMessage", False, OPS, "end"),
    Point("after Slack took the result, before the bot heard", "slack", "chat.postMessage", True, OPS, "end"),
    Point("before Slack updates the card", "slack", "chat.update", False, OPS, "end"),
    Point("after Slack updated the card", "slack", "chat.update", True, OPS, "end"),
    Point("before Slack takes the notification", "slack", "chat.postMessage", False, NOTIFY, "end"),
    Point("after Slack took the notification", "slack", "chat.postMessage", True, NOTIFY, "end"),
    Point("before Slack opens the DM", "slack", "conversations.open", False, phase="end"),
    Point("before Slack takes the DM", "slack", "chat.postMessage", False, ALICE_DM, "end"),
    Point("after Slack took the DM", "slack", "chat.postMessage", True, ALICE_DM, "end"),
]


async def place_call(w: World) -> None:
    before = len(w.stub.views)
    w.act(
        sr.command_body(f"call {NUMBER} Say hi", user=ALICE, channel=OPS, response_url=w.stub.response_url())
    )

    def opened() -> dict[str, Any] | None:
        view = w.stub.last_view() if len(w.stub.views) > before else None
        return view if view and view.get("callback_id") else None

    view = await until(w, opened, "the call modal")
    w.act(sr.interactive_body(sr.view_submission_payload(view, {}, user=ALICE)))


async def call_under_way(w: World) -> StubMessage:
    """Place a call and wait until its card is up and Bland has been polled for it once."""
    await place_call(w)
    cards = await until(w, lambda: texts(w.stub, OPS, "Call to"), "the card")
    mark = len(w.sim.requests)
    # Followed: read on its own, or seen in the list sweep (which may put its own read off while the call
    # stays as its card shows it).
    await until(
        w,
        lambda: any(route in ("calls.get", "calls.list") for route, _, _ in w.sim.requests[mark:]),
        "the bot following the call",
    )
    return cards[0]  # type: ignore[no-any-return]


def assert_call_reported_once(w: World) -> None:
    cards = texts(w.stub, OPS, "Call to")
    assert len(cards) == 1, [m.text for m in w.stub.channel_messages(OPS)]
    replies = w.stub.channel_messages(OPS, thread_ts=cards[0].ts)
    assert len(replies) == 1 and "Call result" in json.dumps(replies[0].blocks), replies
    card = w.stub.message(OPS, cards[0].ts)
    assert card is not None and "completed" in block_text(card.blocks).lower()
    assert len(w.stub.channel_messages(OPS)) == 1  # nothing outside the thread
    assert len(texts(w.stub, NOTIFY, "Call to")) == 1
    assert len(texts(w.stub, ALICE_DM, "completed. The results are in its thread")) == 1
    assert w.sim.count("calls.send") == 1 and len(w.sim.calls) == 1  # dialled once


@pytest.mark.parametrize("point", CALL_POINTS, ids=lambda p: p.name)
async def test_a_call_killed_at_any_step_is_reported_exactly_once(world: World, point: Point) -> None:
    w = world
    await w.bot.start()
    if point.phase == "end":
        await call_under_way(w)
    hold = arm(w, point)
    if point.phase == "end":
        w.sim.clock.advance(3600)  # the call ends; the next poll reports it
    else:
        await place_call(w)
    await hold.wait_reached()
    await w.bot.kill()
    hold.released.set()
    w.sim.clock.advance(3600)  # whatever was under way ends while the bot is down
    await w.bot.start()
    if point.route == "calls.send" and not point.after:
        # Bland never got the call: the person hears so once the bot has looked for it.
        await until(w, lambda: texts(w.stub, ALICE_DM, "was not placed"), "the not-placed DM")
        await quiet(w)
        await w.bot.stop()
        assert w.sim.calls == {} and w.sim.count("calls.send") == 1  # never dialled again
        assert texts(w.stub, OPS, "Call to") == []
        assert len(texts(w.stub, ALICE_DM, "was not placed")) == 1
    else:
        await until(w, lambda: texts(w.stub, ALICE_DM, "completed. The results"), "the completion DM")
        await quiet(w)
        await w.bot.stop()
        assert_call_reported_once(w)
    assert_clean_log(w.bot)


async def killed_while_its_result_is_refused(w: World) -> StubMessage:
    """A call ends; Slack answers its result post 429; the bot is killed while it waits out Retry-After.
    Returns the call's card."""
    await w.bot.start()
    card = await call_under_way(w)
    w.stub.fail_next("chat.postMessage", status=429, retry_after=1, channel=OPS)
    w.sim.clock.advance(3600)
    await until(
        w,
        lambda: [c for c in w.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == card.ts],
        "the refused result post",
    )
    await w.bot.kill()
    return card


@pytest.mark.parametrize(
    ("status", "error"),
    [(200, "missing_scope"), (404, "unknown_method"), (500, "internal_error")],
    ids=["history scope removed", "look-up method unknown", "look-up fails for a while"],
)
async def test_a_result_whose_look_up_fails_after_a_restart_is_still_posted_once(
    world: World, status: int, error: str
) -> None:
    w = world
    card = await killed_while_its_result_is_refused(
        w
    )  # in doubt: the restarted bot looks in the thread first…
    w.stub.fail_next("conversations.replies", status=status, retry_after=None, error=error, count=3)
    await w.bot.start()  # …and that look-up fails
    await until(w, lambda: texts(w.stub, ALICE_DM, "completed. The results"), "the completion DM")
    await until(w, lambda: w.stub.channel_messages(OPS, thread_ts=card.ts), "the result in its thread")
    await quiet(w)
    await w.bot.stop()
    assert_call_reported_once(w)
    assert "dropped" not in w.bot.log()
    if status < 500:  # the history cannot be read: sent anyway, and the log says a double is possible
        assert "it may show twice" in w.bot.log()
    assert_clean_log(w.bot)


async def test_a_call_killed_while_slack_holds_its_result_with_429_is_reported_once(world: World) -> None:
    w = world
    await killed_while_its_result_is_refused(w)
    await w.bot.start()
    await until(w, lambda: texts(w.stub, ALICE_DM, "completed. The results"), "the completion DM")
    await quiet(w)
    await w.bot.stop()
    assert_call_reported_once(w)
    assert_clean_log(w.bot)


# -- batches -------------------------------------------------------------------------------------

BATCH_POINTS = [
    Point("before Slack takes the approval card", "slack", "chat.postMessage", False, APPROVALS),
    Point("after Slack took the approval card", "slack", "chat.postMessage", True, APPROVALS),
    Point("before Bland takes the batch", "bland", "batches.send", False, phase="approve"),
    Point("after Bland took the batch, before the bot heard", "bland", "batches.send", True, phase="approve"),
    Point("before Slack updates the approval card", "slack", "chat.update", False, APPROVALS, "approve"),
    Point(
        "after Slack showed the batch on the approval card",
        "slack",
        "chat.update",
        True,
        APPROVALS,
        "approve",
    ),
    Point("after Bland answered the poll that sees the end", "bland", "batches.get", True, phase="end"),
    Point("after Slack took the summary", "slack", "chat.postMessage", True, APPROVALS, "end"),
    Point("after Slack shared the CSV", "slack", "files.completeUploadExternal", True, phase="end"),
    Point("before Slack takes the requester's DM", "slack", "chat.postMessage", False, ALICE_DM, "end"),
]


async def request_batch(w: World) -> None:
    before = len(w.stub.views)
    w.act(sr.command_body("batch", user=ALICE, channel=OPS, response_url=w.stub.response_url()))

    def opened() -> dict[str, Any] | None:
        view = w.stub.last_view() if len(w.stub.views) > before else None
        return view if view and view.get("callback_id") == "request_batch" else None

    view = await until(w, opened, "the batch modal")
    fields = {"batch_label": "Renewals", "base_prompt": PROMPT, "recipients_text": RECIPIENTS}
    w.act(sr.interactive_body(sr.view_submission_payload(view, fields, user=ALICE)))


def approval_cards(w: World) -> list[StubMessage]:
    return texts(w.stub, APPROVALS, "Renewals")


def approve(w: World, card: StubMessage) -> None:
    w.act(approve_body(w.stub, card, BOB))


def batch_polls(w: World) -> int:
    """Progress reads of the batch that are over: v1's one read of the batch; v2's read of its calls, then
    of its logs, the poll's last read of Bland while no call has ended (Bland keeps no progress on a v2
    batch)."""
    return w.sim.count("batches.logs" if w.sim.config.batch_api == "v2" else "batches.get")


@pytest.mark.parametrize("point", BATCH_POINTS, ids=lambda p: p.name)
async def test_a_batch_killed_at_any_step_is_sent_at_most_once_and_reported_once(
    world: World, point: Point, batch_api: str
) -> None:
    w = world
    w.sim.config.batch_api = batch_api  # a Bland that speaks only this batch API
    if batch_api == "v2" and point.route == "batches.get":
        point = replace(point, route="calls.list")  # v2's progress read is the call list
    await w.bot.start()
    hold = arm(w, point) if point.phase == "start" else None
    await request_batch(w)
    if hold is None:
        card = (await until(w, lambda: approval_cards(w), "the approval card"))[0]
        if point.phase == "approve":
            hold = arm(w, point)
        approve(w, card)
        if point.phase == "end":
            await until(
                w, lambda: "[Stop batch]" in card_text(w.stub, card), "the batch on the approval card"
            )
            await until(w, lambda: batch_polls(w) >= 1, "a first poll")
            hold = arm(w, point)
            w.sim.clock.advance(3600)  # every call of the batch ends
    assert hold is not None
    try:
        await hold.wait_reached()
    except TimeoutError:
        raise
    await w.bot.kill()
    hold.released.set()
    await w.bot.start()
    card = (await until(w, lambda: approval_cards(w), "the approval card"))[0]
    if point.phase == "start":
        approve(w, card)
    if point.route == "batches.send" and not point.after:
        # Bland never got it: the bot says the outcome is unknown and looks; it never sends it again.
        await until(w, lambda: "did not answer clearly" in card_text(w.stub, card), "the card to say so")
        await quiet(w)
        await w.bot.stop()
        assert w.sim.batches == {} and w.sim.count("batches.send") == 1
        assert len(approval_cards(w)) == 1
        thread = w.stub.channel_messages(APPROVALS, thread_ts=card.ts)
        assert len([m for m in thread if "shows no batch for this request yet" in m.text]) == 1
    else:
        await until(w, lambda: w.sim.batches, "the batch")
        w.sim.clock.advance(3600)
        await until(
            w, lambda: texts(w.stub, ALICE_DM, "Your batch *Renewals* completed"), "the completion DM"
        )
        await quiet(w)
        await w.bot.stop()
        assert_batch_reported_once(w, card)
    assert_clean_log(w.bot)


def assert_batch_reported_once(w: World, card: StubMessage) -> None:
    assert len(approval_cards(w)) == 1, [m.text for m in w.stub.channel_messages(APPROVALS)]
    assert w.sim.count("batches.send") == 1 and len(w.sim.batches) == 1  # sent once
    shown = card_text(w.stub, card)
    assert "[Approve]" not in shown and f"<@{BOB}>" in shown  # the card shows the decision
    thread = w.stub.channel_messages(APPROVALS, thread_ts=card.ts)
    keys = sorted(
        str((m.metadata or {}).get("event_payload", {}).get("key", "")).split(":")[-1] for m in thread
    )
    # The summary, once (and, after a lost answer, what reconciliation found): the batch's progress is on
    # the approval card itself, which ends with the final tally and no Stop button.
    assert len(keys) == len(set(keys)) and {"summary"} <= set(keys) <= {"summary", "reconciled"}
    assert (
        "Completed" in shown and "*2 calls: " in shown and " · cost " in shown and "[Stop batch]" not in shown
    )
    assert len(w.stub.files_in(APPROVALS, card.ts)) == 1  # the CSV, once
    assert len(texts(w.stub, ALICE_DM, "Your batch *Renewals* completed")) == 1
    assert len(texts(w.stub, ALICE_DM, "was approved by")) == 1
