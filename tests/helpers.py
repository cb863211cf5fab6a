"""Helpers shared by tests that read what the Slack stand-in shows (in-process or with the bot as a process)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.sandbox.harness import Sandbox, block_text
from bot.sandbox.slack_stub import SlackStub, StubMessage

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_id_of(card: StubMessage) -> str:
    """Read a batch request's id off its approval card (its context line; the buttons go once decided)."""
    found = re.search(r"Request `([0-9a-f]+)`", block_text(card.blocks))
    assert found, block_text(card.blocks)
    return found.group(1)


def card_text(slack: SlackStub, card: StubMessage) -> str:
    """The text a card shows now (it is edited in place)."""
    current = slack.message(card.channel, card.ts)
    assert current is not None, f"no message {card.ts} in {card.channel}"
    return block_text(current.blocks)


def speaks_v2(box: Sandbox) -> bool:
    """Whether the box's batches go by v2: its Bland speaks v2 only, or both (then the bot picks v2)."""
    return box.sim.config.batch_api != "v1"  # "both": the bot asks, and uses v2


def batch_list_reads(box: Sandbox) -> int:
    """Reads of Bland's batch list, not counting the one-row read that asks which batch API it speaks."""
    return sum(
        1 for route, _, path in box.sim.requests if route == "batches.list" and "take=1&" not in path + "&"
    )


@contextlib.asynccontextmanager
async def answering(handler: Handler) -> AsyncIterator[str]:
    """A server on 127.0.0.1:0 answering every request with `handler`; yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
