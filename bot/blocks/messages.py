"""Messages and cards: help, call cards and call results."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.bland.models import Call, epoch
from bot.blocks.format import (
    SECTION_LIMIT,
    duration,
    escape,
    fit,
    mask_phone,
    money,
    plural,
    redact_text,
    slack_date,
    truncate,
    value_text,
)
from bot.domain import CallState
from bot.ids import ActionId

STATE_EMOJI = {
    CallState.QUEUED: "🕓",
    CallState.IN_PROGRESS: "📞",
    CallState.COMPLETED: "✅",
    CallState.FAILED: "❌",
    CallState.STOPPED: "⏹️",
    CallState.UNKNOWN: "❔",
}
STATE_LABEL = {
    CallState.QUEUED: "Queued",
    CallState.IN_PROGRESS: "In progress",
    CallState.COMPLETED: "Completed",
    CallState.FAILED: "Failed",
    CallState.STOPPED: "Stopped",
    CallState.UNKNOWN: "Unknown state",
}


PROBLEM_CHARS = 300  # what was wrong, quoting what was typed


def help_blocks(
    groups: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    problem: str | None = None,
    *,
    rules: str | None = None,
) -> tuple[str, list[Block]]:
    """Render the /bland help from groups of (usage, summary) pairs, one section a task, with what was wrong
    first when there was a problem, and the dialling rules (calling hours, do-not-call) last."""
    blocks: list[Block] = []
    if problem:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":warning: {fit(problem, PROBLEM_CHARS)}")))
    blocks.append(SectionBlock(text=MarkdownTextObject(text="*Bland operations console*")))
    for title, commands in groups:
        lines = "\n".join(f"• `/bland {usage}`: {what}" for usage, what in commands)
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=truncate(f"*{title}*\n{lines}", SECTION_LIMIT)))
        )
    if rules:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=rules)]))
    names = dict.fromkeys(usage.split(" ")[0] for _, commands in groups for usage, _ in commands)
    text = (
        (f"{fit(problem, PROBLEM_CHARS)}\n" if problem else "") + "Bland console: /bland " + ", ".join(names)
    )
    return text, blocks


def notice(text: str, emoji: str = ":information_source:") -> tuple[str, list[Block]]:
    """Render a one-line notice."""
    room = SECTION_LIMIT - len(emoji) - 1
    return truncate(text, room), [
        SectionBlock(text=MarkdownTextObject(text=f"{emoji} {truncate(text, room)}"))
    ]


def call_state(call: Call) -> CallState:
    """Map Bland's many statuses to the card's states (docs/bland.md, "Call statuses")."""
    queue_status = call.normalized_queue_status
    if call.is_error:
        return CallState.FAILED
    if call.is_terminal:
        return CallState.COMPLETED
    if queue_status in {"new", "queued", "allocated", ""}:
        return CallState.QUEUED
    if queue_status == "started":
        return CallState.IN_PROGRESS
    return CallState.UNKNOWN


@dataclass(frozen=True)
class CallCardInfo:
    call_id: str
    to: str | None
    requester: str | None
    task: str | None
    state: CallState
    note: str | None = None
    redact: bool = True
    outcome: str | None = None  # an ended call's line: who answered, how long, the cost, the summary's start

    @classmethod
    def of_call(cls, call: Call, *, redact: bool) -> CallCardInfo:
        """Assemble a card from Bland's view of a call (one the bot may not be tracking)."""
        requester = (call.metadata or {}).get("requested_by")
        task = (call.model_extra or {}).get("task")
        return cls(
            call_id=call.id,
            to=call.to,
            requester=str(requester) if requester else None,
            task=str(task) if task else None,
            state=call_state(call),
            redact=redact,
        )


def call_card(info: CallCardInfo, *, with_buttons: bool = True) -> tuple[str, list[Block]]:
    """Render a call's card: who asked, where to, state, and Stop while live."""
    number = mask_phone(info.to, redact=info.redact)
    state = info.state
    heading = f"{STATE_EMOJI[state]} *Call to {number}* · {STATE_LABEL[state]}"
    details = [f"`{info.call_id}`"]
    if info.requester:
        details.append(f"requested by <@{info.requester}>")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"{heading}\n{' · '.join(details)}"))]
    if info.outcome:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(info.outcome, SECTION_LIMIT))))
    if info.task:
        excerpt = fit(redact_text(info.task, redact=info.redact), 280)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Task: {excerpt}")]))
    if info.note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(info.note, SECTION_LIMIT))]))
    if with_buttons and state.live:
        blocks.append(
            ActionsBlock(
                elements=[
                    stop_call_button(info.call_id, number),
                    ButtonElement(text="Refresh", action_id=ActionId.REFRESH_CALL, value=info.call_id),
                ]
            )
        )
    text = f"Call to {number}: {STATE_LABEL[state]}"
    return text, blocks


