"""Fault injection and the request log: every Bland route passes through here first."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from bot.sandbox.bland_sim.state import FAULT_KINDS, BadJson, Fault, SimState
from bot.sandbox.holds import Hold

log = logging.getLogger(__name__)


class FaultInjection(SimState):
    """Fault injection and the request log: every Bland route passes through here first."""

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(("/_sim/", "/recordings/")):  # admin; recording links need no key
            return await handler(request)  # type: ignore[no-any-return]
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else ""
        name = self._route_names.get((request.method, path), "unknown")
        self.requests.append((name, request.method, request.path_qs))
        self.request_times.append(time.monotonic())
        self.changed.set()
        # Two reads of one resource in flight at once (e.g. two replicas reading one call together).
        if self._in_flight[request.path] and request.method == "GET":
            self.overlapping.append((name, request.path))
        self._in_flight[request.path] += 1
        try:
            return await self._serve(request, handler, name)
        finally:
            self._in_flight[request.path] -= 1

    async def _serve(self, request: web.Request, handler: Any, name: str) -> web.StreamResponse:
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
        hold = self.holds.take(name, None)
        if hold is not None and not hold.after:
            await self.holds.hold(hold)  # still on its way: released, it has done nothing
            return web.json_response({"status": "error", "message": "Service unavailable"}, status=503)
        try:
            response: web.StreamResponse = await handler(request)
        except BadJson:
            return web.json_response({"status": "error", "message": "Invalid JSON body"}, status=400)
        if hold is not None:
            self.changed.set()
            await self.holds.hold(hold)  # done, but the answer is held
        if fault is not None and fault.kind == "lost":
            # Bland did the work, but the reply never arrived: the ambiguous case reconciliation exists for.
            return web.json_response({"status": "error", "message": "Gateway timeout"}, status=504)
        if fault is not None and fault.kind == "cut" and isinstance(response, web.Response):
            return await self._cut_short(request, response)
        return response

    @staticmethod
    async def _cut_short(request: web.Request, response: web.Response) -> web.StreamResponse:
        """Send half of a 200's body and drop the connection, as a proxy or a network failing mid-reply does."""
        body = bytes(response.body or b"")  # type: ignore[arg-type]
        stream = web.StreamResponse(
            status=response.status,
            headers={"Content-Type": response.content_type, "Content-Length": str(len(body))},
        )
        await stream.prepare(request)
        await stream.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return stream

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

    def hold_next(self, route: str, *, after: bool = False) -> Hold:
        """Hold the next request of a route open (see bot/sandbox/holds.py): before or after Bland acts on it."""
        return self.holds.add(route, after=after)

    def count(self, route: str) -> int:
        """Return how many requests a route has received."""
        return sum(1 for name, _, _ in self.requests if name == route)
