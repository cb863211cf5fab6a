"""Batches as Bland documents them today: /v2/batches (docs/bland.md, "Batches, v2").

Create takes `global` (shared call settings: `task` or `pathway_id`, never `phone_number`) and
`call_objects` (each a `/v1/calls` body, its own `start_time`), `description` (≤ 60) and `status_webhook`, and
answers `{data: {batch_id}, errors}` with a UUID. The list and a batch's read are metadata only; its logs hold
lifecycle and `complete` events; its calls are in `GET /v1/calls?batch_id=`. The status webhook gets one POST
per phase and one final event, once, unsigned (the documents do not say they are signed), never retried.
Where the documents are silent (create's errors, a stopped batch's final event), the choices are named.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from aiohttp import web

from bot.sandbox import sim_content
from bot.sandbox.bland_sim.calls import SEND_CALL_KEYS, CallRoutes
from bot.sandbox.bland_sim.state import iso

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 60
MIN_AHEAD_SECONDS = 300.0  # "Calls must be scheduled at least 5 minutes in advance"
STATUS_TIMEOUT = 10.0
_TOP_LEVEL = {"global", "call_objects", "description", "status_webhook"}
_START = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\s?([+-]\d{2}):?(\d{2})|Z)?$")
FINAL = {"completed", "failed", "completed_partial"}


def parse_start(text: Any) -> float | None:
    """A `start_time` ("2026-01-01 12:00:00-05:00"; the offset may be left out: UTC) in epoch seconds."""
    if not isinstance(text, str):
        return None
    found = _START.match(text.strip())
    if not found:
        return None
    day, clock, hours, minutes = found.groups()
    zone = UTC
    if hours is not None:
        sign = -1 if hours.startswith("-") else 1
        zone = timezone(sign * timedelta(hours=abs(int(hours)), minutes=int(minutes)))
    shape = "%Y-%m-%d %H:%M:%S" if clock.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(f"{day} {clock}", shape).replace(tzinfo=zone).timestamp()


def _errors(message: str, code: str = "INVALID_REQUEST", status: int = 400) -> web.Response:
    return web.json_response({"data": None, "errors": [{"error": code, "message": message}]}, status=status)


class BatchV2Routes(CallRoutes):
    """/v2/batches: create, list, get, logs, stop; and the lifecycle each batch goes through."""

    def _v2_off(self) -> web.Response | None:
        """A Bland that speaks only v1 answers every v2 batch route 404."""
        if self.config.batch_api == "v1":
            return web.json_response({"status": "error", "message": "Not found"}, status=404)
        return None

    async def _create_v2(self, request: web.Request) -> web.Response:
        if (off := self._v2_off()) is not None:
            return off
        body = await self._json(request)
        unknown = sorted(set(body) - _TOP_LEVEL)
        if unknown:
            return _errors(f"Additional properties are not allowed: {', '.join(unknown)}.")
        shared = body.get("global")
        if not isinstance(shared, dict):
            return _errors("global is required and must be an object.")
        if not shared.get("task") and not shared.get("pathway_id"):
            return _errors("global must contain task or pathway_id.")
        if "phone_number" in shared:
            return _errors("global must not contain phone_number.")
        if self.config.documented_keys_only:
            entries_keys = {k for e in body.get("call_objects") or [] if isinstance(e, dict) for k in e}
            extra = sorted((set(shared) | entries_keys) - SEND_CALL_KEYS)
            if extra:
                return _errors(
                    f"Additional properties are not allowed ({', '.join(map(repr, extra))} were unexpected)."
                )
        entries = body.get("call_objects")
        if not isinstance(entries, list) or not entries:
            return _errors("call_objects must be a non-empty array.")
        description = body.get("description", "Untitled Batch")
        if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            return _errors(f"description must be a string of at most {DESCRIPTION_MAX} characters.")
        hook = body.get("status_webhook")
        if hook is not None and not isinstance(hook, str):
            return _errors("status_webhook must be a URL.")
        now = self.clock.now()
        batch_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        batch: dict[str, Any] = {
            "id": batch_id,
            "api": "v2",
            "label": description,
            "description": description,
            "created_at": now,
            "global": shared,
            "call_objects": entries,
            "call_ids": [],
            "status_webhook": hook,
            "phases": [],
            "logs": [],
            "final": None,
        }
        self.batches[batch_id] = batch
        self._phase(batch, "validating")
        problem = self._entry_problem(entries, now)
        if problem is not None:
            # Validation fails after the answer, as the documents' example event shows.
            self._phase(batch, "failed", code="source_invalid", reason=problem)
            return web.json_response({"data": {"batch_id": batch_id}, "errors": None})
        self._phase(batch, "dispatching")
        for index, entry in enumerate(entries):
            payload = {**shared, **entry}
            given = payload.get("request_data")
            values: dict[str, Any] = given if isinstance(given, dict) else {}
            if isinstance(payload.get("task"), str):
                payload["task"] = sim_content.fill_placeholders(payload["task"], values)
            begins = parse_start(entry.get("start_time") or shared.get("start_time"))
            offset = index / max(self.config.batch_dispatch_per_second, 0.001)
            created = now + offset
            call = self._plan_call(
                payload,
                str(self.normalise_phone(entry.get("phone_number"))),
                created_at=created,
                batch_id=batch_id,
                begins_at=begins if begins is not None and begins > created else None,
            )
            batch["call_ids"].append(call.call_id)
        count = len(entries)
        self._phase(
            batch,
            "in_progress_chunked" if count > 1000 else "in_progress",
            message=f"Requested: {count}. Validated: {count}. Dispatched: {count}. "
            f"CPS: {self.config.batch_dispatch_per_second:.2f}.",
        )
        return web.json_response({"data": {"batch_id": batch_id}, "errors": None})

    def _entry_problem(self, entries: list[Any], now: float) -> str | None:
        """The first call object Bland would refuse, in the words of the documents' example."""
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or not entry.get("phone_number"):
                return f"Entry #{number} did not have a phone number."
            if self.normalise_phone(entry.get("phone_number")) is None:
                return f"Entry #{number} has an invalid phone number."
            if "start_time" in entry:
                at = parse_start(entry["start_time"])
                if at is None:
                    return f"Entry #{number} has an invalid start_time."
                if now < at < now + MIN_AHEAD_SECONDS:
                    return f"Entry #{number}: calls must be scheduled at least 5 minutes in advance."
        return None

    def _phase(self, batch: dict[str, Any], status: str, **extra: Any) -> None:
        """Move a batch to a phase: a log entry, and a status webhook POST (once, never retried)."""
        if batch["final"] is not None or (batch["phases"] and batch["phases"][-1] == status):
            return
        now = self.clock.now()
        batch["phases"].append(status)
        event = {"batch_id": batch["id"], "status": status, **extra, "timestamp": iso(now)}
        if status in FINAL:
            batch["final"] = status
        entry_id = len(batch["logs"]) + 1
        if status == "completed":
            counts = {k: v for k, v in extra.items() if k.startswith("calls_")}
            batch["logs"].append(self._log(batch, entry_id, "complete", counts, now))
        else:
            payload = {"state_change": status, "message": extra.get("message") or extra.get("reason") or ""}
            batch["logs"].append(self._log(batch, entry_id, "lifecycle", payload, now))
        if batch.get("status_webhook"):
            batch.setdefault("pending_events", []).append(event)

    @staticmethod
    def _log(
        batch: dict[str, Any], entry_id: int, kind: str, payload: dict[str, Any], now: float
    ) -> dict[str, Any]:
        return {
            "id": entry_id,
            "batch_id": batch["id"],
            "org_id": "org-sim",
            "event_type": kind,
            "timestamp": iso(now),
            "payload": payload,
        }

    def advance_batches_v2(self) -> list[tuple[str, dict[str, Any]]]:
        """Move each v2 batch on as its calls go; return the status events now due (url, event)."""
        now = self.clock.now()
        due: list[tuple[str, dict[str, Any]]] = []
        for batch in list(self.batches.values()):
            if batch.get("api") != "v2":
                continue
            if batch["final"] is None and batch["call_ids"]:
                calls = [self.calls[cid] for cid in batch["call_ids"]]
                done = [c for c in calls if c.is_done(now)]
                waiting = [c for c in calls if not c.is_done(now) and c.queue_at > now + 1]
                if len(done) == len(calls):
                    stopped = any(c.stopped_at is not None for c in calls)
                    completes = self.config.stopped_batch_completes
                    if not stopped or (completes if completes is not None else True):
                        failed = sum(1 for c in calls if c.outcome != "complete" and c.stopped_at is None)
                        self._phase(
                            batch,
                            "completed",
                            calls_total=len(calls),
                            calls_successful=len(calls) - failed,
                            calls_failed=failed,
                        )
                elif waiting and len(done) + len(waiting) == len(calls):
                    self._phase(batch, "waiting_for_scheduled_calls")
            for event in batch.pop("pending_events", []):
                due.append((str(batch["status_webhook"]), event))
        return due

    async def post_status(self, url: str, event: dict[str, Any]) -> None:
        """One attempt, ten seconds at most, never retried; a failure is logged and forgotten."""
        body = json.dumps(event, separators=(",", ":")).encode()
        try:
            response = await self._http.post(
                url, content=body, headers={"Content-Type": "application/json"}, timeout=STATUS_TIMEOUT
            )
            self.webhooks_sent.append((f"{event['batch_id']}:{event['status']}", response.status_code))
        except httpx.HTTPError as exc:
            log.warning("status webhook to %s failed: %s (not retried)", url, exc)
            self.webhooks_sent.append((f"{event['batch_id']}:{event['status']}", None))

    def _v2_batch(self, request: web.Request) -> dict[str, Any] | None:
        batch = self.batches.get(request.match_info["batch_id"])
        return batch if batch is not None and batch.get("api") == "v2" else None

    def _meta(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": batch["id"],
            "user_id": "org-sim",
            "base_prompt": json.dumps(batch["global"]),  # `global`, as a JSON string
            "created_at": iso(batch["created_at"]),
            "call_objects": batch["call_objects"][:3],  # "a preview"
            "description": batch["description"],
        }

    async def _list_v2(self, request: web.Request) -> web.Response:
        if (off := self._v2_off()) is not None:
            return off
        try:
            take = int(request.query.get("take", 100))
            skip = int(request.query.get("skip", 0))
        except ValueError:
            return _errors("take and skip must be integers.")
        batches = sorted(
            (b for b in self.batches.values() if b.get("api") == "v2"),
            key=lambda b: b["created_at"],
            reverse=True,
        )
        return web.json_response(
            {"data": [self._meta(b) for b in batches[skip : skip + take]], "errors": None}
        )

    async def _get_v2(self, request: web.Request) -> web.Response:
        if (off := self._v2_off()) is not None:
            return off
        batch = self._v2_batch(request)
        if batch is None:
            return _errors("Batch not found.", "BATCH_NOT_FOUND", 404)
        return web.json_response({"data": self._meta(batch), "errors": None})

    async def _logs_v2(self, request: web.Request) -> web.Response:
        if (off := self._v2_off()) is not None:
            return off
        batch = self._v2_batch(request)
        if batch is None:
            return _errors("Batch not found.", "BATCH_NOT_FOUND", 404)
        logs = list(batch["logs"])
        if request.query.get("direction", "desc") != "asc":
            logs.reverse()
        skip = int(request.query.get("skip", 0))
        take = int(request.query.get("take", len(logs) or 1))
        return web.json_response({"data": logs[skip : skip + take], "errors": None})

    async def _stop_v2(self, request: web.Request) -> web.Response:
        if (off := self._v2_off()) is not None:
            return off
        batch = self._v2_batch(request)
        if batch is None:
            return _errors("Batch not found.", "BATCH_NOT_FOUND", 404)
        now = self.clock.now()
        for call_id in batch["call_ids"]:
            call = self.calls[call_id]
            if not call.is_done(now):
                call.stopped_at = now  # live calls are cut short; scheduled ones never ring
        batch["stopped"] = True
        return web.json_response({"data": None, "errors": None})