SUMMARY_START_CHARS = 160


def outcome_line(call: Call, *, redact: bool) -> str:
    """An ended call in one line for its card: who answered, how long, what it cost, and the start of its
    summary (the thread has the rest)."""
    parts = []
    if call.is_error:
        parts.append(
            f"Failed: {fit(redact_text(call.error_message or 'no reason given', redact=redact), 200)}"
        )
    else:
        parts.append(f"Answered by *{fit(call.answered_by_text or 'unknown', WORD_CHARS)}*")
    parts.append(duration(call.duration_seconds))
    if call.price is not None:
        parts.append(money(call.price))
    line = " · ".join(parts)
    summary = redact_text((call.summary or "").strip(), redact=redact)
    if summary:
        first = re.split(r"(?<=[.!?])\s", summary, maxsplit=1)[0]
        line += f"\n> {fit(first, SUMMARY_START_CHARS)}"
    return line


def stop_call_button(call_id: str, number: str, action_id: str = ActionId.STOP_CALL) -> ButtonElement:
    """Render the Stop call button with its confirmation dialog."""
    return ButtonElement(
        text="Stop call",
        style="danger",
        action_id=action_id,
        value=call_id,
        confirm=ConfirmObject(
            title="Stop this call?",
            text=f"The call to {number} will be hung up now.",
            confirm="Stop call",
            deny="Keep it",
            style="danger",
        ),
    )


def stop_call_prompt(call_id: str, number: str) -> tuple[str, list[Block]]:
    """Render the `/bland stop-call` confirmation: what will stop, and the button that stops it."""
    return f"Stop call {call_id}?", [
        SectionBlock(
            text=MarkdownTextObject(text=f"Stop the call to {number} (`{call_id}`)? It is live now.")
        ),
        ActionsBlock(elements=[stop_call_button(call_id, number, ActionId.CONFIRM_STOP_CALL)]),
    ]


def stop_all_prompt(live: int) -> tuple[str, list[Block]]:
    """Render `/bland stop-all`: how many calls are live, and the button (with its own confirmation); with
    none live there is nothing to stop, and no button."""
    if live == 0:
        return notice(
            "No call is live on the Bland account right now: there is nothing to stop.", ":white_check_mark:"
        )
    calls = plural(live, "live call")
    button = ButtonElement(
        text=f"Stop all {calls}",
        style="danger",
        action_id=ActionId.STOP_ALL_CALLS,
        value=str(live),
        confirm=ConfirmObject(
            title="Stop every live call?",
            text=f"Bland stops all {calls} on the account now, batches included. This cannot be undone.",
            confirm="Stop them all",
            deny="Keep them",
            style="danger",
        ),
    )
    text = f"Stop all {calls}?"
    return text, [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":rotating_light: *{calls}* on the Bland account right now. Stopping them is announced "
                "and audited."
            )
        ),
        ActionsBlock(elements=[button]),
    ]


def transcript_lines(call: Call, *, redact: bool) -> list[str]:
    """Return the transcript as speaker-labelled lines: Agent, Callee, and actions."""
    lines: list[str] = []
    if call.transcripts:
        for row in call.transcripts:
            text = redact_text((row.text or "").strip(), redact=redact)
            if not text:
                continue
            role = (row.user or "").lower()
            if role == "assistant":
                lines.append(f"Agent: {text}")
            elif role == "user":
                lines.append(f"Callee: {text}")
            elif role == "agent-action":
                lines.append(f"[action] {text}")
            else:
                lines.append(f"[{role or 'system'}] {text}")
    elif call.concatenated_transcript:
        for part in call.concatenated_transcript.split("\n"):
            role, _, text = part.strip().partition(":")
            text = redact_text(text.strip(), redact=redact)
            label = {"assistant": "Agent", "user": "Callee"}.get(role.strip().lower(), role.strip() or "?")
            if text:
                lines.append(f"{label}: {text}")
    return lines


