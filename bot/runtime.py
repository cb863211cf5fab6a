"""Build and run the whole bot: store, clients, scheduler, bolt app and web server."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from dataclasses import dataclass, field

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.app import create_app, create_web_app
from bot.bland.budget import BlandBudget
from bot.bland.client import BlandClient
from bot.clock import Clock, SystemClock
from bot.deps import Deps
from bot.errors import ConfigError
from bot.flows.batch_api import learn_at_start
from bot.flows.batches import housekeeping, remind
from bot.flows.calls import reconcile_calls, send_scheduled_calls
from bot.flows.digest import post_digest
from bot.flows.home import HomeRefresher
from bot.flows.notifications import explain_unreachable
from bot.flows.retention import apply_retention
from bot.metrics import Metrics
from bot.notifier import Notifier, make_slack_client
from bot.outbox import Outbox
from bot.permissions import Permissions
from bot.settings import Settings
from bot.store import Store
from bot.store.budget import RateBudgetRepo
from bot.store.outbox import OutboxRow
from bot.tracking.poller import Poller
from bot.tracking.scheduler import Scheduler
from bot.tracking.tracker import CardTracker, make_kinds
from bot.tracking.webhooks import handle_bland_webhook

log = logging.getLogger(__name__)

LISTENER_DRAIN_SECONDS = 15.0
# How long a thread runs Python before another may take the interpreter (the GIL): Python's default, 5 ms,
# lets a thread checking a 10,000-row CSV hold the event loop off for 5 ms at a time, tens of times while a
# /healthz or a Slack ack waits. At 0.2 ms the loop gets its turn at once (bench/loop_lag.py).
SWITCH_INTERVAL = 0.0002


@dataclass
class Runtime:
    settings: Settings
    deps: Deps
    bolt: AsyncApp
    poller: Poller
    scheduler: Scheduler
    web_app: web.Application
    _runner: web.AppRunner | None = None
    _socket: AsyncSocketModeHandler | None = None
    port: int | None = None
    _closed: bool = field(default=False)
    _watch: asyncio.Task[None] | None = None
    _slack_session: aiohttp.ClientSession | None = None

    @classmethod
    async def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        bland_http: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> Runtime:
        """Open the store and build every part; nothing is listening or scheduled yet."""
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN: required but not set")
        if settings.bland_api_key is None:
            raise ConfigError("BLAND_API_KEY: required but not set (or run `blandbot serve --simulate`)")
        if not settings.socket_mode and settings.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        clock = clock or SystemClock()
        sys.setswitchinterval(SWITCH_INTERVAL)
        store = await Store.open(
            settings.database_path,
            clock,
            erasure_key=settings.erasure_secret,
            pool_size=settings.database_pool_size,
        )
        # One pool of connections to Slack for the process (closed at shutdown).
        slack_session = aiohttp.ClientSession()
        slack = make_slack_client(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url, session=slack_session
        )
        metrics = Metrics()
        kinds = make_kinds()
        bland = BlandClient(
            settings.bland_api_url,
            settings.bland_api_key.get_secret_value(),
            http=bland_http,
            on_response=metrics.bland_response,
            # Real seconds, whatever clock the rest runs on: it paces real requests (bot/bland/budget.py).
            budget=BlandBudget(RateBudgetRepo(store.db, SystemClock()), settings.bland_max_rps),
        )
        rng = rng or random.Random()
        notifier = Notifier(slack, store, clock)
        # The outbox retries on its own terms (and looks before re-sending), so its client retries nothing.
        unretried = make_slack_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            retries=False,
            session=slack_session,
        )
        replica = settings.replica
        outbox = Outbox(
            store,
            Notifier(unretried, store, clock, owner=notifier.owner),
            clock,
            rng,
            metrics=metrics,
            owner=replica,
            lease=settings.lease_seconds,
            rate_scale=settings.slack_rate_scale,
            workspace_posts=settings.slack_workspace_posts_per_minute,
        )
        deps = Deps(
            replica=replica,
            settings=settings,
            bland=bland,
            store=store,
            notifier=notifier,
            outbox=outbox,
            permissions=Permissions(settings, slack, clock),
            clock=clock,
            tracker=CardTracker(kinds),
            metrics=metrics,
            rng=rng,
        )

        async def unreachable(row: OutboxRow, error: str) -> None:
            await explain_unreachable(deps, row.channel, row.topic or "", error)

        outbox.on_unreachable = unreachable
        outbox.start()
        poller = Poller(
            deps,
            list(kinds.values()),
            chores=[
                housekeeping,
                remind,
                reconcile_calls,
                send_scheduled_calls,
                post_digest,
                apply_retention,
            ],
        )
        homes = HomeRefresher(deps)

        async def tick() -> int:
            polled = await poller.tick()
            homes.flush()  # Home tabs whose changes waited out their gap
            return polled

        scheduler = Scheduler(tick, settings.poll_tick_seconds)
        deps.wake = scheduler.wake

        deps.refresh_homes = homes.request
        deps.poll_now = poller.poll_now
        bolt = create_app(deps)
        web_app = create_web_app(deps, bolt, scheduler=scheduler, webhook_handler=handle_bland_webhook)
        return cls(
            settings=settings,
            deps=deps,
            bolt=bolt,
            poller=poller,
            scheduler=scheduler,
            web_app=web_app,
            _slack_session=slack_session,
        )

    def start_scheduler(self) -> None:
        """Start polling (inside the running loop), and learn which batch API Bland speaks."""
        self.scheduler.start()
        self.learn_batch_api()

    def learn_batch_api(self) -> None:
        """Ask Bland which batch API it speaks, in the background (BLAND_BATCH_API=auto, not yet known)."""
        task = asyncio.create_task(learn_at_start(self.deps))
        self.deps.inflight.add(task)
        task.add_done_callback(self.deps.inflight.discard)

    async def start_http(self, host: str | None = None, port: int | None = None) -> int:
        """Listen for Slack, Bland webhooks and health checks; returns the bound port."""
        self._runner = web.AppRunner(self.web_app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, host or self.settings.host, self.settings.port if port is None else port
        )
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if self._watch is None:
            self._watch = asyncio.create_task(self.deps.metrics.watch_loop(), name="loop-lag")
        return self.port

    async def start_socket_mode(self) -> None:
        """Connect to Slack over Socket Mode (the web server still serves /healthz and webhooks)."""
        assert self.settings.slack_app_token is not None
        self._socket = AsyncSocketModeHandler(
            self.bolt, self.settings.slack_app_token.get_secret_value(), web_client=self.deps.notifier.client
        )
        await self._socket.connect_async()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Stop accepting, let a running tick finish, close clients and the database."""
        if self._closed:
            return
        self._closed = True
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()
        if self._watch is not None:
            self._watch.cancel()
        self.poller.stop()  # first: reads waiting for a webhook gap end now, not after it
        pending = {task for task in self.deps.inflight if task is not asyncio.current_task()}
        if pending:
            log.info("waiting for %d listener(s) to finish", len(pending))
            await asyncio.wait(pending, timeout=LISTENER_DRAIN_SECONDS)
        await self.scheduler.shutdown()
        await self.deps.outbox.stop()
        await self.deps.notifier.aclose()
        if self._slack_session is not None:
            await self._slack_session.close()
        await self.deps.bland.aclose()
        await self.deps.store.close()
