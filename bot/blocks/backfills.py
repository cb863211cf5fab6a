"""Citation schemas and backfills as Slack shows them: schema views, the backfill card, results, diffs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.bland.models import BackfillCallResult, BackfillStatus, CitationSchema, ConversationResult
from bot.blocks.format import SECTION_LIMIT, duration, escape, plural, truncate, value_text
from bot.domain import BackfillOutcome, WorkflowState

# Results show the first few calls (or conversations) inline, each cut short, so that one message stays
# well under the ~12,000 characters of block text Slack accepts; the attached file has every one.
INLINE_CALLS = 5
INLINE_ITEM_CHARS = 1800
COUNTS_CHARS = 1500
VALUE_LIMIT = 200
# The card lists this many parts by name; the rest are counted by state.
CARD_PARTS = 10
SCHEMAS_CHARS = 600


def schema_view(schema: CitationSchema) -> tuple[str, list[Block]]:
    """Render one schema readably: variables, groupings and conditions."""
    body = schema.body
    name = schema.name or schema.id or "schema"
    blocks: list[Block] = [HeaderBlock(text=truncate(f"Citation schema · {name}", 150))]
    intro = f"`{escape(schema.id or '?')}`" + (
        f"\n{escape(schema.description)}" if schema.description else ""
    )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(intro, SECTION_LIMIT))))
    variables = body.variables if body else []
    lines = [
        f"• *{escape(v.name)}* (`{escape(v.type or 'string')}`)"
        + (f": {escape(v.description)}" if v.description else "")
        for v in variables
    ]
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=truncate("*Variables*\n" + ("\n".join(lines) or "none yet"), SECTION_LIMIT)
            )
        )
    )
    if body and body.groupings:
        groups = [f"• *{escape(g.name)}*: {escape(', '.join(g.variables))}" for g in body.groupings]
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate("*Groupings*\n" + "\n".join(groups), SECTION_LIMIT))
            )
        )
    if body and body.conditions:
        rules = []
        for c in body.conditions:
            when = c.condition
            extra = ", ".join(f"*{escape(v.name)}* (`{escape(v.type or 'string')}`)" for v in c.variables)
            rules.append(
                f"• when *{escape(str(when.get('variable')))}* {escape(str(when.get('operator')))} "
                f"`{escape(str(when.get('value')))}`: also extract {extra or 'nothing'}"
            )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate("*Conditions*\n" + "\n".join(rules), SECTION_LIMIT))
            )
        )
    return f"Citation schema {escape(name)}", blocks


def schema_list(schemas: list[CitationSchema], *, fallback: bool) -> tuple[str, list[Block]]:
    """Render `/bland schemas`, saying when the list is the bot's own because Bland has no list endpoint."""
    lines = [
        f"• *{escape(s.name or '?')}* `{escape(s.id or '?')}`"
        + (f": {escape(truncate(s.description, 80))}" if s.description else "")
        for s in schemas[:50]
    ]
    blocks: list[Block] = []
    if fallback:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=":information_source: Bland has no schema list for this account (it answered 404), "
                        "so these are the schemas this bot created or used."
                    )
                ]
            )
        )
    body = "\n".join(lines) or "No citation schemas yet. Create one with `/bland schema new`."
    if len(schemas) > 50:
        body += f"\n…and {len(schemas) - 50} more"
    blocks.insert(
        0, SectionBlock(text=MarkdownTextObject(text=truncate(f"*Citation schemas*\n{body}", SECTION_LIMIT)))
    )
    return f"{len(schemas)} citation schemas", blocks


def variable_diff(previous: dict[str, Any], new: dict[str, Any], *, limit: int = VALUE_LIMIT) -> list[str]:
    """Say per newly extracted variable whether it is new, changed (from what) or unchanged."""
    lines = []
    for name, value in new.items():
        shown = escape(value_text(value, limit))
        if name not in previous:
            lines.append(f"• *{escape(name)}*: {shown} _(new)_")
        elif previous[name] != value:
            lines.append(
                f"• *{escape(name)}*: {shown} _(was {escape(value_text(previous[name], limit // 2))})_"
            )
        else:
            lines.append(f"• *{escape(name)}*: {shown} _(unchanged)_")
    return lines


