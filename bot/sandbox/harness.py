"""The bot in HTTP mode against the Bland simulator and the Slack stand-in, driven as Slack would.

Used by `blandbot demo`, the tests and the benchmarks. Every request is signed exactly as Slack signs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bot.clock import Clock, FakeClock, SystemClock
from bot.runtime import Runtime
from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator, SimClock
from bot.sandbox.bland_sim.state import plan_config
from bot.sandbox.slack_stub import SlackStub
from bot.settings import Settings

SIGNING_SECRET = "sandbox-signing-secret"
WEBHOOK_SECRET = "sandbox-webhook-secret"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
OPS_CHANNEL = "C0OPS"


class Sandbox:
    """Simulator + Slack stand-in + the real bot. `manual=True` freezes time for tests: use `advance`."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        manual: bool = True,
        speed: float = 60.0,
        seed: int = 7,
        public_webhooks: bool = False,
        scheduler: bool = False,
        start: float | None = None,
        bland_speaks: str = "both",
        **overrides: Any,
    ) -> None:
        self.db_path = str(db_path)
        self.manual = manual
        self.public_webhooks = public_webhooks
        self.use_scheduler = scheduler
        self.overrides = overrides
        self.seed = seed
        start = start if start is not None else time.time()
        self.sim = BlandSimulator(
            webhook_secret=WEBHOOK_SECRET,
            seed=seed,
            config=plan_config(str(overrides.get("bland_plan", "start"))),
            clock=SimClock(speed, manual=manual, start=start),
        )
        self.sim.config.batch_api = bland_speaks  # which batch API this Bland speaks: v1, v2 or both
        self.clock: Clock = FakeClock(start) if manual else SystemClock()
        self.slack = SlackStub(clock=self.clock)
        self.runtime: Runtime | None = None
        self.http = httpx.AsyncClient(timeout=30.0)
        self.base_url = ""

    # -- lifecycle -----------------------------------------------------------------------------

    def settings(self) -> Settings:
        """Return the bot's settings for this sandbox."""
        values: dict[str, Any] = {
            "slack_bot_token": self.slack.bot_token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": self.slack.api_url,
            "bland_api_key": self.sim.api_key,
            "bland_api_url": self.sim.url,
            "bland_webhook_secret": WEBHOOK_SECRET,
            "database_url": self.db_path if "://" in self.db_path else f"sqlite:///{self.db_path}",
            "host": "127.0.0.1",
            "port": 0,
            "poll_tick_seconds": 0.2 if not self.manual else 2,
            # Always inside calling hours unless a test or the demo says otherwise: the sandbox's clock starts
            # at the real time, and nothing may depend on the hour a test happens to run at.
            "calling_hours": "00:00-24:00",
            "calling_days": "Mon-Sun",
        }
        if self.manual:
            # Tests play minutes of traffic in moments: Bland's request budget must not pace them in real
            # seconds (its own tests drive it with a clock of their own).
            values["bland_max_rps"] = 1000
        values.update(self.overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start(self) -> Sandbox:
        """Start the simulator, the stand-in and the bot."""
        await self.sim.start()
        await self.slack.start()
        await self.start_bot()
        return self

    async def start_bot(self) -> None:
        """Start (or restart) the bot on the same database."""
        settings = self.settings()
        self.runtime = await Runtime.build(settings, clock=self.clock, rng=random.Random(self.seed))
        port = await self.runtime.start_http("127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{port}"
        if self.public_webhooks:
            settings = settings.model_copy(update={"public_url": self.base_url})
            self.runtime.deps.settings = settings
        if self.use_scheduler:
            self.runtime.start_scheduler()

    async def stop_bot(self) -> None:
        """Stop the bot the way SIGTERM does."""
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None

    async def restart(self) -> None:
        """Stop and start the bot on the same database (the simulator and stand-in keep running)."""
        await self.stop_bot()
        await self.start_bot()

    async def stop(self) -> None:
        """Stop everything."""
        await self.stop_bot()
        await self.slack.stop()
        await self.sim.stop()
        await self.http.aclose()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def bot(self) -> Runtime:
        """Return the running bot."""
        assert self.runtime is not None, "bot is not running"
        return self.runtime

    # -- acting as Slack -----------------------------------------------------------------------

    async def post_signed(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> httpx.Response:
        """POST a body to /slack/events, signed as Slack signs it (events come as JSON, the rest as forms)."""
        headers = sr.sign_headers(secret, body, timestamp) | {"Content-Type": content_type}
        return await self.http.post(f"{self.base_url}/slack/events", content=body, headers=headers)

    async def command(self, text: str, *, user: str = ALICE, channel: str = OPS_CHANNEL) -> httpx.Response:
        """Send `/bland <text>` and return the ack response."""
        body = sr.command_body(text, user=user, channel=channel, response_url=self.slack.response_url())
        return await self.post_signed(body)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = ALICE,
        channel: str = OPS_CHANNEL,
        message_ts: str | None = None,
    ) -> httpx.Response:
        """Click a button."""
        payload = sr.action_payload(
            action_id,
            value,
            user=user,
            channel=channel,
            message_ts=message_ts,
            response_url=self.slack.response_url(),
        )
        return await self.post_signed(sr.interactive_body(payload))

    async def open_home(self, user: str = ALICE) -> httpx.Response:
        """Send app_home_opened, as when a person opens the app's Home tab."""
        event = {"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home"}
        return await self.post_signed(sr.event_body(event), content_type="application/json")

    async def click_in_view(
        self, action_id: str, value: str, view: dict[str, Any], *, user: str = ALICE
    ) -> httpx.Response:
        """Click a button inside a view (the Home tab): no channel and no response_url, as Slack sends it."""
        payload = sr.action_payload(action_id, value, user=user, channel="", response_url="", view=view)
        payload.pop("response_url")
        return await self.post_signed(sr.interactive_body(payload))

    async def submit_view(
        self, view: dict[str, Any], inputs: dict[str, Any], *, user: str = ALICE
    ) -> httpx.Response:
        """Submit a modal as opened, with `inputs` ({block_id: value}) typed in."""
        payload = sr.view_submission_payload(view, inputs, user=user)
        return await self.post_signed(sr.interactive_body(payload))

    async def until(
        self, predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Wait until the bot's background work makes `predicate()` truthy (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.slack.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.slack.changed.wait(), timeout=0.05)

    async def idle(self) -> bool:
        """Return whether no listener work is running, nothing is tracked and nothing waits in the outbox.

        Listener work counts: a backfill posts its card before Bland names the workflow it tracks.
        """
        await self.settle_listeners()
        await self.bot.deps.outbox.drain()
        store = self.bot.deps.store
        return (
            await store.tracked.count_active() == 0
            and await store.outbox.count() == 0
            and not self._listeners()
        )

    # -- time ----------------------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Move simulated time (Bland's and the bot's) forward; webhooks that fall due are delivered."""
        if isinstance(self.clock, FakeClock):
            self.clock.advance(seconds)
        await self.sim.advance(seconds)
        if self.runtime is not None:
            self.runtime.deps.outbox.kick()  # deliveries put off until now may go

    def _listeners(self) -> set[asyncio.Task[Any]]:
        return {t for t in self.bot.deps.inflight if t is not asyncio.current_task()}

    async def settle_listeners(self) -> None:
        """Wait for listener work still running after its ack."""
        while pending := self._listeners():
            await asyncio.wait(pending)

    async def settle(self) -> None:
        """Wait for listener work still running after its ack, and for ticks that wake() started."""
        await self.settle_listeners()
        await self.bot.scheduler.settle()
        await self.bot.deps.outbox.drain()

    async def tick(self) -> int:
        """Run one poller tick now, once earlier work has settled; returns how many items were due."""
        await self.settle()
        due = await self.bot.scheduler.tick_now()
        await self.bot.deps.outbox.drain()
        return due if isinstance(due, int) else 0

    async def run_until_done(self, *, step: float = 15.0, max_steps: int = 80) -> None:
        """Advance time and tick until nothing is tracked any more."""
        for _ in range(max_steps):
            if await self.idle():
                return
            await self.advance(step)
            await self.tick()
        raise TimeoutError("tracked items did not finish")

    # -- reading what Slack would show -----------------------------------------------------------

    def last_response(self) -> dict[str, Any]:
        """Return the last response_url message."""
        return self.slack.responses[-1]

    def view(self) -> dict[str, Any]:
        """Return the last opened view."""
        return self.slack.last_view()

    async def modal_after(self, before: int, what: str = "the modal") -> dict[str, Any]:
        """Wait for a modal opened after `before` views to be ready (past any "loading" view), and return it."""

        def ready() -> dict[str, Any] | None:
            if len(self.slack.views) <= before:
                return None
            view = self.view()
            return view if view.get("callback_id") else None

        found: dict[str, Any] = await self.until(ready, what=what)
        return found

    def view_of(self, callback_id: str) -> dict[str, Any]:
        """Return the last opened view with this callback_id."""
        return next(
            v for v in reversed(list(self.slack.views.values())) if v.get("callback_id") == callback_id
        )

    def thread_text(self, channel: str, ts: str) -> str:
        """Return the text of every reply in a thread, blocks included, joined."""
        return "\n".join(
            block_text(m.blocks) or m.text for m in self.slack.channel_messages(channel, thread_ts=ts)
        )


def block_text(blocks: list[dict[str, Any]]) -> str:
    """Render Block Kit as plain text lines (what a reader would see)."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in {"section", "header"}:
            text = block.get("text") or {}
            if text.get("text"):
                lines.append(text["text"])
            for f in block.get("fields") or []:
                lines.append("  " + f.get("text", "").replace("\n", ": ", 1))
        elif kind == "context":
            lines.extend(e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict))
        elif kind == "actions":
            labels = [e.get("text", {}).get("text", "?") for e in block.get("elements", [])]
            lines.append(" ".join(f"[{label}]" for label in labels))
        elif kind == "divider":
            lines.append("────")
    return "\n".join(lines)


def response_json(response: httpx.Response) -> dict[str, Any]:
    """Return an ack response's JSON body ({} when empty)."""
    return json.loads(response.text) if response.text.strip() else {}


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return a message's buttons by their label."""
    return {
        e["text"]["text"]: e
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("type") == "button"
    }
