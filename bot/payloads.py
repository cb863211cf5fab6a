"""What the approver approves is exactly what is sent: the frozen body of a batch request, typed.

A `BatchPayload` keeps the JSON as it was frozen (so its fingerprint never changes with a parser's taste
for `5` or `5.0`) and gives everyone else typed fields instead of string keys. It is also where the body
becomes the request Bland receives (`to_bland`), in either of Bland's batch APIs: the stored body is the
same for both (v1's shape, the bot's own record), and the difference between them lives here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.domain import BatchApi

# v2's `description` (the batch's label in Bland's dashboard and list) holds at most 60 characters.
DESCRIPTION_MAX = 60
# The settings a frozen body may carry that v2 takes in `global`, shared by every call object.
_SHARED = ("voice", "max_duration", "record", "from", "summary_prompt", "citation_schema_ids", "voicemail")
# Keys Bland's documents no longer describe (docs/bland.md, "Calls"): bodies frozen before the bot stopped
# writing them still hold them, and they are never sent.
_RETIRED = ("answered_by_enabled", "analysis_schema")
_MARKER = re.compile(r"\s*(\[blandbot:[^\]]+\])\s*$")


def label_marker(request_id: str) -> str:
    """The marker that finds a request's batch in Bland's batch list (in v1's label, v2's description)."""
    return f"[blandbot:{request_id}]"


def description(label: str) -> str:
    """A tagged label as v2's `description`: at most 60 characters, the label cut, never the marker."""
    found = _MARKER.search(label)
    marker = found.group(1) if found else ""
    text = label[: found.start()] if found else label
    room = DESCRIPTION_MAX - len(marker) - (1 if marker and text else 0)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…" if room > 1 else ""
    return f"{text} {marker}".strip() if marker else text[:DESCRIPTION_MAX]


def start_time(epoch: float) -> str:
    """A call's `start_time` for Bland: UTC, the offset left out (the documents write the offset two ways,
    with and without a space, and say a time without one is UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def canonical_fingerprint(body: Mapping[str, Any]) -> str:
    """The sha256 of a body's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class BatchPayload:
    """A batch request's frozen body (`POST /v1/batches`): the prompt, the rows and the shared settings."""

    __slots__ = ("_body",)

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._body = copy.deepcopy(dict(body))

    @classmethod
    def from_json(cls, text: str) -> BatchPayload:
        """Read a stored body."""
        loaded = json.loads(text or "{}")
        return cls(loaded if isinstance(loaded, dict) else {})

    def to_json(self) -> str:
        """The body as stored."""
        return json.dumps(self._body, sort_keys=True)

    def to_bland(
        self,
        api: BatchApi = BatchApi.V1,
        *,
        webhook: str | None = None,
        status_webhook: str | None = None,
        starts: Mapping[int, float] | None = None,
    ) -> dict[str, Any]:
        """The request Bland receives, in `api`'s shape; the same rows, prompt and settings either way.

        Delivery settings are added here, outside the fingerprint: where Bland reports each call
        (`webhook`) and the batch (`status_webhook`: v1's `batch_webhook`), and, on v2, each row's own
        `start_time` (`starts`: row index → epoch seconds), worked out when it is sent."""
        if api is BatchApi.V1:
            body = {k: copy.deepcopy(v) for k, v in self._body.items() if k not in _RETIRED}
            return (
                {**body, "webhook": webhook, "batch_webhook": status_webhook or webhook} if webhook else body
            )
        shared: dict[str, Any] = {"task": self.prompt}
        shared.update({key: copy.deepcopy(self._body[key]) for key in _SHARED if key in self._body})
        rows = self.rows[:1] if self.test_mode else self.rows
        calls = []
        for index, row in enumerate(rows):
            call: dict[str, Any] = {"phone_number": row.get("phone_number")}
            values = {k: v for k, v in row.items() if k != "phone_number"}
            if values:
                call["request_data"] = values
            call["metadata"] = {**self.metadata, "row": index}
            if webhook:
                call["webhook"] = webhook
            if starts and index in starts:
                call["start_time"] = start_time(starts[index])
            calls.append(call)
        body = {"global": shared, "call_objects": calls, "description": description(self.label)}
        if status_webhook:
            body["status_webhook"] = status_webhook
        return body

    def fingerprint(self) -> str:
        """What the approver approved: the sha256 of the body's canonical JSON."""
        return canonical_fingerprint(self._body)

    def replace(self, **fields: Any) -> BatchPayload:
        """A copy with some fields replaced (a wave's rows and label; an erasure's rows)."""
        return BatchPayload({**self._body, **fields})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BatchPayload) and other._body == self._body

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        return f"BatchPayload({len(self.rows)} rows, fingerprint {self.fingerprint()[:12]})"

    # -- what people and flows read --------------------------------------------------------------

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The recipients: each a `phone_number` and its placeholders' values (absent in list reads)."""
        rows = self._body.get("call_data") or []
        return [row for row in rows if isinstance(row, dict)]

    @property
    def numbers(self) -> list[str]:
        """Every row's phone number, in order."""
        return [str(row.get("phone_number")) for row in self.rows]

    @property
    def prompt(self) -> str:
        return str(self._body.get("base_prompt") or "")

    @property
    def label(self) -> str:
        return str(self._body.get("label") or "")

    @property
    def voice(self) -> str | None:
        voice = self._body.get("voice")
        return str(voice) if voice else None

    @property
    def max_minutes(self) -> float:
        """The most a call may last, in minutes (0 when unset)."""
        try:
            return float(self._body.get("max_duration") or 0)
        except (TypeError, ValueError):
            return 0.0

    @property
    def record(self) -> bool:
        return bool(self._body.get("record"))

    @property
    def test_mode(self) -> bool:
        """Only the first row is dialled."""
        return bool(self._body.get("test_mode"))

    @property
    def from_number(self) -> str | None:
        number = self._body.get("from")
        return str(number) if number else None

    @property
    def metadata(self) -> dict[str, Any]:
        metadata = self._body.get("metadata")
        return dict(metadata) if isinstance(metadata, dict) else {}
