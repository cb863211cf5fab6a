"""A Bland API simulator that behaves as reference/bland-api.md and the seed documents describe.

Same paths, status codes and body shapes, documented oddities included. Calls live in simulated
time (`speed` × real time, or a manual clock in tests), driven by a seed so runs repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web

from bot.bland.webhooks import sign
from bot.sandbox import sim_content

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
    list_schemas_endpoint: bool = True


# lost: the request is carried out, then answered 504, as when a reply is lost on the way back.
FAULT_KINDS = frozenset({"429", "500", "slow", "malformed", "timeout", "lost"})


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
    citation_variables: dict[str, Any] = field(default_factory=dict)

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


class BlandSimulator:
    """An aiohttp server that plays Bland. `await sim.start()`; `sim.url` is its base URL."""

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
        self.config = config or SimConfig()
        self.calls: dict[str, SimCall] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        self.workflows: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Event()  # set on every API request, for tests that wait on another process
        self.requests: list[tuple[str, str, str]] = []  # (route name, method, path?query)
        self.webhooks_sent: list[tuple[str, int | None]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(timeout=5.0)
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._route_names: dict[tuple[str, str], str] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen, and fire webhooks in the background as calls finish."""
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        if not self.clock.manual:
            self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        """Stop the server and pending webhooks."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._webhook_tasks):
            await task
        if self._runner is not None:
            await self._runner.cleanup()
        await self._http.aclose()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            try:
                await self.process()
            except Exception:
                log.exception("simulator tick failed")

    async def advance(self, seconds: float) -> None:
        """Move simulated time forward and deliver any webhooks that fall due."""
        self.clock.advance(seconds)
        await self.process()

    async def process(self) -> None:
        """Deliver webhooks for calls that have finished."""
        now = self.clock.now()
        due = [
            call
            for call in list(self.calls.values())
            if call.payload.get("webhook") and not call.webhook_sent and call.is_done(now)
        ]
        for call in due:
            call.webhook_sent = True
        # Concurrently, as a real sender would: one slow receiver must not hold up every other call's webhook.
        await asyncio.gather(*(self._send_webhook(call) for call in due))

    async def _send_webhook(self, call: SimCall) -> None:
        body = json.dumps(self.call_json(call), separators=(",", ":")).encode()
        url = str(call.payload["webhook"])
        call.webhook_sent_at = time.monotonic()
        try:
            response = await self._http.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Webhook-Signature": sign(self.webhook_secret, body),
                },
            )
            self.webhooks_sent.append((call.call_id, response.status_code))
        except httpx.HTTPError as exc:
            log.warning("webhook to %s failed: %s", url, exc)
            self.webhooks_sent.append((call.call_id, None))

    # -- routing -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """Return the aiohttp application with Bland's routes and the /_sim/ admin API."""
        app = web.Application(middlewares=[self._middleware], client_max_size=20 * 1024 * 1024)
        routes = [
            ("POST", "/v1/calls", "calls.send", self._send_call),
            ("GET", "/v1/calls", "calls.list", self._list_calls),
            ("POST", "/v1/calls/active/stop", "calls.stop_all", self._stop_all),
            ("GET", "/v1/calls/{call_id}", "calls.get", self._get_call),
            ("POST", "/v1/calls/{call_id}/stop", "calls.stop", self._stop_call),
            ("POST", "/v1/batches", "batches.send", self._send_batch),
            ("GET", "/v1/batches", "batches.list", self._list_batches),
            ("GET", "/v1/batches/{batch_id}", "batches.get", self._get_batch),
            ("POST", "/v1/batches/{batch_id}/stop", "batches.stop", self._stop_batch),
            ("POST", "/v1/citation_schemas/", "schemas.create", self._create_schema),
            ("POST", "/v1/citation_schemas", "schemas.create", self._create_schema),
            ("GET", "/v1/citation_schemas/", "schemas.get", self._get_schema),
            ("GET", "/v1/citation_schemas", "schemas.get", self._get_schema),
            ("GET", "/v1/citation_schemas/list", "schemas.list", self._list_schemas),
            ("POST", "/v1/citation_schemas/backfill", "backfill.start", self._start_backfill),
            (
                "GET",
                "/v1/citation_schemas/backfill/status/{workflow_id}",
                "backfill.status",
                self._backfill_status,
            ),
        ]
        for method, path, name, handler in routes:
            app.router.add_route(method, path, handler)
            self._route_names[(method, path)] = name
        app.router.add_get("/_sim/state", self._admin_state)
        app.router.add_get("/_sim/requests", self._admin_requests)
        app.router.add_post("/_sim/faults", self._admin_faults)
        app.router.add_post("/_sim/config", self._admin_config)
        app.router.add_post("/_sim/advance", self._admin_advance)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)  # type: ignore[no-any-return]
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else ""
        name = self._route_names.get((request.method, path), "unknown")
        self.requests.append((name, request.method, request.path_qs))
        self.changed.set()
        fault = self._take_fault(name)
        if fault is not None:
            if fault.kind == "429":
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return web.json_response(
                    {"status": "error", "message": "Too many requests"}, status=429, headers=headers
                )
            if fault.kind == "500":
                return web.json_response({"status": "error", "message": "Internal server error."}, status=500)
            if fault.kind == "malformed":
                return web.Response(status=200, text="<html>upstream error</html>", content_type="text/html")
            if fault.kind in {"slow", "timeout"}:
                await asyncio.sleep(fault.delay)
                if fault.kind == "timeout":
                    return web.json_response({"status": "error", "message": "Gateway timeout"}, status=504)
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if supplied != self.api_key:
            return web.json_response({"status": "error", "message": "Invalid API key"}, status=401)
        try:
            response: web.StreamResponse = await handler(request)
        except _BadJson:
            return web.json_response({"status": "error", "message": "Invalid JSON body"}, status=400)
        if fault is not None and fault.kind == "lost":
            # Bland did the work, but the reply never arrived: the ambiguous case reconciliation exists for.
            return web.json_response({"status": "error", "message": "Gateway timeout"}, status=504)
        return response

    def _take_fault(self, name: str) -> Fault | None:
        for key in (name, "*"):
            queue = self.faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
                return fault
        return None

    def inject(
        self, route: str, kind: str, count: int = 1, *, retry_after: float | None = 1.0, delay: float = 2.0
    ) -> None:
        """Make the next `count` requests of a route (e.g. "calls.get", or "*") fail as `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        self.faults.setdefault(route, []).append(Fault(kind, count, retry_after, delay))

    def count(self, route: str) -> int:
        """Return how many requests a route has received."""
        return sum(1 for name, _, _ in self.requests if name == route)

    # -- calls ---------------------------------------------------------------------------------

    @staticmethod
    def normalise_phone(raw: Any) -> str | None:
        """Apply Bland's documented phone rules: +8–15 digits, or exactly 10 digits (→ +1)."""
        if not isinstance(raw, str):
            return None
        if re.search(r"[A-Za-z#]", raw):
            return None
        compact = re.sub(r"[\s().-]", "", raw)
        if re.fullmatch(r"\+\d{8,15}", compact):
            return compact
        if re.fullmatch(r"\d{10}", compact):
            return "+1" + compact
        return None

    def _plan_call(
        self, payload: dict[str, Any], to: str, *, created_at: float, batch_id: str | None
    ) -> SimCall:
        config = self.config
        rng = self.rng
        call_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        roll = rng.random()
        outcome = "complete"
        error_message = None
        if roll < config.error_rate / 2:
            outcome, error_message = "queue_error", "Unserviceable area: the number cannot be reached."
        elif roll < config.error_rate:
            outcome, error_message = "call_error", "Call failed: the line dropped during the call."
        answered_by = rng.choices(
            list(config.answered_by_mix), weights=list(config.answered_by_mix.values())
        )[0]
        max_seconds = float(payload.get("max_duration") or 30) * 60
        if answered_by == "no-answer":
            talk = 0.0
        elif answered_by == "voicemail":
            talk = min(25.0, max_seconds)
        else:
            talk = config.talk_seconds if config.talk_seconds is not None else rng.uniform(40, 150)
            talk = min(talk, max_seconds)
        queue_at = created_at + 0.5
        start_at = created_at + config.queue_seconds + config.ring_seconds
        if outcome == "call_error":
            talk = min(talk, 10.0)
        call = SimCall(
            call_id=call_id,
            to=to,
            payload=payload,
            created_at=created_at,
            queue_at=queue_at,
            start_at=start_at,
            end_at=start_at + talk,
            answered_by=answered_by,
            outcome=outcome,
            error_message=error_message,
            batch_id=batch_id,
        )
        if outcome == "complete":
            call.turns = sim_content.transcript(
                rng,
                task=str(payload.get("task") or f"pathway {payload.get('pathway_id')}"),
                first_sentence=payload.get("first_sentence"),
                answered_by=answered_by,
                talk_seconds=talk,
            )
            call.analysis = sim_content.analysis(rng, payload.get("analysis_schema"), answered_by)
        self.calls[call_id] = call
        return call

    def call_json(self, call: SimCall, *, light: bool = False, transcripts: bool = True) -> dict[str, Any]:
        """Render a call as GET /v1/calls/{id} does (or the light list-item form)."""
        now = self.clock.now()
        status = call.queue_status(now)
        done = call.is_done(now)
        end = call.effective_end()
        talk = (
            max(0.0, min(now, end) - call.start_at)
            if now >= call.start_at and status != "queue_error"
            else 0.0
        )
        body: dict[str, Any] = {
            "call_id": call.call_id,
            "created_at": iso(call.created_at),
            "call_length": round(talk / 60, 5),
            "to": call.to,
            "from": "+15550100999",
            "completed": done,
            "queue_status": status,
            "error_message": call.error_message
            if status in ERROR_STATUSES
            else ("Batch stopped before the call started." if status == "queue_error" else None),
            "answered_by": (call.answered_by if done and call.payload.get("answered_by_enabled") else None),
            "batch_id": call.batch_id,
        }
        if light:
            return body
        summary_ready = done and now >= end + self.config.summary_delay and status == "complete"
        lines = self._visible_turns(call, now) if transcripts else []
        body.update(
            {
                "c_id": call.call_id,
                "corrected_duration": str(round(talk)),
                "max_duration": call.payload.get("max_duration", 30),
                "inbound": False,
                "started_at": iso(call.start_at) if now >= call.start_at else None,
                "end_at": iso(end) if done else None,
                "status": "completed" if done else None,
                "endpoint_url": "api.prod.bland.ai",
                "variables": {
                    "now": time.strftime("%a %b %d %Y %H:%M:%S GMT+0000", time.gmtime(now)),
                    "to": call.to,
                    "call_id": call.call_id,
                    **(call.payload.get("request_data") or {}),
                },
                "record": bool(call.payload.get("record")),
                "recording_url": f"{self.url}/recordings/{call.call_id}.mp3"
                if call.payload.get("record") and done
                else None,
                "metadata": call.payload.get("metadata") or {},
                "summary": sim_content.summary(
                    task=str(call.payload.get("task") or ""),
                    answered_by=call.answered_by,
                    turns=len(call.turns),
                )
                if summary_ready
                else None,
                "price": round(0.09 * talk / 60, 4) if done else None,
                "local_dialing": False,
                "call_ended_by": (
                    "API" if call.stopped_at is not None and call.stopped_at < call.end_at else "ASSISTANT"
                )
                if done and status == "complete"
                else None,
                "transferred_to": None,
                "pathway_logs": None,
                "analysis_schema": call.payload.get("analysis_schema"),
                "analysis": call.analysis if summary_ready else None,
                "request_data": {"phone_number": call.to, "wait": False, "language": "ENG"},
                "concatenated_transcript": " \n ".join(
                    f"{role}: {text}" for role, text in lines if role in {"user", "assistant"}
                ),
                "transcripts": [
                    {
                        "id": 7_000_000 + i,
                        "created_at": iso(call.start_at + i * 4),
                        "text": text,
                        "user": role,
                        "c_id": call.call_id,
                        "status": None,
                        "transcript_id": None,
                    }
                    for i, (role, text) in enumerate(lines)
                ],
            }
        )
        if "task" in call.payload:
            body["task"] = call.payload["task"]
        return body

    def _visible_turns(self, call: SimCall, now: float) -> list[tuple[str, str]]:
        if now < call.start_at or not call.turns:
            return []
        end = call.effective_end()
        if call.is_done(now) and call.stopped_at is None:
            return call.turns
        span = max(1.0, call.end_at - call.start_at)
        share = (min(now, end) - call.start_at) / span
        shown = call.turns[: max(1, int(len(call.turns) * share))]
        if call.stopped_at is not None and now >= call.stopped_at:
            shown = [*shown, ("agent-action", "Ended call: stopped by API")]
        return shown

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _BadJson() from None
        if not isinstance(body, dict):
            raise _BadJson()
        return body

    @staticmethod
    def _invalid(errors: list[str], status: int = 400) -> web.Response:
        return web.json_response(
            {"status": "error", "message": "Invalid parameters", "errors": errors}, status=status
        )

    async def _send_call(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        errors = []
        to = None
        if not body.get("phone_number"):
            errors.append("Missing required parameter: phone_number.")
        else:
            to = self.normalise_phone(body.get("phone_number"))
            if to is None:
                errors.append(f"Invalid phone number: {body.get('phone_number')}.")
        if not body.get("task") and not body.get("pathway_id"):
            errors.append("Missing required parameter: task or pathway_id.")
        if body.get("task") is not None and not isinstance(body.get("task"), str):
            errors.append("Task must be a string.")
        if errors or to is None:
            return self._invalid(errors)
        call = self._plan_call(body, to, created_at=self.clock.now(), batch_id=None)
        return web.json_response(
            {
                "status": "success",
                "message": "Call successfully queued.",
                "call_id": call.call_id,
                "batch_id": None,
            }
        )

    async def _get_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["call_id"])
        if call is None:
            return web.json_response({"status": "error", "message": "Call not found."}, status=404)
        return web.json_response(self.call_json(call))

    async def _list_calls(self, request: web.Request) -> web.Response:
        query = request.query
        calls = sorted(
            self.calls.values(), key=lambda c: c.created_at, reverse=query.get("ascending", "false") != "true"
        )
        now = self.clock.now()
        if "batch_id" in query:
            calls = [c for c in calls if c.batch_id == query["batch_id"]]
        if "created_at" in query:
            calls = [c for c in calls if iso(c.created_at)[:10] == query["created_at"]]
        if "completed" in query:
            wanted = query["completed"] == "true"
            calls = [c for c in calls if c.is_done(now) == wanted]
        if "answered_by" in query:
            calls = [c for c in calls if c.is_done(now) and c.answered_by == query["answered_by"]]
        if "to_number" in query:
            calls = [c for c in calls if c.to == query["to_number"]]
        total = len(calls)
        start = int(query.get("from", 0))
        end = int(query["to"]) if "to" in query else None
        limit = int(query.get("limit", 1000))
        page = calls[start:end][:limit]
        return web.json_response(
            {"total_count": total, "count": len(page), "calls": [self.call_json(c, light=True) for c in page]}
        )

    async def _stop_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["call_id"])
        now = self.clock.now()
        if call is None or call.is_done(now):
            return web.json_response(
                {"status": "error", "message": "SID not found for the given c_id."}, status=400
            )
        call.stopped_at = now
        return web.json_response({"status": "success", "message": "Call ended successfully."})

    async def _stop_all(self, request: web.Request) -> web.Response:
        now = self.clock.now()
        live = [c for c in self.calls.values() if not c.is_done(now)]
        for call in live:
            call.stopped_at = now
        return web.json_response(
            {
                "status": "success",
                "message": "Stopping active calls. This may take some time...",
                "num_calls": len(live),
            }
        )

    # -- batches -------------------------------------------------------------------------------

    def _batch_id(self) -> str:
        alphabet = string.ascii_letters + string.digits + "$"
        return "".join(self.rng.choice(alphabet) for _ in range(16)) + "-gen-batch"

    async def _send_batch(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        rows = body.get("call_data")
        errors = []
        if not isinstance(body.get("base_prompt"), str) or not body.get("base_prompt"):
            errors.append("Missing required parameter: base_prompt.")
        if not isinstance(rows, list) or not rows:
            errors.append("Missing required parameter: call_data (a non-empty array).")
            rows = []
        phones: list[str] = []
        for index, row in enumerate(rows):
            phone = self.normalise_phone(row.get("phone_number")) if isinstance(row, dict) else None
            if phone is None:
                errors.append(f"call_data[{index}]: invalid or missing phone_number.")
            phones.append(phone or "")
        if errors:
            return web.json_response({"message": "error", "errors": errors}, status=400)
        batch_id = self._batch_id()
        created = self.clock.now()
        template = str(body["base_prompt"])
        skip = {"base_prompt", "call_data", "label", "campaign_id", "test_mode", "batch_webhook", "batch_id"}
        params = {k: v for k, v in body.items() if k not in skip}
        selected = rows[:1] if body.get("test_mode") else rows
        call_ids = []
        for index, row in enumerate(selected):
            payload = {
                **params,
                "task": sim_content.fill_placeholders(template, row),
                "request_data": {
                    **(params.get("request_data") or {}),
                    **{k: v for k, v in row.items() if k != "phone_number"},
                },
            }
            offset = index / max(self.config.batch_dispatch_per_second, 0.001)
            call = self._plan_call(payload, phones[index], created_at=created + offset, batch_id=batch_id)
            call_ids.append(call.call_id)
        self.batches[batch_id] = {
            "id": batch_id,
            "label": body.get("label"),
            "campaign_id": body.get("campaign_id"),
            "created_at": created,
            "base_prompt": template,
            "call_params": params,
            "call_ids": call_ids,
            "test_mode": bool(body.get("test_mode")),
        }
        return web.json_response({"message": "success", "batch_id": batch_id})

    async def _list_batches(self, request: web.Request) -> web.Response:
        query = request.query
        batches = sorted(
            self.batches.values(),
            key=lambda b: b["created_at"],
            reverse=query.get("ascending", "false") != "true",
        )
        if "campaign_id" in query:
            batches = [b for b in batches if b["campaign_id"] == query["campaign_id"]]
        start = int(query.get("from", 0))
        limit = int(query.get("limit", 1000))
        items = [
            {
                "batch_id": b["id"],
                "campaign_id": b["campaign_id"],
                "created_at": iso(b["created_at"]),
                "label": b["label"],
                "base_prompt": b["base_prompt"],
                "endpoint_code": "api",
                "call_params": b["call_params"],
            }
            for b in batches[start : start + limit]
        ]
        return web.json_response({"status": "success", "batches": items})

    async def _get_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"status": "error", "message": "Batch not found."}, status=404)
        query = request.query
        include_calls = query.get("include_calls", "true") == "true"
        include_transcripts = include_calls and query.get("include_transcripts", "true") == "true"
        include_analysis = query.get("include_analysis", "true") == "true"
        now = self.clock.now()
        calls = [self.calls[cid] for cid in batch["call_ids"]]
        done = [c for c in calls if c.is_done(now)]
        body: dict[str, Any] = {
            "status": "completed" if len(done) == len(calls) else "in-progress",
            "batch_params": {
                "id": batch["id"],
                "campaign_id": batch["campaign_id"],
                "created_at": iso(batch["created_at"]),
                "label": batch["label"],
                "base_prompt": batch["base_prompt"],
                "endpoint_code": "api",
                "call_params": batch["call_params"],
            },
        }
        if include_calls:
            rows = []
            for call in calls:
                row = self.call_json(call, transcripts=include_transcripts)
                for key in (
                    "c_id",
                    "variables",
                    "metadata",
                    "pathway_logs",
                    "local_dialing",
                    "transferred_to",
                ):
                    row.pop(key, None)
                if not include_transcripts:
                    row.pop("transcripts", None)
                    row.pop("concatenated_transcript", None)
                rows.append(row)
            body["call_data"] = rows
        if include_analysis:
            body["analysis"] = self._batch_analysis(calls, now)
        return web.json_response(body)

    def _batch_analysis(self, calls: list[SimCall], now: float) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        lengths: list[float] = []
        errors = []
        for call in calls:
            status = call.queue_status(now)
            statuses[status] = statuses.get(status, 0) + 1
            if call.is_done(now):
                # The documents call these minutes, but the buckets and values are seconds (§14.6).
                lengths.append(
                    round(max(0.0, call.effective_end() - call.start_at) if status == "complete" else 0.0)
                )
            message = self.call_json(call, light=True)["error_message"]
            if message:
                errors.append({"call_id": call.call_id, "error_message": message})
        summary = {f"{lo}-{hi}": sum(1 for v in lengths if lo <= v < hi) for lo, hi in LENGTH_BUCKETS}
        summary["120+"] = sum(1 for v in lengths if v >= 120)
        nonzero = [v for v in lengths if v >= 1]
        done = sum(1 for c in calls if c.is_done(now))
        return {
            "total_calls": len(calls),
            "completed_calls": done,
            "in_progress_calls": len(calls) - done,
            "queue_statuses": statuses,
            "call_lengths": {
                "average": round(sum(lengths) / len(lengths)) if lengths else 0,
                "average_nonzero": round(sum(nonzero) / len(nonzero)) if nonzero else 0,
                "summary": summary,
                "all": lengths,
            },
            "call_ids": [c.call_id for c in calls],
            "error_messages": errors,
            "endpoints": {"api.prod.bland.ai": len(calls)},
        }

    async def _stop_batch(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["batch_id"]
        batch = self.batches.get(batch_id)
        if batch is None:
            return web.json_response({"status": "error", "message": "Batch not found."}, status=404)
        now = self.clock.now()
        live = [self.calls[cid] for cid in batch["call_ids"] if not self.calls[cid].is_done(now)]
        if not live:
            return web.json_response(
                {"status": "error", "message": "Batch has already completed.", "batch_id": batch_id}
            )
        for call in live:
            call.stopped_at = now
        return web.json_response(
            {
                "status": "success",
                "message": "Successfully stopped batch",
                "num_calls": len(live),
                "batch_id": batch_id,
            }
        )

    # -- citation schemas ----------------------------------------------------------------------

    @staticmethod
    def _envelope(data: Any, status: int = 200, errors: Any = None) -> web.Response:
        return web.json_response({"status": status, "data": data, "errors": errors}, status=status)

    async def _create_schema(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            return self._envelope(None, 400, ["name is required"])
        schema = body.get("schema") or {"variables": [], "groupings": [], "conditions": []}
        if not isinstance(schema, dict):
            return self._envelope(None, 400, ["schema must be an object"])
        schema_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        record = {
            "id": schema_id,
            "name": body["name"],
            "description": body.get("description"),
            "org_id": "org-sandbox",
            "created_at": iso(self.clock.now()),
            "schema": {
                "variables": schema.get("variables", []),
                "groupings": schema.get("groupings", []),
                "conditions": schema.get("conditions", []),
            },
        }
        self.schemas[schema_id] = record
        return self._envelope(record)

    async def _get_schema(self, request: web.Request) -> web.Response:
        schema_id = request.query.get("id")
        if not schema_id:
            return self._envelope(None, 400, ["id is required"])
        record = self.schemas.get(schema_id)
        if record is None:
            return self._envelope(None, 404, ["Citation schema not found"])
        return self._envelope(record)

    async def _list_schemas(self, request: web.Request) -> web.Response:
        if not self.config.list_schemas_endpoint:
            return web.json_response({"status": "error", "message": "Not found"}, status=404)
        items = [
            {k: s[k] for k in ("id", "name", "description", "created_at")} for s in self.schemas.values()
        ]
        return self._envelope(items)

    # -- backfills -----------------------------------------------------------------------------

    def _resolve_schemas(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(body.get("schema"), dict):
            inline = body["schema"]
            return [
                {
                    "id": "inline",
                    "name": inline.get("name"),
                    "schema": {"variables": inline.get("variables", []), "conditions": []},
                }
            ]
        ids = body.get("schema_ids") or ([body["schema_id"]] if body.get("schema_id") else [])
        return [self.schemas[i] for i in ids if i in self.schemas]

    def _validate_backfill(self, body: dict[str, Any]) -> list[str]:
        errors = []
        selectors = [k for k in ("schema_id", "schema_ids", "schema") if k in body]
        if not selectors:
            errors.append("One of schema_id, schema_ids or schema is required.")
        elif "schema_ids" in body and "schema" in body:
            errors.append("schema_ids cannot be combined with schema.")
        elif len(selectors) > 1:
            errors.append("Provide exactly one of schema_id, schema_ids or schema.")
        identifiers = [
            k
            for k in ("call_id", "call_ids", "conversation_id", "conversation_ids", "recording_url")
            if k in body
        ]
        if not identifiers:
            errors.append(
                "At least one identifier is required: call_id, call_ids, conversation_id, "
                "conversation_ids or recording_url."
            )
        for key in ("schema_ids", "call_ids", "conversation_ids"):
            if key in body and (not isinstance(body[key], list) or not body[key]):
                errors.append(f"{key} must be a non-empty array.")
        if isinstance(body.get("conversation_ids"), list) and len(body["conversation_ids"]) > 50:
            errors.append("conversation_ids accepts at most 50 conversations.")
        if "schema" in body and (not isinstance(body["schema"], dict) or not body["schema"].get("variables")):
            errors.append("schema must be an object with name and variables.")
        return errors

    def _extract(self, previous: dict[str, Any], schemas: list[dict[str, Any]]) -> dict[str, Any]:
        """Extract variables for each schema; a configured share fails (partial or failed)."""
        processed = []
        new: dict[str, Any] = {}
        for schema in schemas:
            if self.rng.random() < self.config.extraction_failure_rate:
                processed.append(
                    {
                        "schema_id": schema["id"],
                        "status": "failed",
                        "variables_extracted": 0,
                        "error": "Extraction failed: the model returned no usable output.",
                    }
                )
                continue
            variables = (schema.get("schema") or {}).get("variables", [])
            values = {
                v["name"]: sim_content.typed_value(self.rng, v["name"], v.get("type"))
                for v in variables
                if isinstance(v, dict) and v.get("name")
            }
            new.update(values)
            processed.append(
                {"schema_id": schema["id"], "status": "success", "variables_extracted": len(values)}
            )
        ok = sum(1 for p in processed if p["status"] == "success")
        status = "success" if ok == len(processed) else "failed" if ok == 0 else "partial"
        return {
            "status": status,
            "schemas_processed": processed,
            "variables_extracted_count": len(new),
            "previous_variables": dict(previous),
            "newly_extracted_variables": new,
            "final_variables": {**previous, **new},
        }

    async def _start_backfill(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        errors = self._validate_backfill(body)
        if errors:
            return web.json_response({"status": "error", "message": errors[0], "errors": errors}, status=400)
        if not self.config.enterprise:
            return web.json_response(
                {
                    "status": "error",
                    "message": "Citation backfill requires enterprise features on this account.",
                },
                status=403,
            )
        schemas = self._resolve_schemas(body)
        if not schemas:
            return web.json_response(
                {
                    "status": "error",
                    "code": "NO_RESOLVABLE_SCHEMAS",
                    "message": "NO_RESOLVABLE_SCHEMAS: none of the schema IDs could be resolved.",
                },
                status=404,
            )
        call_ids = list(body.get("call_ids") or ([body["call_id"]] if body.get("call_id") else []))
        missing = [cid for cid in call_ids if cid not in self.calls]
        if missing:
            return web.json_response(
                {
                    "status": "error",
                    "message": f"Calls not found: {', '.join(missing)}",
                    "missing_call_ids": missing,
                },
                status=404,
            )
        conversations = list(
            body.get("conversation_ids") or ([body["conversation_id"]] if body.get("conversation_id") else [])
        )
        conv_results = []
        for conv_id in conversations:
            previous = {"customer_name": "Jane"}
            result = self._extract(previous, schemas)
            status = {"success": "success", "partial": "success", "failed": "error"}[result["status"]]
            conv_results.append(
                {
                    "conversation_id": conv_id,
                    "status": status,
                    "variables_extracted": result["variables_extracted_count"],
                    "previous_variables": result["previous_variables"],
                    "newly_extracted_variables": result["newly_extracted_variables"],
                    "final_variables": result["final_variables"],
                    "error": None if status == "success" else "Extraction failed",
                }
            )
        if not call_ids:
            return web.json_response(
                {
                    "status": "complete",
                    "call_count": 0,
                    "conversation_count": len(conversations),
                    "schema_count": len(schemas),
                    "conversations": conv_results,
                }
            )
        now = self.clock.now()
        label = f"call-{call_ids[0]}" if len(call_ids) == 1 else f"batch:{uuid.uuid4()}"
        workflow_id = f"backfill:{label}:{int(now * 1000)}"
        self.workflows[workflow_id] = {
            "workflow_id": workflow_id,
            "run_id": str(uuid.uuid4()),
            "start": now,
            "call_ids": call_ids,
            "schemas": schemas,
            "outcome": self.config.next_workflow_outcome or "COMPLETED",
            "result": None,
        }
        self.config.next_workflow_outcome = None
        body_out: dict[str, Any] = {
            "status": "processing",
            "workflow_id": workflow_id,
            "call_count": len(call_ids),
            "schema_count": len(schemas),
            "total_combinations": len(call_ids) * len(schemas),
            "message": f"Citation backfill workflow started for {len(call_ids)} call(s) with {len(schemas)} "
            "schema(s)...",
        }
        if conv_results:
            body_out["conversations"] = conv_results
        return web.json_response(body_out, status=202)

    async def _backfill_status(self, request: web.Request) -> web.Response:
        workflow = self.workflows.get(request.match_info["workflow_id"])
        if workflow is None:
            return web.json_response({"status": "error", "message": "Workflow not found."}, status=404)
        now = self.clock.now()
        body: dict[str, Any] = {
            "workflow_id": workflow["workflow_id"],
            "run_id": workflow["run_id"],
            "start_time": iso(workflow["start"]),
        }
        close = workflow["start"] + self.config.backfill_seconds
        if now < close:
            body["status"] = "RUNNING"
            return web.json_response(body)
        body["status"] = workflow["outcome"]
        body["close_time"] = iso(close)
        if workflow["outcome"] == "COMPLETED":
            if workflow["result"] is None:
                workflow["result"] = self._run_workflow(workflow)
            body["result"] = workflow["result"]
        return web.json_response(body)

    def _run_workflow(self, workflow: dict[str, Any]) -> dict[str, Any]:
        results = []
        for call_id in workflow["call_ids"]:
            call = self.calls[call_id]
            result = self._extract(call.citation_variables, workflow["schemas"])
            call.citation_variables = result["final_variables"]
            results.append({"call_id": call_id, **result})
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("success", "partial", "failed")}
        extractions = [p for r in results for p in r["schemas_processed"]]
        status = (
            "success"
            if counts["success"] == len(results)
            else "failed"
            if counts["failed"] == len(results)
            else "partial"
        )
        return {
            "status": status,
            "calls": results,
            "summary": {
                "total_calls": len(results),
                "successful_calls": counts["success"],
                "partial_calls": counts["partial"],
                "failed_calls": counts["failed"],
                "total_schemas_processed": len(extractions),
                "successful_schema_extractions": sum(1 for p in extractions if p["status"] == "success"),
                "failed_schema_extractions": sum(1 for p in extractions if p["status"] != "success"),
            },
        }

    # -- admin API -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Return a JSON-able view of everything the simulator holds."""
        now = self.clock.now()
        return {
            "now": iso(now),
            "calls": {
                cid: {
                    "to": c.to,
                    "queue_status": c.queue_status(now),
                    "batch_id": c.batch_id,
                    "answered_by": c.answered_by,
                }
                for cid, c in self.calls.items()
            },
            "batches": {
                bid: {"label": b["label"], "calls": len(b["call_ids"])} for bid, b in self.batches.items()
            },
            "schemas": {sid: s["name"] for sid, s in self.schemas.items()},
            "workflows": {wid: w["outcome"] for wid, w in self.workflows.items()},
            "requests": len(self.requests),
            "faults": {k: [f.__dict__ for f in v] for k, v in self.faults.items() if v},
        }

    async def _admin_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _admin_requests(self, request: web.Request) -> web.Response:
        return web.json_response([{"route": r, "method": m, "path": p} for r, m, p in self.requests])

    async def _admin_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.inject(
                str(body.get("route", "*")),
                str(body.get("kind")),
                int(body.get("count", 1)),
                retry_after=body.get("retry_after", 1.0),
                delay=float(body.get("delay", 2.0)),
            )
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "faults": self.state()["faults"]})

    async def _admin_config(self, request: web.Request) -> web.Response:
        body = await request.json()
        unknown = [k for k in body if not hasattr(self.config, k)]
        if unknown:
            return web.json_response({"error": f"unknown settings: {unknown}"}, status=400)
        for key, value in body.items():
            setattr(self.config, key, value)
        return web.json_response({"ok": True, "config": self.config.__dict__})

    async def _admin_advance(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.advance(float(body.get("seconds", 0)))
        return web.json_response({"ok": True, "now": iso(self.clock.now())})


class _BadJson(Exception):
    pass