@dataclass(frozen=True)
class BackfillCardInfo:
    backfill_id: str
    requester: str
    calls: int
    conversations: int
    schemas: list[str]
    workflows: dict[str, str]
    elapsed: float | None


def backfill_state(workflows: dict[str, str]) -> BackfillOutcome:
    """Summarise the workflows' states: running, completed, or failed (any failure)."""
    states = set(workflows.values())
    if not states or states & {WorkflowState.RUNNING, WorkflowState.STARTING}:
        return BackfillOutcome.RUNNING
    if states <= {WorkflowState.COMPLETED, WorkflowState.SMS_DONE}:
        return BackfillOutcome.COMPLETED
    return BackfillOutcome.FAILED


STATE_LINE = {
    BackfillOutcome.RUNNING: "⏳ Running",
    BackfillOutcome.COMPLETED: "✅ Completed",
    BackfillOutcome.FAILED: "⚠️ Finished with failures",
}


def backfill_card(info: BackfillCardInfo) -> tuple[str, list[Block]]:
    """Render a backfill's card: what runs over what, each workflow's state, and the elapsed time."""
    state = backfill_state(info.workflows)
    schemas = ", ".join(escape(s) for s in info.schemas)
    targets = []
    if info.calls:
        targets.append(
            f"{plural(info.calls, 'call')} × {plural(len(info.schemas), 'schema')} = "
            f"{plural(info.calls * len(info.schemas), 'extraction')}"
        )
    if info.conversations:
        targets.append(f"{info.conversations} SMS conversation{'s' if info.conversations != 1 else ''}")
    lines = [
        f"{STATE_LINE[state]} · *Backfill* `{info.backfill_id}` · requested by <@{info.requester}>",
        " · ".join(targets),
        truncate(f"Schemas: {schemas}", SCHEMAS_CHARS),
    ]
    if info.elapsed is not None:
        lines.append(f"{'Elapsed' if state is BackfillOutcome.RUNNING else 'Took'} {duration(info.elapsed)}")
    parts = list(info.workflows.items())
    for index, (workflow, status) in enumerate(parts[:CARD_PARTS], start=1):
        label = f"part {index}/{len(parts)}" if len(parts) > 1 else "workflow"
        lines.append(f"{label} `{escape(workflow)}`: {escape(status)}")
    if len(parts) > CARD_PARTS:
        rest = Counter(status for _, status in parts[CARD_PARTS:])
        lines.append(
            f"…and {len(parts) - CARD_PARTS} more parts: " + ", ".join(f"{n} {s}" for s, n in rest.items())
        )
    text = f"Backfill {info.backfill_id}: {STATE_LINE[state]}"
    return text, [SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT)))]


def _failed_schemas(call: BackfillCallResult, names: dict[str, str]) -> list[str]:
    return [
        names.get(p.schema_id or "", p.schema_id or "?")
        for p in call.schemas_processed
        if (p.status or "") != "success"
    ]


def backfill_results(
    status: BackfillStatus, *, part: str, schema_names: dict[str, str]
) -> tuple[str, list[Block]]:
    """Render a COMPLETED workflow: summary counts, then the first calls' new variables and changes."""
    result = status.result
    calls = result.calls if result else []
    summary = result.summary if result else {}
    overall = (result.status if result else None) or "unknown"
    blocks: list[Block] = [HeaderBlock(text=truncate(f"Backfill results{part}", 150))]
    counts = (
        f"*{summary.get('total_calls', len(calls))} calls*: {summary.get('successful_calls', 0)} succeeded, "
        f"{summary.get('partial_calls', 0)} partial, {summary.get('failed_calls', 0)} failed · "
        f"extractions: {summary.get('successful_schema_extractions', 0)} ok, "
        f"{summary.get('failed_schema_extractions', 0)} failed"
    )
    if overall != "success":
        failed = sorted({name for call in calls for name in _failed_schemas(call, schema_names)})
        counts += f"\n:warning: *{overall.capitalize()}*: failed schemas: {escape(', '.join(failed) or 'not named by Bland')}"
    blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(counts, COUNTS_CHARS))))
    for call in calls[:INLINE_CALLS]:
        blocks.append(DividerBlock())
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(call_diff_text(call, schema_names), INLINE_ITEM_CHARS))
            )
        )
    if len(calls) > INLINE_CALLS:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"…and {len(calls) - INLINE_CALLS} more call{'s' if len(calls) - INLINE_CALLS != 1 else ''} in the attached file."
                    )
                ]
            )
        )
    text = f"Backfill results{part}: {overall}, {len(calls)} calls"
    return text, blocks


