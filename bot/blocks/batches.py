"""Batch messages: the approval card, the live progress card, and the completion summary and CSV."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.bland.models import Batch, BatchAnalysis, Call
from bot.blocks.format import (
    SECTION_LIMIT,
    duration,
    escape,
    fit,
    label_text,
    plural,
    progress_bar,
    redact_text,
    slack_date,
    truncate,
)
from bot.domain import BatchState, RequestState
from bot.ids import ActionId, BlockId, CallbackId
from bot.pricing import Pricing
from bot.store.batch_requests import BatchRequest

SHOWN_ERRORS = 5
HISTOGRAM_WIDTH = 20
LENGTH_BUCKETS: list[tuple[str, float, float]] = [
    ("0–15s", 0, 15),
    ("15–30s", 15, 30),
    ("30–60s", 30, 60),
    ("1–2m", 60, 120),
    ("2–5m", 120, 300),
    ("5m+", 300, float("inf")),
]


@dataclass(frozen=True)
class BatchProgress:
    """What the live card shows: read from GET /v1/batches/{id} with include_calls=false (v1), or counted
    from the call list filtered by batch with the lifecycle from the status webhook or logs (v2)."""

    total: int
    completed: int
    queue_statuses: dict[str, int] = field(default_factory=dict)
    average_seconds: float | None = None
    errors: int = 0
    done: bool = False
    phase: str | None = None  # v2: Bland's lifecycle phase (validating … completed)
    phase_note: str | None = None  # v2: what Bland said with it ("Requested: 100. Dispatched: 100.")
    answered_by: dict[str, int] = field(default_factory=dict)  # v2: ended calls by who answered
    read: int | None = None  # v2: results read so far, of `to_read`, once every call ended
    to_read: int | None = None

    @classmethod
    def of(cls, batch: Batch) -> BatchProgress:
        """Read progress from a batch's analysis."""
        analysis = batch.analysis
        if analysis is None:
            return cls(total=len(batch.call_data), completed=0, done=batch.is_done)
        lengths = analysis.call_lengths or {}
        average = lengths.get("average")
        return cls(
            total=int(analysis.total_calls or 0),
            completed=int(analysis.completed_calls or 0),
            queue_statuses=dict(analysis.queue_statuses),
            # Seconds, though the documents say minutes: in their own example the first call, call_length
            # 0.12345 minutes (7.4 s), is call_lengths.all[0] == 7, and the buckets run "0-5" to "120+"
            # (tests/blocks/test_documented_batches.py).
            average_seconds=float(average) if isinstance(average, (int, float)) else None,
            errors=len(analysis.error_messages),
            done=batch.is_done,
        )

    def as_data(self) -> dict[str, Any]:
        """Return a JSON-able copy, kept on the tracked row for /bland batches."""
        return {
            "total": self.total,
            "completed": self.completed,
            "queue_statuses": self.queue_statuses,
            "average_seconds": self.average_seconds,
            "errors": self.errors,
            "phase": self.phase,
            "phase_note": self.phase_note,
            "answered_by": self.answered_by,
            "read": self.read,
            "to_read": self.to_read,
        }


@dataclass
class CallTally:
    """A batch's progress counted from Bland's call list, one light row at a time (v2 keeps none on the
    batch): states, who answered, average length and errors so far."""

    listed: int = 0
    ended: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    timed: int = 0
    errors: int = 0

    def add(self, call: Call) -> None:
        self.listed += 1
        self.statuses[call.normalized_queue_status or "unknown"] += 1
        if call.is_error:
            self.errors += 1
        if not call.is_terminal:
            return
        self.ended += 1
        self.answered[call.answered_by_text or "unknown"] += 1
        length = call.duration_seconds
        if length is not None and not call.is_error:
            self.seconds += length
            self.timed += 1

    def all_ended(self, expected: int | None) -> bool:
        """Every call listed has ended, and (when known) as many as the batch has are listed."""
        return self.listed > 0 and self.ended == self.listed and (expected is None or self.listed >= expected)

    def progress(
        self,
        *,
        expected: int | None,
        phase: str | None,
        note: str | None,
        done: bool,
        reading: tuple[int, int] | None = None,
    ) -> BatchProgress:
        return BatchProgress(
            total=max(self.listed, expected or 0),
            completed=self.ended,
            queue_statuses=dict(self.statuses),
            average_seconds=self.seconds / self.timed if self.timed else None,
            errors=self.errors,
            done=done,
            phase=phase,
            phase_note=note,
            answered_by=dict(self.answered),
            read=reading[0] if reading else None,
            to_read=reading[1] if reading else None,
        )