def call_status(call: Call, *, redact: bool) -> tuple[str, list[Block]]:
    """Render `/bland status` for a call: its card without buttons, and its outcome and summary when ended."""
    text, blocks = call_card(CallCardInfo.of_call(call, redact=redact), with_buttons=False)
    if call.is_terminal:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=call_outcome_line(call))))
        if call.summary:
            summary = "*Summary*\n" + fit(redact_text(call.summary, redact=redact), SUMMARY_CHARS)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=summary)))
    return text, blocks


def call_outcome_line(call: Call) -> str:
    """Return the one-line outcome: status, duration, answered_by, price, who ended it."""
    label = STATE_LABEL[call_state(call)]
    status = call.queue_status or "unknown"
    # Bland's own status only when it says more than the label ("Failed (queue_error)", not "Completed (completed)").
    said = (
        ""
        if status.lower() in {label.lower(), label.lower().rstrip("d")}
        else f" ({fit(status, WORD_CHARS)})"
    )
    parts = [
        f"*{label}*{said}",
        f"duration {duration(call.duration_seconds)}",
        f"answered by {fit(call.answered_by_text or '—', WORD_CHARS)}",
        f"price {money(call.price)}",
    ]
    if call.call_ended_by:
        parts.append(f"ended by {fit(call.call_ended_by.lower(), WORD_CHARS)}")
    return " · ".join(parts)


# A result message holds a summary, two sets of fields and a transcript: each field is kept short so
# that the whole message stays under the ~12,000 characters of block text Slack accepts in one message.
# Lengths are as Slack counts them, after escaping.
FIELD_KEY_CHARS = 60
FIELD_VALUE_CHARS = 200
FIELDS_SHOWN = 10  # Slack's most for one section
ERROR_CHARS = 500
SUMMARY_CHARS = 1500
WORD_CHARS = 60  # a status or who answered: one word from Bland, unless Bland sends more


def _fields(values: dict[str, Any], *, redact: bool) -> list[MarkdownTextObject]:
    fields = []
    for key, value in list(values.items())[:FIELDS_SHOWN]:
        name = fit(str(key), FIELD_KEY_CHARS)
        rendered = fit(
            redact_text(value_text(value, 10 * FIELD_VALUE_CHARS), redact=redact), FIELD_VALUE_CHARS
        )
        fields.append(MarkdownTextObject(text=f"*{name}*\n{rendered}"))
    return fields


def _values_section(title: str, values: dict[str, Any], *, redact: bool) -> SectionBlock:
    more = len(values) - FIELDS_SHOWN
    heading = f"*{title}*" + (
        f" (the first {FIELDS_SHOWN} of {len(values)}; all in the attached file)" if more > 0 else ""
    )
    return SectionBlock(text=MarkdownTextObject(text=heading), fields=_fields(values, redact=redact))


def _values_text(title: str, values: dict[str, Any], *, redact: bool) -> str:
    lines = [
        f"{key}: {redact_text(value_text(value, 100_000), redact=redact)}" for key, value in values.items()
    ]
    return f"{title}\n" + "\n".join(lines)


@dataclass(frozen=True)
class CallResult:
    """What the thread gets when a call ends: a message, and a file when the message could not hold it all.

    `file_text` is the whole result (summary, every variable, the transcript) when anything was cut from
    the message; "" when the message holds everything."""

    text: str
    blocks: list[Block]
    file_text: str

    @property
    def attached(self) -> bool:
        return bool(self.file_text)


INLINE_TRANSCRIPT_LIMIT = 2800


RETRY_ANSWERED_BY = frozenset({"no-answer", "voicemail"})


def may_retry(call: Call) -> bool:
    """Whether a call's result offers Retry: it failed, went unanswered or reached voicemail."""
    return call.is_error or (call.answered_by_text or "").lower() in RETRY_ANSWERED_BY


def retry_button(call: Call, *, redact: bool) -> ButtonElement:
    """Render Retry, with its confirmation: the same settings, a new call."""
    return ButtonElement(
        text="Retry",
        action_id=ActionId.RETRY_CALL,
        value=call.id,
        confirm=ConfirmObject(
            title="Call again?",
            text=f"Place a new call to {mask_phone(call.to, redact=redact)} with the same settings.",
            confirm="Call again",
            deny="Cancel",
        ),
    )


