"""Requests held open, so a test can kill the bot at an exact step of its work.

A hold on a route is taken by the next request that matches it. `before` holds it as it arrives, as if it
were still on its way: released, it is answered 503 and has done nothing. `after` lets the service do the
work (the message is posted, the call placed), then holds the answer, as if the reply were lost on the
way back. `reached` tells the test the bot is now waiting at that step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Hold:
    route: str
    after: bool
    channel: str | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_reached(self, timeout: float = 15.0) -> None:
        """Wait until a request is held here."""
        async with asyncio.timeout(timeout):
            await self.reached.wait()


class Holds:
    """The holds a stand-in applies, in the order they were added."""

    def __init__(self) -> None:
        self._pending: list[Hold] = []
        self._taken: list[Hold] = []

    def add(self, route: str, *, after: bool = False, channel: str | None = None) -> Hold:
        """Hold the next request of `route` (for `channel`, when given)."""
        hold = Hold(route, after, channel)
        self._pending.append(hold)
        return hold

    def take(self, route: str, channel: str | None) -> Hold | None:
        """Return (and use up) the hold the request matches, if any."""
        for hold in self._pending:
            if hold.route == route and hold.channel in (None, channel):
                self._pending.remove(hold)
                self._taken.append(hold)
                return hold
        return None

    async def hold(self, hold: Hold) -> None:
        """Say the request is held and wait until the test lets it go."""
        hold.reached.set()
        await hold.released.wait()

    def release_all(self) -> None:
        """Let every held request go (a stand-in does this before it stops)."""
        for hold in self._taken:
            hold.released.set()
        self._pending.clear()