@dataclass(frozen=True)
class BatchCardInfo:
    batch_id: str
    label: str
    approver: str | None
    requester: str | None
    progress: BatchProgress | None
    state: BatchState
    stopped_by: str | None = None
    test_mode: bool = False
    note: str | None = None
    stopped_calls: int | None = None  # how many pending calls the stop ended, as Bland counted them
    tally: str | None = None  # once finished: how the calls ended and what they cost (tally_line)


BATCH_STATE = {
    BatchState.RUNNING: "📞 Running",
    BatchState.COMPLETED: "✅ Completed",
    BatchState.STOPPING: "⏹️ Stopping",
    BatchState.STOPPED: "⏹️ Stopped",
    BatchState.UNKNOWN: "❔ Unknown",
}


def stop_batch_button(batch_id: str, label: str) -> ButtonElement:
    """Render the Stop batch button with its confirmation dialog."""
    return ButtonElement(
        text="Stop batch",
        style="danger",
        action_id=ActionId.STOP_BATCH,
        value=batch_id,
        confirm=ConfirmObject(
            title="Stop this batch?",
            text=f"Calls of {fit(label, 100)} that have not finished are stopped now.",  # 300 at most
            confirm="Stop batch",
            deny="Keep going",
            style="danger",
        ),
    )


def batch_line(info: BatchCardInfo) -> str:
    """A batch in one line (a wave on its request's card): its state, how far it is, then its tally."""
    progress = info.progress
    line = BATCH_STATE[info.state]
    if progress is not None:
        line += f" {progress.completed:,}/{progress.total:,}"
    if info.tally:
        line += f" · {fit(info.tally, 300)}"
    return line


