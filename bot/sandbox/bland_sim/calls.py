"""Calls: planning a call's life in simulated time, rendering it, and the /v1/calls routes."""

from __future__ import annotations

import logging
import re
import time
import uuid
from bisect import bisect_left, bisect_right, insort
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sandbox import sim_content
from bot.sandbox.bland_sim.state import ERROR_STATUSES, SimCall, SimState, iso

log = logging.getLogger(__name__)


# A batch's call_data[] rows, as GET /v1/batches/{id} shows them (seed 003's example and table).
BATCH_ROW_FIELDS = (
    "status",
    "corrected_duration",
    "end_at",
    "call_id",
    "to",
    "from",
    "completed",
    "created_at",
    "queue_status",
    "endpoint_url",
    "max_duration",
    "error_message",
    "answered_by",
    "request_data",
    "call_length",
)


class CallRoutes(SimState):
    """Calls: planning a call's life in simulated time, rendering it, and the /v1/calls routes."""

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
        self,
        payload: dict[str, Any],
        to: str,
        *,
        created_at: float,
        batch_id: str | None,
        begins_at: float | None = None,
    ) -> SimCall:
        """Plan a call's life from `created_at`, or (scheduled) from `begins_at`: listed as `new` until then."""
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
        begins = begins_at if begins_at is not None else created_at
        queue_at = begins + 0.5
        start_at = begins + config.queue_seconds + config.ring_seconds
        if batch_id is not None and (over := self.over_cap(begins)):
            outcome, error_message, answered_by = "queue_error", f"Call rejected: {over}", "no-answer"
        insort(self.dial_times, begins)
        if outcome == "call_error":
            talk = min(talk, 10.0)
        vary = config.vary_forms
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
            said_completed=vary and self.forms.random() < 0.5,
            bare_to=vary and to.startswith("+1") and self.forms.random() < 0.5,
            answered_by_list=vary and self.forms.random() < 0.5,
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
            if call.analysis is not None and answered_by in {"human", "unknown"}:
                scripted = config.analysis_answers
                call.analysis.update({k: v for k, v in scripted.items() if k in call.analysis})
            call.citations = self._cite(payload.get("citation_schema_ids"), answered_by)
        self.calls[call_id] = call
        return call

    def over_cap(self, at: float) -> str | None:
        """Which of the plan's caps a call dialled at `at` would pass (the daily cap counts the UTC day's
        calls, the hourly one those of the 60 minutes up to `at`)."""
        config = self.config
        times = self.dial_times
        if config.daily_cap is not None:
            day = datetime.fromtimestamp(at, UTC).date()
            start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
            if bisect_left(times, start + 86400) - bisect_left(times, start) >= config.daily_cap:
                return f"the plan's daily call limit ({config.daily_cap}) is reached."
        if (
            config.hourly_cap is not None
            and bisect_right(times, at) - bisect_right(times, at - 3600) >= config.hourly_cap
        ):
            return f"the plan's hourly call limit ({config.hourly_cap}) is reached."
        return None

    def _refusal(self, to: str) -> str | None:
        """Why a single call to `to` is refused now (429): the same number within 10 s, or a plan cap."""
        now = self.clock.now()
        last = self.last_dialled.get(to)
        if last is not None and now - last < self.config.same_number_seconds:
            return "Calls can only be sent every 10 seconds to the same number."
        over = self.over_cap(now)
        if over:
            return f"Rate limit exceeded: {over}"
        cap = self.config.concurrent_cap
        if cap is not None and sum(1 for c in self.calls.values() if not c.is_done(now)) >= cap:
            return f"Rate limit exceeded: the plan's concurrent call limit ({cap}) is reached."
        return None

    def _cite(self, schema_ids: Any, answered_by: str) -> list[dict[str, Any]] | None:
        """What the call's citation schemas extract: each schema's variables, when someone answered."""
        if not isinstance(schema_ids, list) or not schema_ids:
            return None
        if answered_by not in {"human", "unknown"}:
            return []
        cited = []
        for schema_id in schema_ids:
            schema = self.schemas.get(schema_id)
            variables = ((schema or {}).get("schema") or {}).get("variables") or []
            values = {
                v["name"]: sim_content.typed_value(self.rng, v["name"], v.get("type"))
                for v in variables
                if isinstance(v, dict) and v.get("name")
            }
            scripted = self.config.analysis_answers
            values.update({k: v for k, v in scripted.items() if k in values})
            cited.append({"schema_id": schema_id, "variables": values})
        return cited

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
            "to": call.to.removeprefix("+1") if call.bare_to and light else call.to,
            "from": "+15550100999",
            "completed": done,
            "queue_status": status,
            "error_message": call.error_message
            if status in ERROR_STATUSES
            else ("Batch stopped before the call started." if status == "queue_error" else None),
            # Today's documents fill answered_by on every call; the original ones only with answered_by_enabled.
            "answered_by": call.answered_by
            if done and (call.payload.get("answered_by_enabled") or not self.config.answered_by_needs_flag)
            else None,
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
                # The plan's rate a connected minute, and never under the per-attempt minimum.
                "price": round(max(self.config.minimum_charge, self.config.price_per_minute * talk / 60), 4)
                if done
                else None,
                "local_dialing": False,
                # ASSISTANT or USER are the documented values; what a stop through the API shows is not
                # documented, so a stopped call names no one.
                "call_ended_by": "ASSISTANT"
                if done
                and status == "complete"
                and not (call.stopped_at is not None and call.stopped_at < call.end_at)
                else None,
                "transferred_to": None,
                "pathway_logs": None,
                "analysis_schema": call.payload.get("analysis_schema"),
                "analysis": call.analysis if summary_ready else None,
                **(
                    {"citations": call.citations if summary_ready else None}
                    if call.citations is not None
                    else {}
                ),
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
        if status == "complete" and call.said_completed:
            body["queue_status"] = "completed"  # the call-details example's word for the table's `complete`
        if self.config.convenience_fields and "task" in call.payload:
            body["task"] = call.payload["task"]
        return body

    def batch_row(self, call: SimCall, *, transcripts: bool) -> dict[str, Any]:
        """Render a call as a batch's `call_data[]` row: only the fields its documents show."""
        full = self.call_json(call)
        row = {key: full[key] for key in BATCH_ROW_FIELDS}
        row["queue_status"] = call.queue_status(self.clock.now())  # the batch example says `complete`
        if call.bare_to:
            row["to"] = call.to.removeprefix("+1")
        if call.answered_by_list and row["answered_by"] is not None:
            row["answered_by"] = [row["answered_by"]]  # typed "array" in the batch table
        if transcripts:
            row["transcripts"] = [
                {key: line[key] for key in ("id", "created_at", "text", "user", "c_id")}
                for line in full["transcripts"]
            ]
        return row

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
        errors += _setting_errors(body)
        if self.config.documented_keys_only and (extra := sorted(set(body) - SEND_CALL_KEYS)):
            errors.append(
                f"Additional properties are not allowed ({', '.join(map(repr, extra))} were unexpected)"
            )
        if errors or to is None:
            return self._invalid(errors)
        refused = self._refusal(to)
        if refused:
            return web.json_response({"status": "error", "message": refused}, status=429)
        self.last_dialled[to] = self.clock.now()
        call = self._plan_call(body, to, created_at=self.clock.now(), batch_id=None)
        if self.config.vary_forms and self.forms.random() < 0.5:
            return web.json_response({"status": "success", "call_id": call.call_id})  # the simple doc's form
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

    async def _get_recording(self, request: web.Request) -> web.Response:
        """A recorded, finished call's recording: a link as JSON, or the MP3 itself (docs/bland.md, "Stopping and recordings")."""
        call = self.calls.get(request.match_info["call_id"])
        if call is None or not call.payload.get("record") or not call.is_done(self.clock.now()):
            return web.json_response({"status": "error", "message": "Recording not found"}, status=404)
        if "audio/mpeg" in request.headers.get("accept", ""):
            return web.Response(body=b"ID3\x03\x00\x00\x00", content_type="audio/mpeg")
        return web.json_response({"status": "success", "url": f"{self.url}/recordings/{call.call_id}.mp3"})

    async def _recording_audio(self, request: web.Request) -> web.Response:
        """`GET /v1/recordings/{call_id}`: the audio itself, MP3 when asked with `content-type: audio/mpeg`,
        WAV by default; a call with none answers the documents' error envelope (with 404: the status is not
        documented). Routes of the older API (`recordings_route: false`) answer 404 with no envelope."""
        if not self.config.recordings_route:
            return web.json_response({"status": "error", "message": "Not found"}, status=404)
        call = self.calls.get(request.match_info["call_id"])
        if call is None or not call.payload.get("record") or not call.is_done(self.clock.now()):
            return web.json_response(
                {
                    "data": None,
                    "errors": [{"error": "CALL_RECORDING_NOT_FOUND", "message": "Call recording not found"}],
                },
                status=404,
            )
        seed = call.call_id.encode()
        if "audio/mpeg" in request.headers.get("content-type", ""):
            return web.Response(
                body=b"ID3\x03\x00\x00\x00\x00\x00\x00" + seed * 64, content_type="audio/mpeg"
            )
        return web.Response(body=b"RIFF\x24\x00\x00\x00WAVEfmt " + seed * 64, content_type="audio/wav")

    async def _recording_file(self, request: web.Request) -> web.Response:
        """A recording link (`recording_url`, or the older endpoint's `url`): the MP3, with no key needed."""
        call = self.calls.get(request.match_info["name"].removesuffix(".mp3"))
        if call is None or not call.payload.get("record") or not call.is_done(self.clock.now()):
            return web.Response(status=404, text="Not found")
        return web.Response(
            body=b"ID3\x03\x00\x00\x00\x00\x00\x00" + call.call_id.encode() * 64, content_type="audio/mpeg"
        )

    async def _me(self, request: web.Request) -> web.Response:
        """`GET /v1/me`: the balance is what the account started with less what its calls cost so far."""
        now = self.clock.now()
        spent = sum(
            max(
                self.config.minimum_charge,
                self.config.price_per_minute * max(0.0, c.effective_end() - c.start_at) / 60,
            )
            for c in self.calls.values()
            if c.is_done(now)
        )
        return web.json_response(
            {
                "status": "active",
                "billing": {
                    "current_balance": round(self.config.balance - spent, 4),
                    "refill_to": self.config.refill_to,
                },
                "total_calls": len(self.calls),
            }
        )

    async def _list_calls(self, request: web.Request) -> web.Response:
        query = request.query
        calls = sorted(
            self.calls.values(), key=lambda c: c.created_at, reverse=query.get("ascending", "false") != "true"
        )
        now = self.clock.now()
        if "batch_id" in query:
            calls = [c for c in calls if c.batch_id == query["batch_id"]]
        if "created_at" in query and ("start_date" in query or "end_date" in query):
            return web.json_response(
                {"status": "error", "message": "created_at cannot be combined with start_date or end_date"},
                status=400,
            )
        if "created_at" in query:
            calls = [c for c in calls if iso(c.created_at)[:10] == query["created_at"]]
        # A date (UTC) or a whole ISO 8601 date-time with its offset, both ends inclusive.
        for key in ("start_date", "end_date"):
            if key in query:
                bound = _list_bound(query[key])
                if bound is None:
                    return web.json_response(
                        {"status": "error", "message": f"Invalid {key}: {query[key]}"}, status=400
                    )
                calls = [c for c in calls if _within(c.created_at, bound, after=key == "start_date")]
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
        body: dict[str, Any] = {"count": len(page), "calls": [self.call_json(c, light=True) for c in page]}
        # The documents' table lists total_count; their example omits it. Either may come (docs/bland.md, "Listing and reading calls").
        sends_total = self.config.list_total_count
        if sends_total if sends_total is not None else self.forms.random() < 0.5:
            body = {"total_count": total, **body}
        return web.json_response(body)

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