def call_diff_text(call: BackfillCallResult, schema_names: dict[str, str]) -> str:
    """Render one call's outcome and its variable changes."""
    heading = f"*Call* `{escape(call.call_id or '?')}` · {escape(call.status or '?')}"
    failed = _failed_schemas(call, schema_names)
    if failed:
        heading += f" · failed: {escape(', '.join(failed))}"
    lines = variable_diff(call.previous_variables, call.newly_extracted_variables)
    return heading + "\n" + ("\n".join(lines) or "_no variables extracted_")


def backfill_failure(status: BackfillStatus, *, part: str, call_count: int) -> tuple[str, list[Block]]:
    """Render a workflow that ended FAILED, TERMINATED or TIMED_OUT, with what is known."""
    state = escape((status.status or "unknown").upper())
    meanings: dict[str, str] = {
        WorkflowState.FAILED: "failed",
        WorkflowState.TERMINATED: "was stopped (terminated)",
        WorkflowState.TIMED_OUT: "timed out",
    }
    meaning = meanings.get(state, f"ended as {state}")
    lines = [
        f":x: *Backfill{part} {meaning}.* Workflow `{escape(status.workflow_id or '?')}` over {call_count} calls.",
        f"Started {escape(status.start_time or 'unknown')}, ended {escape(status.close_time or 'unknown')}.",
        "Bland gives no detail for this state; variables of these calls may be unchanged. "
        "Run the backfill again to retry.",
    ]
    return f"Backfill{part} {meaning}", [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]


def sms_results(conversations: list[ConversationResult]) -> tuple[str, list[Block]]:
    """Render SMS backfill results: status and variables per conversation."""
    blocks: list[Block] = [HeaderBlock(text="SMS backfill results")]
    ok = sum(1 for c in conversations if c.status == "success")
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{len(conversations)} conversation{'s' if len(conversations) != 1 else ''}*: {ok} succeeded"
            )
        )
    )
    for conv in conversations[:INLINE_CALLS]:
        heading = f"*Conversation* `{escape(conv.conversation_id or '?')}` · {escape(conv.status or '?')}"
        if conv.error:
            heading += f" · {escape(value_text(conv.error, 200))}"
        lines = variable_diff(conv.previous_variables, conv.newly_extracted_variables)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(heading + "\n" + "\n".join(lines), INLINE_ITEM_CHARS))
            )
        )
    if len(conversations) > INLINE_CALLS:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"…and {len(conversations) - INLINE_CALLS} more in the attached file."
                    )
                ]
            )
        )
    return f"SMS backfill: {ok}/{len(conversations)} conversations succeeded", blocks


def results_json(items: list[Any]) -> str:
    """Return every call's (or conversation's) result as pretty JSON, for the attached file."""
    return json.dumps(
        [item.model_dump(mode="json", exclude_none=True) for item in items], indent=2, ensure_ascii=False
    )


def workflow_status(status: BackfillStatus) -> tuple[str, list[Block]]:
    """Render `/bland status <workflow_id>`."""
    lines = [
        f"*Backfill workflow* `{escape(status.workflow_id or '?')}`: *{escape(status.status or 'unknown')}*"
    ]
    lines.append(
        f"Started {escape(status.start_time or '—')}"
        + (f", ended {escape(status.close_time)}" if status.close_time else "")
    )
    if status.result is not None:
        s = status.result.summary
        lines.append(
            f"{s.get('total_calls', len(status.result.calls))} calls: {s.get('successful_calls', 0)} succeeded, "
            f"{s.get('partial_calls', 0)} partial, {s.get('failed_calls', 0)} failed"
        )
    return lines[0].replace("*", ""), [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]
