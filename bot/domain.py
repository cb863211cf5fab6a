"""The domain's values and state machines (ARCHITECTURE.md, "State machines"): every stored state is an
enum with the table of its moves beside it, and the store refuses a move that is not in its table.

This module imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class RequestState(StrEnum):
    """A batch request, from the modal to Bland."""

    PENDING = "pending"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    SEND_FAILED = "send_failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def decided(self) -> bool:
        """Return whether a person decided it (approved or rejected, and what followed)."""
        return self not in {RequestState.PENDING, RequestState.EXPIRED, RequestState.CANCELLED}


REQUEST_TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    RequestState.PENDING: frozenset(
        {RequestState.APPROVED, RequestState.REJECTED, RequestState.CANCELLED, RequestState.EXPIRED}
    ),
    # An approved request held for calling hours may be cancelled before it goes out.
    RequestState.APPROVED: frozenset({RequestState.SENDING, RequestState.CANCELLED}),
    RequestState.SENDING: frozenset(
        {RequestState.SENT, RequestState.SEND_FAILED, RequestState.OUTCOME_UNKNOWN}
    ),
    RequestState.OUTCOME_UNKNOWN: frozenset({RequestState.SENT, RequestState.SEND_FAILED}),
}


def may_move(from_state: RequestState, to_state: RequestState) -> bool:
    """Return whether the request state machine allows this move."""
    return to_state in REQUEST_TRANSITIONS.get(from_state, frozenset())


def check_move(table: Mapping[E, frozenset[E]], from_state: E, to_state: E) -> None:
    """Raise ValueError unless `table` allows the move (the store's guard, for every state machine)."""
    if to_state not in table.get(from_state, frozenset()):
        raise ValueError(f"no transition {from_state} -> {to_state}")


class BatchApi(StrEnum):
    """Bland's two batch APIs: the original documents' (`/v1/batches`) and today's (`/v2/batches`)."""

    V1 = "v1"
    V2 = "v2"


class Kind(StrEnum):
    """What the poller tracks."""

    CALL = "call"
    BATCH = "batch"
    BACKFILL = "backfill"


class TrackedState(StrEnum):
    """A tracked item's life: active until done, failed, or given up (too old, or Bland forgot it)."""

    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"
    GAVE_UP = "gave_up"


TRACKED_TRANSITIONS: dict[TrackedState, frozenset[TrackedState]] = {
    TrackedState.ACTIVE: frozenset(
        {TrackedState.ACTIVE, TrackedState.DONE, TrackedState.FAILED, TrackedState.GAVE_UP}
    ),
}


class Topic(StrEnum):
    """What a channel can subscribe to."""

    CALLS = "calls"
    BATCHES = "batches"
    BACKFILLS = "backfills"
    APPROVALS = "approvals"
    ALL = "all"


class WorkflowState(StrEnum):
    """A backfill workflow's status (docs/bland.md, "Citation schemas and backfills"), and the two this bot adds for its own parts."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"
    TIMED_OUT = "TIMED_OUT"
    # Not Bland's: an SMS backfill answered at once, and a part Bland refused or that never got an id.
    SMS_DONE = "SMS DONE"


WORKFLOW_TERMINAL = frozenset(
    {WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.TERMINATED, WorkflowState.TIMED_OUT}
)


class BackfillState(StrEnum):
    """A backfill plan: kept as a draft until confirmed, then submitted once."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


BACKFILL_TRANSITIONS: dict[BackfillState, frozenset[BackfillState]] = {
    BackfillState.DRAFT: frozenset({BackfillState.SUBMITTED}),
}


class CallState(StrEnum):
    """A call as its card shows it (Bland's many statuses mapped, docs/bland.md, "Call statuses")."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, stored: str | None) -> CallState:
        """Read a state stored as text; anything else is unknown."""
        try:
            return cls(stored or cls.UNKNOWN)
        except ValueError:
            return cls.UNKNOWN

    @property
    def live(self) -> bool:
        """Return whether the call may still be stopped (its card keeps Stop and Refresh)."""
        return self in {CallState.QUEUED, CallState.IN_PROGRESS, CallState.UNKNOWN}


class CallRequestState(StrEnum):
    """A call being placed: `sending` until Bland's answer is recorded (or the call is found after a crash)."""

    SCHEDULED = "scheduled"  # outside calling hours: placed at send_at
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    NOT_PLACED = "not_placed"


CALL_REQUEST_TRANSITIONS: dict[CallRequestState, frozenset[CallRequestState]] = {
    # Scheduled for calling hours: claimed for sending when due, or never placed (its number was erased).
    CallRequestState.SCHEDULED: frozenset({CallRequestState.SENDING, CallRequestState.NOT_PLACED}),
    CallRequestState.SENDING: frozenset(
        {
            CallRequestState.SENT,
            CallRequestState.FAILED,
            CallRequestState.OUTCOME_UNKNOWN,
            CallRequestState.NOT_PLACED,  # a send cut off by a crash that Bland has no record of
        }
    ),
    # Looked for in Bland's call list: found (sent) or, after the last look, not placed.
    CallRequestState.OUTCOME_UNKNOWN: frozenset({CallRequestState.SENT, CallRequestState.NOT_PLACED}),
}


class BatchState(StrEnum):
    """A sent batch as its live card shows it."""

    RUNNING = "running"
    STOPPING = "stopping"
    COMPLETED = "completed"
    STOPPED = "stopped"
    UNKNOWN = "unknown"

    @property
    def live(self) -> bool:
        """Return whether the batch may still be stopped (its card keeps Stop and Refresh)."""
        return self in {BatchState.RUNNING, BatchState.UNKNOWN}


class BackfillOutcome(StrEnum):
    """A backfill's workflows summed up: still running, all completed, or any failed."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class AuditOutcome(StrEnum):
    """The outcome column of an audit entry."""

    SUBMITTED = "submitted"
    PENDING = "pending"
    SENT = "sent"
    OK = "ok"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    SEND_FAILED = "send_failed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    STOPPED = "stopped"
    ALREADY_FINISHED = "already_finished"
    CREATED = "created"
    UPDATED = "updated"
    ADDED = "added"
    REMOVED = "removed"
    UNCHANGED = "unchanged"
    UPLOADED = "uploaded"
    SCHEDULED = "scheduled"
    ERASED = "erased"


class DncSource(StrEnum):
    """How a number came onto the do-not-call list."""

    MANUAL = "manual"  # /bland dnc add
    IMPORT = "import"  # /bland dnc import
    OPT_OUT = "opt_out"  # the callee asked, during a call (OPT_OUT_VARIABLE)
    ERASURE = "erasure"  # /bland forget: listed by its keyed hash only


class AuditAction(StrEnum):
    """The action column of an audit entry."""

    CALL_SEND = "call.send"
    CALL_STOP = "call.stop"
    CALL_TRACK = "call.track"
    BATCH_REQUEST = "batch.request"
    BATCH_APPROVE = "batch.approve"
    BATCH_REJECT = "batch.reject"
    BATCH_CANCEL = "batch.cancel"
    BATCH_EXPIRE = "batch.expire"
    BATCH_SEND = "batch.send"
    BATCH_STOP = "batch.stop"
    BATCH_TRACK = "batch.track"
    SCHEMA_CREATE = "schema.create"
    SCHEMA_UPDATE = "schema.update"
    BACKFILL_START = "backfill.start"
    SUBSCRIPTION_ADD = "subscription.add"
    SUBSCRIPTION_REMOVE = "subscription.remove"
    AUDIT_EXPORT = "audit.export"
    RECORDING_GET = "recording.get"
    DNC_ADD = "dnc.add"
    DNC_REMOVE = "dnc.remove"
    DNC_IMPORT = "dnc.import"
    NUMBER_FORGET = "number.forget"
    CALLS_STOP_ALL = "calls.stop_all"
    CALLS_EXPORT = "calls.export"
    BATCH_EXPORT = "batch.export"


def card_key(kind: str, ident: str) -> str:
    """Return the delivery key of a card (a message updated in place whose thread holds what follows).

    `kind` is a tracked kind, `batch_request` (approval cards) or `backfill`.
    """
    return f"{kind}:{ident}:card"