def batch_card(info: BatchCardInfo, *, on_request: bool = False) -> tuple[str, list[Block]]:
    """Render the live batch card: progress bar, counts by queue status, length, errors and buttons.

    `on_request`: drawn on its request's approval card, which already says who asked and who approved."""
    label = label_text(info.label)
    heading = (
        f"{BATCH_STATE[info.state]} · batch `{info.batch_id}`"
        if on_request
        else f"{BATCH_STATE[info.state]} · *{label}* `{info.batch_id}`"
    )
    people = []
    if info.requester and not on_request:
        people.append(f"requested by <@{info.requester}>")
    if info.approver and not on_request:
        people.append(f"approved by <@{info.approver}>")
    if info.stopped_by:
        ended = info.stopped_calls
        stopped = f" ({ended} pending call{'s' if ended != 1 else ''} ended undialled or cut short)"
        people.append(f"stopped by <@{info.stopped_by}>" + (stopped if ended is not None else ""))
    lines = [heading, " · ".join(people)] if people else [heading]
    if info.tally:
        lines.append(f"*{fit(info.tally, 1000)}*")
    progress = info.progress
    if progress is not None and info.tally:
        # Finished: the tally says how the calls ended; the thread has the breakdown.
        lines.append(progress_bar(progress.completed, progress.total))
        lines.append(f"Average length {duration(progress.average_seconds)}")
        if progress.phase and progress.phase != "completed":
            said = f": {fit(progress.phase_note, 300)}" if progress.phase_note else ""
            lines.append(f"Bland: {fit(progress.phase.replace('_', ' '), 60)}{said}")
    elif progress is not None:
        lines.append(progress_bar(progress.completed, progress.total))
        counts = " · ".join(
            f"{fit(status, 60)} {count}" for status, count in sorted(progress.queue_statuses.items())
        )
        if counts:
            lines.append(f"Queue statuses: {counts}")
        lines.append(f"Average length {duration(progress.average_seconds)} · errors so far {progress.errors}")
        if progress.answered_by:
            answered = " · ".join(
                f"{fit(who, 40)} {count}" for who, count in sorted(progress.answered_by.items())
            )
            lines.append(f"Answered by: {answered}")
        if progress.phase:
            said = f": {fit(progress.phase_note, 300)}" if progress.phase_note else ""
            lines.append(f"Bland: {fit(progress.phase.replace('_', ' '), 60)}{said}")
        if progress.to_read:
            lines.append(f":hourglass: Reading results {progress.read or 0:,} / {progress.to_read:,}")
    else:
        lines.append("Waiting for Bland's first progress report…")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT)))
    ]
    if info.test_mode:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=":test_tube: Test mode: only the first row is dialled.")]
            )
        )
    if info.note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(info.note, SECTION_LIMIT))]))
    if info.state.live:
        blocks.append(
            ActionsBlock(
                elements=[
                    stop_batch_button(info.batch_id, info.label),
                    ButtonElement(text="Refresh", action_id=ActionId.REFRESH_BATCH, value=info.batch_id),
                ]
            )
        )
    done = progress.completed if progress else 0
    total = progress.total if progress else 0
    text = f"Batch {label}: {BATCH_STATE[info.state]} ({done}/{total})"
    return text, blocks


def histogram(counts: list[int], width: int = HISTOGRAM_WIDTH) -> str:
    """Draw call lengths as text bars, one line per length bucket (counts in LENGTH_BUCKETS order)."""
    top = max(counts) if counts else 0
    lines = []
    for (name, _, _), count in zip(LENGTH_BUCKETS, counts, strict=True):
        bar = "█" * (round(width * count / top) if top else 0)
        lines.append(f"{name:>7} {bar:<{width}} {count}")
    return "\n".join(lines)


def bucket_counts(seconds: Iterable[float]) -> list[int]:
    """Count lengths per LENGTH_BUCKETS bucket."""
    counts = [0] * len(LENGTH_BUCKETS)
    for value in seconds:
        counts[length_bucket(value)] += 1
    return counts


def length_bucket(seconds: float) -> int:
    """The index of the LENGTH_BUCKETS bucket a call of `seconds` falls in."""
    return next(i for i, (_, lo, hi) in enumerate(LENGTH_BUCKETS) if lo <= seconds < hi or hi == float("inf"))


def _counts(counter: Counter[str]) -> str:
    return "\n".join(f"{escape(key)}: {count}" for key, count in counter.most_common()) or "—"


class Rerun(StrEnum):
    """Which calls of a finished batch a re-run can dial again."""

    UNANSWERED = "unanswered"
    VOICEMAIL = "voicemail"
    FAILED = "failed"


RERUN_LABEL = {Rerun.UNANSWERED: "Unanswered", Rerun.VOICEMAIL: "Reached voicemail", Rerun.FAILED: "Failed"}


def rerun_kind(call: Call) -> Rerun | None:
    """Which re-run a call belongs to, if any."""
    if call.is_error:
        return Rerun.FAILED
    answered = (call.answered_by_text or "").lower()
    if answered == "no-answer":
        return Rerun.UNANSWERED
    if answered == "voicemail":
        return Rerun.VOICEMAIL
    return None


class CostSource(StrEnum):
    """Where a call's cost comes from: Bland's `price`, or its length at the plan's rate (bot/pricing.py)."""

    PRICE = "price"
    ESTIMATE = "estimate"


