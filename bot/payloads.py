"""What the approver approves is exactly what is sent: the frozen body of a batch request, typed.

A `BatchPayload` keeps the JSON as it was frozen (so its fingerprint never changes with a parser's taste
for `5` or `5.0`) and gives everyone else typed fields instead of string keys. It is also where the body
becomes the request Bland receives (`to_bland`): when Bland's batch API gains a second protocol, the
difference lives here.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any


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

    def to_bland(self) -> dict[str, Any]:
        """The body Bland receives (a copy: delivery settings such as webhooks are added to it, not here)."""
        return copy.deepcopy(self._body)

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