def call_result(
    call: Call, *, redact: bool, missing_note: str | None = None, retry: bool = False
) -> CallResult:
    """Render the outcome, summary, variables and transcript of a finished call.

    What does not fit in one message (a long transcript or summary, more than ten variables) is in the
    attached file, whole, and the message says so."""
    blocks: list[Block] = [HeaderBlock(text=truncate(f"Call result · {call.id}", 150))]
    blocks.append(SectionBlock(text=MarkdownTextObject(text=call_outcome_line(call))))
    cut = False
    if call.is_error:
        error = fit(
            redact_text(call.error_message or "no error message from Bland", redact=redact), ERROR_CHARS
        )
        status = fit(call.queue_status or "unknown", WORD_CHARS)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Failed at* `{status}`: {error}")))
    summary = redact_text(call.summary or "", redact=redact)
    if summary:
        shown = fit(summary, SUMMARY_CHARS)
        cut = cut or shown != escape(summary)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Summary*\n{shown}")))
    elif not call.is_error:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=missing_note or "No summary from Bland.")])
        )
    analysis = call.analysis or {}
    variables = {k: v for k, v in (call.variables or {}).items() if k not in SYSTEM_VARIABLES}
    citations = call.citation_values
    found = (("Citations", citations), ("Analysis", analysis), ("Variables", variables))
    for title, values in found:
        if values:
            blocks.append(_values_section(title, values, redact=redact))
            cut = cut or len(values) > FIELDS_SHOWN
    lines = transcript_lines(call, redact=redact)
    full = "\n".join(lines)
    if lines:
        blocks.append(DividerBlock())
        shown = fit(full, INLINE_TRANSCRIPT_LIMIT - len(TRANSCRIPT_ATTACHED))
        if shown != escape(full):
            cut = True
            shown += TRANSCRIPT_ATTACHED
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Transcript*\n{shown}")))
    elif not call.is_error:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="No transcript.")]))
    buttons = []
    if call.record or call.recording_url:
        # The link is fetched when pressed and shown to the presser alone: a recording is personal data.
        buttons.append(ButtonElement(text="Recording", action_id=ActionId.GET_RECORDING, value=call.id))
    if retry and may_retry(call):
        buttons.append(retry_button(call, redact=redact))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    text = f"Call {call.id}: " + call_outcome_line(call).replace("*", "")
    parts = [f"Summary\n{summary}"] if summary else []
    parts += [_values_text(title, values, redact=redact) for title, values in found if values]
    parts += [f"Transcript\n{full}"] if full else []
    return CallResult(text=text, blocks=blocks, file_text="\n\n".join(parts) if cut else "")


TRANSCRIPT_ATTACHED = "\n_(the whole result is in the attached file)_"


SYSTEM_VARIABLES = frozenset(
    {
        "now",
        "now_utc",
        "from",
        "to",
        "short_from",
        "short_to",
        "call_id",
        "phone_number",
        "city",
        "state",
        "zip",
        "country",
        "timezone",
        "language",
    }
)


def found_line(call: Call, *, redact: bool) -> str:
    """One call of `/bland calls`: when, the number, how it went, and who asked for it (or which batch)."""
    state = call_state(call)
    made = epoch(call.created_at)
    when = f"{slack_date(made)} · " if made is not None else ""
    requester = (call.metadata or {}).get("requested_by")
    origin = (
        f"by <@{fit(str(requester), 20)}>"
        if requester
        else f"batch `{fit(call.batch_id, 40)}`"
        if call.batch_id
        else "placed outside Slack"
    )
    return (
        f"{STATE_EMOJI[state]} {when}*{mask_phone(call.to, redact=redact)}* · {STATE_LABEL[state]}"
        f" · {fit(call.answered_by_text or '—', WORD_CHARS)} · {duration(call.duration_seconds)} · {origin}"
    )


def calls_found(
    calls: list[Call], *, described: str, more: str | None, redact: bool
) -> tuple[str, list[Block]]:
    """Render `/bland calls`: one line a call, newest first, and "More" when there are more."""
    if not calls:
        text = f"No calls match ({fit(described, 300)})." + (
            " Press More to look further back." if more else ""
        )
        blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    else:
        blocks = [SectionBlock(text=MarkdownTextObject(text=f"*Calls* · {fit(described, 300)}"))]
        for call in calls:
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(text=truncate(found_line(call, redact=redact), SECTION_LIMIT)),
                    accessory=ButtonElement(text="View", action_id=ActionId.VIEW_CALL, value=call.id[:2000]),
                )
            )
        text = f"{plural(len(calls), 'call')} ({fit(described, 300)})"
    if more:
        blocks.append(
            ActionsBlock(elements=[ButtonElement(text="More", action_id=ActionId.MORE_CALLS, value=more)])
        )
    return text, blocks