def call_cost(call: Call, pricing: Pricing) -> tuple[float, CostSource] | None:
    """Return a call's cost and its source, or None when neither a price nor a length is known.

    Bland's list rows carry no `price` (only a call's own read does), so part of a batch's cost may be an
    estimate: the call's length at the plan's rate, never under the plan's per-call minimum (every attempt
    costs it, failed ones too). It is said so wherever it is shown."""
    if call.price is not None:
        return call.price, CostSource.PRICE
    seconds = call.duration_seconds
    if seconds is None:
        return (pricing.minimum, CostSource.ESTIMATE) if call.is_terminal and pricing.minimum else None
    return pricing.call(seconds / 60), CostSource.ESTIMATE


class ResultsTally(Protocol):
    """What the summary shows of a finished batch's calls (bot/tracking/batch_results.py keeps the tally
    and writes the result file)."""

    redact: bool
    total: int
    answered: Counter[str]
    outcomes: Counter[str]
    statuses: Counter[str]
    lengths: list[int]
    errors: list[tuple[str, str]]
    error_count: int
    rerun: Counter[Rerun]

    def cost_text(self) -> str: ...


ANSWERED_WORDS = {
    "human": "answered by a person",
    "voicemail": "reached voicemail",
    "no-answer": "not answered",
    "unknown": "outcome unknown",
    "failed": "failed",
}


def tally_line(results: ResultsTally) -> str:
    """A finished batch in one line, for its card: how many calls, how they ended, what they cost."""
    order = list(ANSWERED_WORDS)  # a person first, failures last; any other answer before the unknowns

    def rank(how: str) -> int:
        return order.index(how.lower()) if how.lower() in order else order.index("unknown")

    ended = ", ".join(
        f"{count:,} {ANSWERED_WORDS.get(how.lower(), escape(fit(how, 40)))}"
        for how, count in sorted(results.outcomes.items(), key=lambda kv: (rank(kv[0]), -kv[1]))
    )
    return f"{plural(results.total, 'call')}" + (f": {ended}" if ended else "") + f" · {results.cost_text()}"


def batch_summary(
    results: ResultsTally,
    analysis: BatchAnalysis | None,
    *,
    label: str,
    stopped_by: str | None = None,
    rerun_batch: str | None = None,
    bland_said: str | None = None,
    whole_numbers: str | None = None,
) -> tuple[str, list[Block]]:
    """Render the completion message: outcomes, a length histogram, the first errors and the cost; with
    `rerun_batch`, a button to request the unanswered, voicemail or failed calls again; with
    `whole_numbers` (a batch id, when EXPORT_FULL_NUMBERS is on), one that gives an admin the result file
    with whole numbers in their direct messages.

    Without per-call rows, the batch's own analysis supplies the queue statuses and the errors."""
    statuses = results.statuses
    errors, error_count = results.errors, results.error_count
    if not results.total and analysis is not None:
        statuses = Counter(analysis.queue_statuses)
        errors = [(str(e.get("call_id")), str(e.get("error_message"))) for e in analysis.error_messages]
        error_count = len(errors)
    title = "stopped" if stopped_by else "finished"
    blocks: list[Block] = [HeaderBlock(text=truncate(f"Batch {title} · {label}", 150))]
    label = label_text(label)
    total = results.total or (analysis.total_calls if analysis else 0) or 0
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{total} calls* · {results.cost_text()}"
                + (f" · stopped by <@{stopped_by}>" if stopped_by else "")
            ),
            fields=[
                MarkdownTextObject(text="*Answered by*\n" + _counts(results.answered)),
                MarkdownTextObject(text="*Queue statuses*\n" + _counts(statuses)),
            ],
        )
    )
    if bland_said:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Bland: {fit(bland_said, 500)}")]))
    if any(results.lengths):
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Call lengths*\n```{histogram(results.lengths)}```"))
        )
    if errors:
        shown = "\n".join(
            f"• `{cid}`: {escape(redact_text(message or '', redact=results.redact))}"
            for cid, message in errors[:SHOWN_ERRORS]
        )
        more = f"\n…and {error_count - SHOWN_ERRORS} more in the CSV" if error_count > SHOWN_ERRORS else ""
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(f"*First errors*\n{shown}{more}", SECTION_LIMIT))
            )
        )
    actions: list[ButtonElement] = []
    notes: list[str] = []
    if rerun_batch and sum(results.rerun.values()):
        counts = ", ".join(f"{RERUN_LABEL[k].lower()} {results.rerun[k]}" for k in Rerun if results.rerun[k])
        actions.append(
            ButtonElement(text="Re-run for unanswered…", action_id=ActionId.RERUN_BATCH, value=rerun_batch)
        )
        notes.append(f"Re-run: {counts}. A new request, approved like any batch.")
    if whole_numbers and results.total:
        actions.append(
            ButtonElement(
                text="Result file with whole numbers", action_id=ActionId.WHOLE_NUMBERS, value=whole_numbers
            )
        )
        notes.append("Whole numbers: for admins, in their direct messages.")
    if actions:
        blocks.append(ActionsBlock(elements=actions))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" ".join(notes))]))
    text = f"Batch {label} {title}: {total} calls, {results.cost_text()}"
    return text, blocks


