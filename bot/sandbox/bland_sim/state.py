"""The simulator's state: simulated time, its knobs, faults, calls, and what every resource shares."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from aiohttp import web

from bot.caps import PLAN_CAPS
from bot.pricing import RATES, Plan
from bot.sandbox.holds import Holds

log = logging.getLogger(__name__)


DEFAULT_KEY = "sim-key"
DEFAULT_WEBHOOK_SECRET = "sim-webhook-secret"
ERROR_STATUSES = {"queue_error", "call_error"}
LENGTH_BUCKETS = [(0, 5), (5, 10), (10, 15), (15, 20), (20, 30), (30, 45), (45, 60), (60, 90), (90, 120)]


class SimClock:
    """Simulated seconds: real time × speed, or moved by hand when `manual`."""

    def __init__(self, speed: float = 60.0, *, manual: bool = False, start: float | None = None) -> None:
        self.speed = speed
        self.manual = manual
        self._origin_real = time.monotonic()
        self._origin_sim = start if start is not None else time.time()
        self._offset = 0.0

    def now(self) -> float:
        """Return simulated epoch seconds."""
        if self.manual:
            return self._origin_sim + self._offset
        return self._origin_sim + (time.monotonic() - self._origin_real) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward."""
        self._offset += seconds

    def set_speed(self, speed: float) -> None:
        """Run at a new pace from now on (0 stops time), without a jump."""
        self._origin_sim = self.now() - self._offset
        self._origin_real = time.monotonic()
        self.speed = speed

    def monotonic_at(self, sim_ts: float) -> float:
        """Return the time.monotonic() at which the simulated moment `sim_ts` happens (not in manual mode)."""
        return self._origin_real + (sim_ts - self._origin_sim - self._offset) / self.speed


