"""Lenient models of Bland's replies: every field optional, unknown fields kept (docs/bland.md, "Transport")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain import WORKFLOW_TERMINAL

TERMINAL_QUEUE_STATUSES = frozenset(
    {"complete", "completed", "pre_queue_error", "queue_error", "call_error", "complete_error"}
)
ERROR_QUEUE_STATUSES = frozenset({"pre_queue_error", "queue_error", "call_error"})


class BlandModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def iso_time(at: float) -> str:
    """A time as Bland's list filters take it (`start_date`, `end_date`): ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def epoch(stamp: str | None) -> float | None:
    """A Bland timestamp (ISO 8601; `Z`, an offset, or none, which is UTC) in epoch seconds; None when absent
    or unreadable."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _opt_str(value: Any) -> Any:
    return None if value is None else str(value)


def _plus(value: Any) -> Any:
    """Write a number Bland returned without `+` in E.164 where its form says how (docs/bland.md, "Transport").

    The call example shows `+12223334444`; the list and batch examples `5551234567` and `1112223333`:
    ten digits are a North American number (Bland's default region), eleven starting with 1 the same with
    its country code. Anything else is kept as Bland wrote it.
    """
    if not isinstance(value, str):
        return value
    digits = value.strip()
    if digits.isdigit() and len(digits) == 10:
        return "+1" + digits
    if digits.isdigit() and len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return value


class TranscriptLine(BlandModel):
    id: int | str | None = None
    text: str | None = None
    user: str | None = None
    created_at: str | None = None


class Call(BlandModel):
    """A call as GET /v1/calls/{id}, the call list, batch rows and webhooks describe it."""

    call_id: str | None = None
    c_id: str | None = None
    to: str | None = None
    from_: str | None = Field(None, alias="from")
    queue_status: str | None = None
    status: int | str | None = None
    completed: bool | None = None
    call_length: float | None = None
    corrected_duration: str | float | None = None
    max_duration: float | str | None = None
    price: float | None = None
    answered_by: str | list[Any] | None = None
    summary: str | None = None
    concatenated_transcript: str | None = None
    transcripts: list[TranscriptLine] | None = None
    analysis: dict[str, Any] | None = None
    analysis_schema: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None
    citations: Any = None  # enterprise; its shape is not documented (docs/bland.md, "Calls")
    metadata: dict[str, Any] | None = None
    request_data: dict[str, Any] | None = None
    error_message: str | None = None
    call_ended_by: str | None = None
    batch_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    end_at: str | None = None
    record: bool | None = None
    recording_url: str | None = None

    _ids = field_validator("call_id", "c_id", "batch_id", mode="before")(_opt_str)
    _numbers = field_validator("to", "from_", mode="after")(_plus)

    @property
    def id(self) -> str:
        """Return the call id, whichever key carried it."""
        return self.call_id or self.c_id or ""

    @property
    def normalized_queue_status(self) -> str:
        """Return queue_status with the undocumented `completed` mapped to `complete`."""
        status = (self.queue_status or "").lower()
        return "complete" if status == "completed" else status

    @property
    def is_terminal(self) -> bool:
        """Return whether the call has ended (docs/bland.md, "Call statuses")."""
        return (
            self.completed is True
            or self.normalized_queue_status in TERMINAL_QUEUE_STATUSES
            or str(self.status).lower() == "completed"
        )

    @property
    def is_error(self) -> bool:
        """Return whether the call failed before or during the live call."""
        return self.normalized_queue_status in ERROR_QUEUE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        """Return the actual duration: corrected_duration (seconds), else call_length (minutes)."""
        if self.corrected_duration not in (None, ""):
            try:
                return float(self.corrected_duration)
            except ValueError:
                pass
        return self.call_length * 60 if self.call_length is not None else None

    @property
    def citation_values(self) -> dict[str, Any]:
        """The variables citation schemas extracted, as one name → value map, whatever shape Bland sent:
        a map itself, or a list of per-schema entries holding `variables` (or `final_variables`) maps."""
        found = self.citations
        if isinstance(found, dict):
            return {str(k): v for k, v in found.items() if not isinstance(v, dict | list)}
        values: dict[str, Any] = {}
        for entry in found if isinstance(found, list) else []:
            if not isinstance(entry, dict):
                continue
            inner = entry.get("variables") or entry.get("final_variables")
            if isinstance(inner, dict):
                values.update({str(k): v for k, v in inner.items()})
            elif "name" in entry and "value" in entry:
                values[str(entry["name"])] = entry["value"]
        return values

    @property
    def answered_by_text(self) -> str | None:
        """Return answered_by as one string (one document types it as an array)."""
        if isinstance(self.answered_by, list):
            return ", ".join(str(v) for v in self.answered_by) or None
        return self.answered_by


class SendCallResult(BlandModel):
    status: str | None = None
    message: str | None = None
    call_id: str | None = None
    batch_id: str | None = None

    _ids = field_validator("call_id", "batch_id", mode="before")(_opt_str)


class CallList(BlandModel):
    total_count: int | None = None
    count: int | None = None
    calls: list[Call] = Field(default_factory=list)


class Recording(BlandModel):
    """GET /v1/calls/{id}/recording asked for JSON: `{"status": "success", "url": "…mp3"}`."""

    status: str | None = None
    url: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class RecordingAudio:
    """A call's recording as Bland sent it: the audio bytes and their content type."""

    content: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return "mp3" if "mpeg" in self.content_type or "mp3" in self.content_type else "wav"


class Billing(BlandModel):
    current_balance: float | None = None
    refill_to: float | None = None


class Account(BlandModel):
    """`GET /v1/me`: the account's state and balance (a bare envelope, no `data`)."""

    status: str | None = None
    billing: Billing = Field(default_factory=Billing)
    total_calls: int | None = None

    @property
    def balance(self) -> float | None:
        return self.billing.current_balance


class StopResult(BlandModel):
    status: str | None = None
    message: str | None = None
    num_calls: int | None = None
    batch_id: str | list[str] | None = None


class BatchCreated(BlandModel):
    message: str | None = None
    batch_id: str | None = None

    _ids = field_validator("batch_id", mode="before")(_opt_str)


class BatchAnalysis(BlandModel):
    total_calls: int | None = None
    completed_calls: int | None = None
    in_progress_calls: int | None = None
    queue_statuses: dict[str, int] = Field(default_factory=dict)
    call_lengths: dict[str, Any] | None = None
    call_ids: list[str] = Field(default_factory=list)
    error_messages: list[dict[str, Any]] = Field(default_factory=list)


class BatchParams(BlandModel):
    id: str | None = None
    label: str | None = None
    campaign_id: str | None = None
    created_at: str | None = None
    base_prompt: str | None = None
    call_params: dict[str, Any] | list[Any] | None = None


class Batch(BlandModel):
    status: str | None = None
    batch_params: BatchParams | None = None
    call_data: list[Call] = Field(default_factory=list)
    analysis: BatchAnalysis | None = None

    @property
    def is_done(self) -> bool:
        """Return whether every call of the batch has finished."""
        return (self.status or "").lower() == "completed"


class BatchSummary(BlandModel):
    batch_id: str | None = None
    label: str | None = None
    campaign_id: str | None = None
    created_at: str | None = None
    base_prompt: str | None = None


class BatchList(BlandModel):
    status: str | None = None
    batches: list[BatchSummary] = Field(default_factory=list)


class BatchMeta(BlandModel):
    """A v2 batch as `GET /v2/batches/list` and `/v2/batches/{id}` show it: metadata only (no status, no
    counts, no calls). `base_prompt` is the batch's `global` object as a JSON string, not a prompt."""

    id: str | None = None
    description: str | None = None
    created_at: str | None = None
    base_prompt: str | None = None
    call_objects: list[dict[str, Any]] = Field(default_factory=list)

    _ids = field_validator("id", mode="before")(_opt_str)


class BatchLog(BlandModel):
    """One lifecycle event of a v2 batch (`GET /v2/batches/{id}/logs`): `lifecycle` carries a message and
    a `state_change`, `complete` the final counts."""

    id: str | int | None = None
    batch_id: str | None = None
    event_type: str | None = None
    timestamp: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("payload", mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}


class SchemaVariable(BlandModel):
    name: str
    type: str | None = None
    description: str | None = None


class SchemaGrouping(BlandModel):
    name: str
    variables: list[str] = Field(default_factory=list)
    description: str | None = None


class SchemaCondition(BlandModel):
    condition: dict[str, Any] = Field(default_factory=dict)
    variables: list[SchemaVariable] = Field(default_factory=list)


class SchemaBody(BlandModel):
    variables: list[SchemaVariable] = Field(default_factory=list)
    groupings: list[SchemaGrouping] = Field(default_factory=list)
    conditions: list[SchemaCondition] = Field(default_factory=list)


class CitationSchema(BlandModel):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    org_id: str | None = None
    created_at: str | None = None
    body: SchemaBody | None = Field(None, alias="schema")


class ConversationResult(BlandModel):
    conversation_id: str | None = None
    status: str | None = None
    variables_extracted: int | None = None
    previous_variables: dict[str, Any] = Field(default_factory=dict)
    newly_extracted_variables: dict[str, Any] = Field(default_factory=dict)
    final_variables: dict[str, Any] = Field(default_factory=dict)
    error: Any = None


class BackfillStarted(BlandModel):
    status: str | None = None
    workflow_id: str | None = None
    call_count: int | None = None
    conversation_count: int | None = None
    schema_count: int | None = None
    total_combinations: int | None = None
    message: str | None = None
    conversations: list[ConversationResult] = Field(default_factory=list)


class SchemaProcessed(BlandModel):
    schema_id: str | None = None
    status: str | None = None
    variables_extracted: int | None = None
    error: Any = None


class BackfillCallResult(BlandModel):
    call_id: str | None = None
    status: str | None = None
    schemas_processed: list[SchemaProcessed] = Field(default_factory=list)
    variables_extracted_count: int | None = None
    previous_variables: dict[str, Any] = Field(default_factory=dict)
    newly_extracted_variables: dict[str, Any] = Field(default_factory=dict)
    final_variables: dict[str, Any] = Field(default_factory=dict)
    error_summary: Any = None


class BackfillResult(BlandModel):
    status: str | None = None
    calls: list[BackfillCallResult] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)


class BackfillStatus(BlandModel):
    workflow_id: str | None = None
    status: str | None = None
    run_id: str | None = None
    start_time: str | None = None
    close_time: str | None = None
    result: BackfillResult | None = None

    @property
    def is_terminal(self) -> bool:
        """Return whether the workflow reached a terminal state."""
        return (self.status or "").upper() in WORKFLOW_TERMINAL