def rerun_modal(*, batch_id: str, label: str, counts: dict[Rerun, int], origin_channel: str) -> View:
    """Ask which calls of a finished batch to request again."""
    options = [
        Option(text=f"{RERUN_LABEL[kind]} ({counts.get(kind, 0)})", value=kind.value)
        for kind in Rerun
        if counts.get(kind, 0)
    ]
    initial = [o for o in options if o.value == Rerun.UNANSWERED] or options[:1]
    return View(
        type="modal",
        callback_id=CallbackId.RERUN_BATCH,
        title="Re-run a batch",
        submit="Request",
        close="Cancel",
        private_metadata=json.dumps({"batch_id": batch_id, "origin_channel": origin_channel}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=truncate(
                        f"Request *{label_text(label)}* again for the calls below. Same prompt and settings; "
                        "numbers now on the do-not-call list are left out; a different person approves it.",
                        SECTION_LIMIT,
                    )
                )
            ),
            InputBlock(
                block_id=BlockId.RERUN_KINDS,
                label="Which calls",
                element=CheckboxesElement(
                    action_id=BlockId.RERUN_KINDS, options=options, initial_options=initial
                ),
            ),
        ],
    )


def batches_list(
    entries: list[tuple[BatchRequest, dict[str, Any] | None]],
) -> tuple[str, list[Block]]:
    """Render `/bland batches`: recent requests, their state, and progress where they are running."""
    if not entries:
        return "No batches yet.", [
            SectionBlock(
                text=MarkdownTextObject(text="No batch requests yet. Start one with `/bland batch`.")
            )
        ]
    lines = []
    for request, progress in entries:
        line = f"• *{escape(request.label or '?')}* · {request.call_count} calls · `{request.state}`"
        if request.state == RequestState.APPROVED and request.send_at:
            line += f" · scheduled for {slack_date(request.send_at)}"
        if request.batch_id:
            line += f" · `{request.batch_id}`"
        if request.waves:
            line += f" · in {request.waves} waves, each when its callees' hours open"
        if progress:
            line += f" · {progress.get('completed', 0)}/{progress.get('total', 0)} done"
        line += f" · by <@{request.requester}> {slack_date(request.created_at)}"
        lines.append(line)
    text = "\n".join(lines)
    return plural(len(entries), "recent batch", "recent batches"), [
        SectionBlock(text=MarkdownTextObject(text=truncate(f"*Recent batches*\n{text}", SECTION_LIMIT)))
    ]
