"""Batches: /v1/batches, their analysis buckets and stops."""

from __future__ import annotations

import logging
import string
from typing import Any

from aiohttp import web

from bot.sandbox import sim_content
from bot.sandbox.bland_sim.calls import CallRoutes
from bot.sandbox.bland_sim.state import LENGTH_BUCKETS, SimCall, iso

log = logging.getLogger(__name__)


class BatchRoutes(CallRoutes):
    """Batches: /v1/batches, their analysis buckets and stops."""

    def _v1_off(self) -> web.Response | None:
        """A Bland that speaks only v2 answers every v1 batch route 404."""
        if self.config.batch_api == "v2":
            return web.json_response({"status": "error", "message": "Not found"}, status=404)
        return None

    def _batch_id(self) -> str:
        alphabet = string.ascii_letters + string.digits + "$"
        return "".join(self.rng.choice(alphabet) for _ in range(16)) + "-gen-batch"

    async def _send_batch(self, request: web.Request) -> web.Response:
        if (off := self._v1_off()) is not None:
            return off
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
            "batch_webhook": body.get("batch_webhook"),
        }
        return web.json_response({"message": "success", "batch_id": batch_id})

    async def _list_batches(self, request: web.Request) -> web.Response:
        if (off := self._v1_off()) is not None:
            return off
        query = request.query
        batches = sorted(
            (b for b in self.batches.values() if b.get("api") != "v2"),
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
        if (off := self._v1_off()) is not None:
            return off
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None or batch.get("api") == "v2":
            return web.json_response({"status": "error", "message": "Batch not found."}, status=404)
        query = request.query
        include_calls = query.get("include_calls", "true") == "true"
        include_transcripts = include_calls and query.get("include_transcripts", "true") == "true"
        include_analysis = query.get("include_analysis", "true") == "true"
        now = self.clock.now()
        calls = [self.calls[cid] for cid in batch["call_ids"]]
        closes = self.batch_completed(batch, now)
        body: dict[str, Any] = {
            "status": "completed" if closes else "in-progress",
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
            rows = [self.batch_row(call, transcripts=include_transcripts) for call in calls]
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
        if (off := self._v1_off()) is not None:
            return off
        batch_id = request.match_info["batch_id"]
        batch = self.batches.get(batch_id)
        if batch is None or batch.get("api") == "v2":
            return web.json_response({"status": "error", "message": "Batch not found."}, status=404)
        now = self.clock.now()
        live = [self.calls[cid] for cid in batch["call_ids"] if not self.calls[cid].is_done(now)]
        if not live:
            return web.json_response(
                {"status": "error", "message": "Batch has already completed.", "batch_id": batch_id}
            )
        for call in live:
            call.stopped_at = now
        completes = self.config.stopped_batch_completes
        batch["completes"] = completes if completes is not None else self.forms.random() < 0.5
        # `batch_id` is typed an array in the documents' table and a string in their example.
        echoed: str | list[str] = (
            [batch_id] if self.config.vary_forms and self.forms.random() < 0.5 else batch_id
        )
        return web.json_response(
            {
                "status": "success",
                "message": "Successfully stopped batch",
                "num_calls": len(live),
                "batch_id": echoed,
            }
        )
