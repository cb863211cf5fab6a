"""APScheduler 3 lifecycle around the running loop: one tick job, a wake-up hook, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


class Scheduler:
    """Runs `tick` every `interval` seconds, never two at once; `wake()` runs one as soon as possible."""

    def __init__(self, tick: Callable[[], Awaitable[object]], interval: float) -> None:
        self._tick = tick
        self._interval = interval
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._again = False
        self._woken: set[asyncio.Task[None]] = set()
        self._stopping = False
        # Ticks asked for while one ran (a tick held up by a database that does not answer): said once when
        # it starts, once when it ends, with the count, not once per interval.
        self.skipped = 0
        self._skipping_since: float | None = None

    @property
    def running(self) -> bool:
        """Return whether the scheduler is started and not shutting down."""
        return self._scheduler is not None and self._scheduler.running and not self._stopping

    def start(self) -> None:
        """Start inside the running event loop."""
        self._scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        # The job only asks for a tick, so it never overlaps itself (APScheduler would log each overlap).
        self._scheduler.add_job(
            self.on_interval,
            "interval",
            seconds=self._interval,
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.start()

    async def on_interval(self) -> None:
        """The interval job: ask for a tick and return at once (a tick held up is counted, not overlapped)."""
        self.wake()

    async def run_tick(self) -> None:
        """Run the tick; if one is running, ask it to run once more when it ends."""
        if self._stopping:
            return
        if self._lock.locked():
            self._again = True
            self._note_skipped()
            return
        async with self._lock:
            started = time.monotonic()
            while True:
                self._again = False
                try:
                    await self._tick()
                except Exception:
                    log.exception("tick failed")
                if not self._again or self._stopping:
                    break
            self._note_resumed(started)

    def _note_skipped(self) -> None:
        self.skipped += 1
        if self._skipping_since is None:
            self._skipping_since = time.monotonic()
            log.warning("a tick is still running: the ticks asked for meanwhile wait for it (said once)")

    def _note_resumed(self, started: float) -> None:
        if self._skipping_since is None:
            return
        log.warning(
            "ticks resumed: the tick ran %.1f s, and %d asked for meanwhile ran as one after it",
            time.monotonic() - started,
            self.skipped,
        )
        self.skipped = 0
        self._skipping_since = None

    async def settle(self) -> None:
        """Wait for the ticks that wake() started."""
        while self._woken:
            await asyncio.gather(*list(self._woken))

    async def tick_now(self) -> object:
        """Run one tick now, after any tick in progress (never two at once); returns what it returned."""
        async with self._lock:
            return await self._tick()

    def wake(self) -> None:
        """Run a tick now (a webhook arrived, or new work was added)."""
        if self._stopping:
            return
        task = asyncio.get_running_loop().create_task(self.run_tick())
        self._woken.add(task)
        task.add_done_callback(self._woken.discard)

    async def shutdown(self) -> None:
        """Stop scheduling, let a running tick finish, then shut down."""
        self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()
        async with self._lock:  # waits for a tick in progress
            pass
        for task in list(self._woken):
            await task
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
