"""A Bland API simulator that behaves as Bland's documents describe (summarised in docs/bland.md).

Same paths, status codes and body shapes, documented oddities included. Calls live in simulated
time (`speed` × real time, or a manual clock in tests), driven by a seed so runs repeat. One module a
resource: calls, batches, citations (schemas and backfills), webhooks, faults; state holds what they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

from bot.sandbox.bland_sim.batches import BatchRoutes
from bot.sandbox.bland_sim.calls import CallRoutes
from bot.sandbox.bland_sim.citations import CitationRoutes
from bot.sandbox.bland_sim.faults import FaultInjection
from bot.sandbox.bland_sim.state import (
    FAULT_KINDS,
    Fault,
    SimCall,
    SimClock,
    SimConfig,
    iso,
)
from bot.sandbox.bland_sim.webhooks import WebhookSender

log = logging.getLogger(__name__)

__all__ = ["FAULT_KINDS", "BlandSimulator", "Fault", "SimCall", "SimClock", "SimConfig", "iso"]


class BlandSimulator(FaultInjection, WebhookSender, BatchRoutes, CitationRoutes, CallRoutes):
    """An aiohttp server that plays Bland. `await sim.start()`; `sim.url` is its base URL."""

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
        self.holds.release_all()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._webhook_tasks):
            await task
        if self._runner is not None:
            await self._runner.cleanup()
        await self._http.aclose()
        if self._hooks is not None:
            await self._hooks.close()
            self._hooks = None

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

    # -- routing -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """Return the aiohttp application with Bland's routes and the /_sim/ admin API."""
        app = web.Application(middlewares=[self._middleware], client_max_size=20 * 1024 * 1024)
        routes = [
            ("POST", "/v1/calls", "calls.send", self._send_call),
            ("GET", "/v1/calls", "calls.list", self._list_calls),
            ("POST", "/v1/calls/active/stop", "calls.stop_all", self._stop_all),
            ("GET", "/v1/calls/{call_id}", "calls.get", self._get_call),
            ("GET", "/v1/calls/{call_id}/recording", "calls.recording", self._get_recording),
            ("GET", "/v1/recordings/{call_id}", "recordings.get", self._recording_audio),
            ("GET", "/v1/me", "me.get", self._me),
            ("POST", "/v1/calls/{call_id}/stop", "calls.stop", self._stop_call),
            ("POST", "/v1/batches", "batches.send", self._send_batch),
            ("GET", "/v1/batches", "batches.list", self._list_batches),
            ("GET", "/v1/batches/{batch_id}", "batches.get", self._get_batch),
            ("POST", "/v1/batches/{batch_id}/stop", "batches.stop", self._stop_batch),
            ("POST", "/v2/batches/create", "batches.send", self._create_v2),
            ("GET", "/v2/batches/list", "batches.list", self._list_v2),
            ("GET", "/v2/batches/{batch_id}", "batches.get", self._get_v2),
            ("GET", "/v2/batches/{batch_id}/logs", "batches.logs", self._logs_v2),
            ("POST", "/v2/batches/{batch_id}/stop", "batches.stop", self._stop_v2),
            ("POST", "/v1/citation_schemas/", "schemas.create", self._create_schema),
            ("POST", "/v1/citation_schemas", "schemas.create", self._create_schema),
            ("GET", "/v1/citation_schemas/", "schemas.get", self._get_schema),
            ("GET", "/v1/citation_schemas", "schemas.get", self._get_schema),
            ("GET", "/v1/citation_schemas/list", "schemas.list", self._list_schemas),
            ("PATCH", "/v1/citation_schemas/", "schemas.update", self._update_schema),
            ("PATCH", "/v1/citation_schemas", "schemas.update", self._update_schema),
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
        app.router.add_get("/recordings/{name}", self._recording_file)
        app.router.add_get("/_sim/state", self._admin_state)
        app.router.add_get("/_sim/requests", self._admin_requests)
        app.router.add_post("/_sim/faults", self._admin_faults)
        app.router.add_post("/_sim/config", self._admin_config)
        app.router.add_post("/_sim/advance", self._admin_advance)
        return app

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