def iso(ts: float) -> str:
    """Format simulated seconds like Bland does (+00:00, microseconds)."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass
class SimConfig:
    """Knobs for how calls turn out. Change at runtime with POST /_sim/config."""

    answered_by_mix: dict[str, float] = field(
        default_factory=lambda: {"human": 0.7, "voicemail": 0.2, "no-answer": 0.05, "unknown": 0.05}
    )
    error_rate: float = 0.0
    talk_seconds: float | None = None
    queue_seconds: float = 3.0
    ring_seconds: float = 5.0
    summary_delay: float = 0.0
    batch_dispatch_per_second: float = 20.0
    extraction_failure_rate: float = 0.0
    backfill_seconds: float = 20.0
    next_workflow_outcome: str | None = None
    enterprise: bool = True
    # What a call costs (USD): the Start plan's rate a connected minute, at least the per-attempt minimum.
    price_per_minute: float = 0.14
    minimum_charge: float = 0.015
    # The account's balance before any call (USD), and its auto-refill target (None: no refill).
    balance: float = 250.0
    refill_to: float | None = None
    # Whether `GET /v1/recordings/{id}` exists (today's documents); false plays an older Bland, which has only
    # `GET /v1/calls/{id}/recording` (a link) and the call's `recording_url`.
    recordings_route: bool = True
    # Whether answered_by is filled only for calls sent with answered_by_enabled (the original documents);
    # today's documents fill it on every call.
    answered_by_needs_flag: bool = False
    # Which batch API this Bland speaks: "v1" (/v1/batches, the original documents), "v2" (/v2/batches,
    # today's documents) or "both"; the other's routes answer 404.
    batch_api: str = "both"
    list_schemas_endpoint: bool = True
    # The plan's caps (docs/bland.md, "Prices and plans"): calls a day (UTC), in any 60 minutes, and at once.
    # A call past one is rejected: a single call answers 429, a batch's call fails. None: no cap.
    daily_cap: int | None = None
    hourly_cap: int | None = None
    concurrent_cap: int | None = None
    # Bland refuses a call to a number it was asked to call less than this long ago (429, "Calls").
    same_number_seconds: float = 10.0
    # Play a Bland that takes only what its documents describe today: Send Call's schema is strict
    # ("Additional properties are not allowed"), and keys the documents dropped (answered_by_enabled,
    # analysis_schema) are refused with it. That they are refused is this simulator's reading; the
    # documents only say they are gone. False: the original documents' keys are taken too.
    documented_keys_only: bool = False
    # Whether GET /v1/calls sends total_count (documented in the table, absent from the example); None: either.
    list_total_count: bool | None = None
    # Whether a stopped batch ever reports `completed` (the documents never say); None: either.
    stopped_batch_completes: bool | None = None
    # Where the documents disagree on a shape, show each call in one form or the other (seeded); False
    # shows the first form everywhere. Never changes what happens, only how it is written.
    vary_forms: bool = True
    # Fields Bland's documents do not promise, for people trying the bot by hand (a call's `task`): off
    # in every test of a flow.
    convenience_fields: bool = False
    # What the callees say, for the analysis and citation variables named here (e.g. {"opt_out": True}):
    # a test's script.
    analysis_answers: dict[str, Any] = field(default_factory=dict)


def plan_config(plan: str, **knobs: Any) -> SimConfig:
    """A simulator playing an account on `plan`: its per-minute price and its caps (enterprise: the Start
    price, as contracts differ, and no caps)."""
    caps = PLAN_CAPS.get(Plan(plan), (None, None, None))
    return SimConfig(
        price_per_minute=RATES.get(Plan(plan), RATES[Plan.START]),
        daily_cap=caps[0],
        hourly_cap=caps[1],
        concurrent_cap=caps[2],
        **knobs,
    )


# lost: the request is carried out, then answered 504, as when a reply is lost on the way back.
FAULT_KINDS = frozenset({"429", "500", "slow", "malformed", "timeout", "lost", "cut"})


@dataclass
class Fault:
    kind: str  # one of FAULT_KINDS
    remaining: int
    retry_after: float | None = 1.0
    delay: float = 2.0


@dataclass
class SimCall:
    call_id: str
    to: str
    payload: dict[str, Any]
    created_at: float
    queue_at: float
    start_at: float
    end_at: float
    answered_by: str
    outcome: str  # complete | queue_error | call_error
    error_message: str | None = None
    batch_id: str | None = None
    stopped_at: float | None = None
    webhook_sent: bool = False
    webhook_sent_at: float | None = None  # time.monotonic() just before the webhook POST (benchmarks)
    turns: list[tuple[str, str]] = field(default_factory=list)
    analysis: dict[str, Any] | None = None
    citations: list[dict[str, Any]] | None = None
    citation_variables: dict[str, Any] = field(default_factory=dict)
    # Which of the documents' disagreeing forms this call is shown in (drawn from SimState.forms):
    said_completed: bool = (
        False  # queue_status `completed` (the call-details example) or `complete` (the table)
    )
    bare_to: bool = False  # `to` without `+1` (the list and batch examples) or in E.164 (the call example)
    answered_by_list: bool = (
        False  # a batch row's answered_by as an array (its table) or a string (its example)
    )

    def effective_end(self) -> float:
        """Return when the call ended (or will), stops included."""
        return min(self.end_at, self.stopped_at) if self.stopped_at is not None else self.end_at

    def queue_status(self, now: float) -> str:
        """Return the lifecycle stage at `now`."""
        if self.stopped_at is not None and now >= self.stopped_at:
            return "complete" if self.stopped_at >= self.start_at else "queue_error"
        if now < self.queue_at:
            return "new"
        if self.outcome == "queue_error":
            return "queue_error" if now >= self.start_at else "queued"
        if now < self.start_at:
            return "queued" if now < self.start_at - 0.5 else "allocated"
        if now < self.end_at:
            return "started"
        return self.outcome

    def is_done(self, now: float) -> bool:
        """Return whether the call is in a terminal state."""
        return self.queue_status(now) in {"complete", "queue_error", "call_error"}


class BadJson(Exception):
    """A request body that is not a JSON object (answered 400, as Bland does)."""


class SimState:
    """Everything the resources share: the data Bland would hold, the clock, the seed."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        speed: float = 60.0,
        seed: int = 7,
        clock: SimClock | None = None,
        config: SimConfig | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.clock = clock or SimClock(speed)
        self.rng = random.Random(seed)
        # Picks between forms the documents disagree on (a stream of its own: the calls' outcomes stay put).
        self.forms = random.Random(seed + 1)
        self.config = config or SimConfig()
        self.calls: dict[str, SimCall] = {}
        self.dial_times: list[float] = []  # when each call was (or is to be) dialled, sorted: the caps
        self.last_dialled: dict[str, float] = {}  # when each number was last asked for, by POST /v1/calls
        self.batches: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        self.workflows: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Event()  # set on every API request, for tests that wait on another process
        self.requests: list[tuple[str, str, str]] = []  # (route name, method, path?query)
        self.request_times: list[float] = []  # time.monotonic() of each request, in the same order
        self._in_flight: Counter[str] = Counter()  # requests being answered, by path
        self.overlapping: list[
            tuple[str, str]
        ] = []  # (route name, path) that arrived while one was in flight
        self.webhooks_sent: list[tuple[str, int | None]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.holds = Holds()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(timeout=5.0)
        # Call webhooks go through aiohttp: Bland sends a burst from many machines at once, and httpx's pool
        # costs this process more per request than the bot spends taking it (opened on first use).
        self._hooks: aiohttp.ClientSession | None = None
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._route_names: dict[tuple[str, str], str] = {}

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise BadJson() from None
        if not isinstance(body, dict):
            raise BadJson()
        return body

    @staticmethod
    def _invalid(errors: list[str], status: int = 400) -> web.Response:
        return web.json_response(
            {"status": "error", "message": "Invalid parameters", "errors": errors}, status=status
        )

    @staticmethod
    def _envelope(data: Any, status: int = 200, errors: Any = None) -> web.Response:
        return web.json_response({"status": status, "data": data, "errors": errors}, status=status)

    def busiest_second(self, since: float = 0.0) -> int:
        """The most requests Bland received within any one second (from `since`, a time.monotonic())."""
        return self.busiest(1.0, since)

    def busiest(self, window: float, since: float = 0.0) -> int:
        """The most requests Bland received within any `window` seconds (from `since`)."""
        times = [t for t in self.request_times if t >= since]
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def batch_completed(self, batch: dict[str, Any], now: float) -> bool:
        """Whether the batch reports `completed`: every call done, unless it was stopped and this run's
        Bland never closes stopped batches (the documents name no state for them)."""
        every = all(self.calls[cid].is_done(now) for cid in batch["call_ids"])
        return every and bool(batch.get("completes", True))