# Send Call's parameters as Bland documents them today (docs/bland.md, "Calls").
SEND_CALL_KEYS = frozenset(
    {
        "phone_number", "task", "pathway_id", "pathway_version", "persona_id", "voice", "first_sentence",
        "model", "language", "max_duration", "record", "start_time", "timezone", "from", "dialing_strategy",
        "voicemail", "retry", "metadata", "request_data", "webhook", "webhook_events", "summary_prompt",
        "citation_schema_ids", "dispositions", "post_call_evals", "guard_rails", "tools", "dynamic_data",
        "keywords", "transfer_phone_number", "transfer_list", "background_track", "interruption_threshold",
        "interruptibility", "wait_for_greeting", "temperature", "pronunciation_guide", "ignore_button_press",
        "precall_dtmf_sequence", "noise_cancellation", "block_interruptions", "stream_post_transfer_transcript",
        "encrypted_key",
    }
)  # fmt: skip


def _setting_errors(body: dict[str, Any]) -> list[str]:
    """The documented 400s of the settings the bot sends (docs/bland.md, "Calls")."""
    errors = []
    summary = body.get("summary_prompt")
    if summary is not None and (not isinstance(summary, str) or len(summary) > 2000):
        errors.append("summary_prompt must be a string of at most 2000 characters.")
    voicemail = body.get("voicemail")
    if voicemail is not None:
        action = voicemail.get("action", "hangup") if isinstance(voicemail, dict) else None
        if action not in ("hangup", "leave_message", "ignore"):
            errors.append("voicemail.action must be one of hangup, leave_message, ignore.")
        elif action == "leave_message" and not voicemail.get("message"):
            errors.append("voicemail.message is required when voicemail.action is leave_message.")
    schemas = body.get("citation_schema_ids")
    if schemas is not None:
        if not isinstance(schemas, list) or not all(isinstance(i, str) for i in schemas):
            errors.append("citation_schema_ids must be an array of strings.")
        elif body.get("record") is False:
            errors.append("Citations require call recording: record cannot be false.")
    return errors


def _within(created_at: float, bound: str | float, *, after: bool) -> bool:
    """Whether a call made at `created_at` is on the kept side of a list filter's bound (inclusive)."""
    mine: str | float = iso(created_at)[:10] if isinstance(bound, str) else created_at
    return bool(mine >= bound if after else mine <= bound)  # type: ignore[operator]


def _list_bound(text: str) -> str | float | None:
    """A list filter's date (`YYYY-MM-DD`, kept as text) or date-time (epoch seconds); None: neither."""
    try:
        if len(text) == 10:
            datetime.strptime(text, "%Y-%m-%d")
            return text
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC).timestamp()
