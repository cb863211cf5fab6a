"""Batch messages: the approval card, the live progress card, and the completion summary and CSV."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.bland.models import Batch, Call
from bot.blocks.approvals import slack_date
from bot.blocks.format import (
    SECTION_LIMIT,
    csv_text,
    duration,
    escape,
    label_text,
    mask_phone,
    money,
    progress_bar,
    redact_text,
    truncate,
)
from bot.blocks.messages import SYSTEM_VARIABLES
from bot.domain import BatchState
from bot.ids import ActionId
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
    """What the live card shows, read from GET /v1/batches/{id} with include_calls=false."""

    total: int
    completed: int
    queue_statuses: dict[str, int] = field(default_factory=dict)
    average_seconds: float | None = None
    errors: int = 0
    done: bool = False

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
            # The documents say minutes, but the buckets and values are seconds (bland-api.md §14.6).
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
        }


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
            text=f"Calls of {escape(truncate(label, 60))} that have not finished are stopped now.",
            confirm="Stop batch",
            deny="Keep going",
            style="danger",
        ),
    )


def batch_card(info: BatchCardInfo) -> tuple[str, list[Block]]:
    """Render the live batch card: progress bar, counts by queue status, length, errors and buttons."""
    label = label_text(info.label)
    heading = f"{BATCH_STATE[info.state]} · *{label}* `{info.batch_id}`"
    people = []
    if info.requester:
        people.append(f"requested by <@{info.requester}>")
    if info.approver:
        people.append(f"approved by <@{info.approver}>")
    if info.stopped_by:
        people.append(f"stopped by <@{info.stopped_by}>")
    lines = [heading, " · ".join(people)] if people else [heading]
    progress = info.progress
    if progress is not None:
        lines.append(progress_bar(progress.completed, progress.total))
        counts = " · ".join(
            f"{escape(status)} {count}" for status, count in sorted(progress.queue_statuses.items())
        )
        if counts:
            lines.append(f"Queue statuses: {counts}")
        lines.append(f"Average length {duration(progress.average_seconds)} · errors so far {progress.errors}")
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
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=info.note)]))
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


def histogram(seconds: list[float], width: int = HISTOGRAM_WIDTH) -> str:
    """Draw call lengths as text bars, one line per length bucket."""
    counts = [sum(1 for s in seconds if lo <= s < hi) for _, lo, hi in LENGTH_BUCKETS]
    top = max(counts) if counts else 0
    lines = []
    for (name, _, _), count in zip(LENGTH_BUCKETS, counts, strict=True):
        bar = "█" * (round(width * count / top) if top else 0)
        lines.append(f"{name:>7} {bar:<{width}} {count}")
    return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return "\n".join(f"{escape(key)}: {count}" for key, count in counter.most_common()) or "—"


def _call_seconds(call: Call) -> float:
    return call.duration_seconds or 0.0


def batch_summary(
    batch: Batch, *, label: str, redact: bool, stopped_by: str | None = None
) -> tuple[str, list[Block]]:
    """Render the completion message: outcomes, a length histogram, the first errors and the cost."""
    calls = batch.call_data
    answered = Counter((c.answered_by_text or "unknown") for c in calls)
    statuses = Counter(c.normalized_queue_status or "unknown" for c in calls)
    if not calls and batch.analysis is not None:
        statuses = Counter(batch.analysis.queue_statuses)
    prices = [c.price for c in calls if c.price is not None]
    cost = sum(prices) if prices else None
    title = "stopped" if stopped_by else "finished"
    blocks: list[Block] = [HeaderBlock(text=truncate(f"Batch {title} · {label}", 150))]
    label = label_text(label)
    total = len(calls) or (batch.analysis.total_calls if batch.analysis else 0) or 0
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{total} calls* · cost {money(cost)}"
                + (f" · stopped by <@{stopped_by}>" if stopped_by else "")
            ),
            fields=[
                MarkdownTextObject(text="*Answered by*\n" + _counts(answered)),
                MarkdownTextObject(text="*Queue statuses*\n" + _counts(statuses)),
            ],
        )
    )
    lengths = [_call_seconds(c) for c in calls if c.is_terminal and not c.is_error]
    if lengths:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Call lengths*\n```{histogram(lengths)}```"))
        )
    errors = [(c.id, c.error_message) for c in calls if c.error_message]
    if not errors and batch.analysis is not None:
        errors = [(str(e.get("call_id")), str(e.get("error_message"))) for e in batch.analysis.error_messages]
    if errors:
        shown = "\n".join(
            f"• `{cid}`: {escape(redact_text(message or '', redact=redact))}"
            for cid, message in errors[:SHOWN_ERRORS]
        )
        more = f"\n…and {len(errors) - SHOWN_ERRORS} more in the CSV" if len(errors) > SHOWN_ERRORS else ""
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(f"*First errors*\n{shown}{more}", SECTION_LIMIT))
            )
        )
    text = f"Batch {label} {title}: {total} calls, cost {money(cost)}"
    return text, blocks


CSV_COLUMNS = [
    "call_id",
    "to",
    "status",
    "answered_by",
    "length_seconds",
    "summary_or_transcript",
    "variables",
]


def batch_csv(batch: Batch, *, redact: bool) -> str:
    """Return one CSV row per call: id, masked number, status, answered_by, length, summary, variables."""
    rows: list[list[object]] = []
    for call in batch.call_data:
        excerpt = call.summary or call.concatenated_transcript or call.error_message or ""
        variables = {k: v for k, v in (call.variables or {}).items() if k not in SYSTEM_VARIABLES}
        variables.update(call.analysis or {})
        rows.append(
            [
                call.id,
                mask_phone(call.to, redact=redact),
                call.normalized_queue_status or call.status or "",
                call.answered_by_text or "",
                f"{_call_seconds(call):.0f}",
                truncate(redact_text(excerpt, redact=redact).replace("\n", " "), 500),
                json.dumps(variables, ensure_ascii=False, sort_keys=True) if variables else "",
            ]
        )
    return csv_text(CSV_COLUMNS, rows)


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
        if request.batch_id:
            line += f" · `{request.batch_id}`"
        if progress:
            line += f" · {progress.get('completed', 0)}/{progress.get('total', 0)} done"
        line += f" · by <@{request.requester}> {slack_date(request.created_at)}"
        lines.append(line)
    text = "\n".join(lines)
    return f"{len(entries)} recent batches", [
        SectionBlock(text=MarkdownTextObject(text=truncate(f"*Recent batches*\n{text}", SECTION_LIMIT)))
    ]
