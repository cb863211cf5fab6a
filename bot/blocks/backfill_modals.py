"""The citation schema and backfill modals, and the backfill confirmation step."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.bland.models import CitationSchema
from bot.blocks.format import plural
from bot.blocks.modals import channel_picker, schema_picker
from bot.ids import BlockId, CallbackId
from bot.limits import FREE_TEXT_MAX_CHARS, SCHEMA_DESCRIPTION_MAX_CHARS, SCHEMA_NAME_MAX_CHARS

SCHEMA_HINT = (
    "One variable per line as `name | type | description` (types: string, number, boolean, array, category), "
    'or a JSON object like {"variables": [...], "groupings": [...], "conditions": [...]}.'
)


def schema_modal(
    *, origin_channel: str, editing: CitationSchema | None = None, definition: str | None = None
) -> View:
    """Render the "New citation schema" modal, or (`editing`) the same form prefilled with a schema and its
    `definition` (as `definition_text` writes it): saving replaces the schema whole."""
    meta: dict[str, str] = {"origin_channel": origin_channel}
    if editing is not None:
        meta["schema_id"] = editing.id or ""
    description = (editing.description or "")[:SCHEMA_DESCRIPTION_MAX_CHARS] if editing else ""
    return View(
        type="modal",
        callback_id=CallbackId.EDIT_SCHEMA if editing else CallbackId.NEW_SCHEMA,
        title="Edit citation schema" if editing else "New citation schema",
        submit="Save schema" if editing else "Create schema",
        close="Cancel",
        private_metadata=json.dumps(meta),
        blocks=[
            *(
                [
                    ContextBlock(
                        elements=[
                            MarkdownTextObject(
                                text=f"`{editing.id}` · Saving replaces the whole schema in Bland. Calls already "
                                "extracted keep their values."
                            )
                        ]
                    )
                ]
                if editing
                else []
            ),
            InputBlock(
                block_id=BlockId.SCHEMA_NAME,
                label="Name",
                element=PlainTextInputElement(
                    action_id=BlockId.SCHEMA_NAME,
                    max_length=SCHEMA_NAME_MAX_CHARS,
                    initial_value=(editing.name or "")[:SCHEMA_NAME_MAX_CHARS] or None if editing else None,
                ),
            ),
            InputBlock(
                block_id=BlockId.SCHEMA_DESCRIPTION,
                label="Description",
                optional=True,
                element=PlainTextInputElement(
                    action_id=BlockId.SCHEMA_DESCRIPTION,
                    multiline=True,
                    max_length=SCHEMA_DESCRIPTION_MAX_CHARS,
                    initial_value=description or None,
                ),
            ),
            InputBlock(
                block_id=BlockId.SCHEMA_VARIABLES,
                label="Variables",
                hint=SCHEMA_HINT[:2000],
                element=PlainTextInputElement(
                    action_id=BlockId.SCHEMA_VARIABLES,
                    multiline=True,
                    max_length=FREE_TEXT_MAX_CHARS,
                    placeholder="customer_name | string | Full name of the customer",
                    initial_value=definition[:FREE_TEXT_MAX_CHARS] if definition else None,
                ),
            ),
        ],
    )


def backfill_modal(*, origin_channel: str, schemas: list[tuple[str, str]]) -> View:
    """Render the backfill modal; saved schemas are offered when known, else their IDs are typed."""
    chooser = schema_picker(
        BlockId.BACKFILL_SCHEMAS,
        schemas,
        {},
        labels=("Saved schemas", "Saved schema IDs"),
        hint="Saved in Bland. Typed IDs: one per line or comma-separated.",
    )
    picker: list[InputBlock] = [channel_picker("Post results in")] if not origin_channel else []
    return View(
        type="modal",
        callback_id=CallbackId.BACKFILL,
        title="Backfill variables",
        submit="Review",
        close="Cancel",
        private_metadata=json.dumps({"origin_channel": origin_channel}),
        blocks=[
            *picker,
            chooser,
            InputBlock(
                block_id=BlockId.INLINE_SCHEMA,
                label="…or an inline schema",
                optional=True,
                hint="Not both. " + SCHEMA_HINT[:1900],
                element=PlainTextInputElement(
                    action_id=BlockId.INLINE_SCHEMA, multiline=True, max_length=FREE_TEXT_MAX_CHARS
                ),
            ),
            InputBlock(
                block_id=BlockId.CALL_IDS,
                label="Call IDs",
                optional=True,
                hint="One per line or comma-separated. More than 100 are split into several requests.",
                element=PlainTextInputElement(
                    action_id=BlockId.CALL_IDS, multiline=True, max_length=FREE_TEXT_MAX_CHARS
                ),
            ),
            InputBlock(
                block_id=BlockId.BACKFILL_BATCH,
                label="All calls of a batch",
                optional=True,
                hint="A batch ID; its calls are looked up in Bland.",
                element=PlainTextInputElement(action_id=BlockId.BACKFILL_BATCH, max_length=200),
            ),
            InputBlock(
                block_id=BlockId.CONVERSATION_IDS,
                label="SMS conversation IDs",
                optional=True,
                hint="At most 50. Results come back at once.",
                element=PlainTextInputElement(
                    action_id=BlockId.CONVERSATION_IDS, multiline=True, max_length=FREE_TEXT_MAX_CHARS
                ),
            ),
        ],
    )


def backfill_confirm_view(
    *,
    backfill_id: str,
    origin_channel: str,
    calls: int,
    schemas: list[str],
    requests: int,
    conversations: int,
) -> View:
    """Render the confirmation step: calls × schemas = extractions, the billable unit."""
    lines = []
    if calls:
        lines.append(
            f"*{plural(calls, 'call')} × {plural(len(schemas), 'schema')} "
            f"= {plural(calls * len(schemas), 'extraction')}* (Bland bills per extraction)."
        )
        if requests > 1:
            lines.append(f"Sent as {requests} requests of at most 100 calls, tracked together.")
    if conversations:
        lines.append(
            f"*{conversations} SMS conversation{'s' if conversations != 1 else ''}*, answered at once."
        )
    lines.append("Schemas: " + ", ".join(schemas))
    lines.append("Newly extracted values overwrite same-named variables on these calls.")
    return View(
        type="modal",
        callback_id=CallbackId.CONFIRM_BACKFILL,
        title="Start backfill?",
        submit="Start backfill",
        close="Cancel",
        private_metadata=json.dumps({"backfill_id": backfill_id, "origin_channel": origin_channel}),
        blocks=[SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:2900]))],
    )
