"""Modals, and reading their submitted values back."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.flows.batch_form import LABEL_MAX_CHARS, NOTE_MAX_CHARS, PROMPT_MAX_CHARS
from bot.ids import BlockId, CallbackId
from bot.ids import Option as OptionValue

TASK_MAX_CHARS = 4000
FIRST_SENTENCE_MAX_CHARS = 200
FREE_TEXT_MAX_CHARS = 3000


def voice_input(voices: tuple[str, ...]) -> InputBlock:
    """Render the voice picker (the first voice is the default)."""
    options = [Option(text=v, value=v) for v in voices[:100]]
    return InputBlock(
        block_id=BlockId.VOICE,
        label="Voice",
        element=StaticSelectElement(
            action_id=BlockId.VOICE, options=options, initial_option=options[0] if options else None
        ),
    )


def duration_input(label: str, max_minutes: float) -> InputBlock:
    """Render the max duration input, in minutes."""
    return InputBlock(
        block_id=BlockId.MAX_DURATION,
        label=label,
        element=NumberInputElement(
            action_id=BlockId.MAX_DURATION,
            is_decimal_allowed=True,
            initial_value=str(min(5, max_minutes)),
            min_value="0.5",
            max_value=str(max_minutes),
        ),
    )


def call_modal(
    *,
    origin_channel: str,
    voices: tuple[str, ...],
    max_minutes: float,
    phone: str | None = None,
    task: str | None = None,
) -> View:
    """Render the "Send a call" modal, prefilled from `/bland call [number] [task…]`."""
    blocks = [
        InputBlock(
            block_id=BlockId.PHONE,
            label="Phone number",
            hint="E.164 like +14155550123; numbers without + use the default region.",
            element=PlainTextInputElement(
                action_id=BlockId.PHONE,
                initial_value=phone or None,
                placeholder="+14155550123",
                max_length=40,
            ),
        ),
        InputBlock(
            block_id=BlockId.TASK,
            label="Task",
            optional=True,
            hint="What the agent should do. Fill this or a pathway ID, not both.",
            element=PlainTextInputElement(
                action_id=BlockId.TASK, multiline=True, initial_value=task or None, max_length=TASK_MAX_CHARS
            ),
        ),
        InputBlock(
            block_id=BlockId.PATHWAY,
            label="Pathway ID",
            optional=True,
            element=PlainTextInputElement(action_id=BlockId.PATHWAY, max_length=200),
        ),
        InputBlock(
            block_id=BlockId.FIRST_SENTENCE,
            label="First sentence",
            optional=True,
            element=PlainTextInputElement(
                action_id=BlockId.FIRST_SENTENCE, max_length=FIRST_SENTENCE_MAX_CHARS
            ),
        ),
        voice_input(voices),
        duration_input("Max duration (minutes)", max_minutes),
        InputBlock(
            block_id=BlockId.OPTIONS,
            label="Options",
            optional=True,
            element=CheckboxesElement(
                action_id=BlockId.OPTIONS,
                options=[
                    Option(text="Record the call", value=OptionValue.RECORD),
                    Option(text="Detect voicemail / answered-by", value=OptionValue.ANSWERED_BY),
                ],
            ),
        ),
        InputBlock(
            block_id=BlockId.REQUEST_DATA,
            label="Request data",
            optional=True,
            hint="key=value lines, or a JSON object. Use {{key}} in the task.",
            element=PlainTextInputElement(
                action_id=BlockId.REQUEST_DATA, multiline=True, max_length=FREE_TEXT_MAX_CHARS
            ),
        ),
        InputBlock(
            block_id=BlockId.ANALYSIS_SCHEMA,
            label="Analysis schema",
            optional=True,
            hint="key: type lines (e.g. wants_demo: boolean), or a JSON object.",
            element=PlainTextInputElement(
                action_id=BlockId.ANALYSIS_SCHEMA, multiline=True, max_length=FREE_TEXT_MAX_CHARS
            ),
        ),
        InputBlock(
            block_id=BlockId.CHANNEL,
            label="Post results in",
            element=ConversationSelectElement(
                action_id=BlockId.CHANNEL,
                initial_conversation=origin_channel or None,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
        ContextBlock(
            elements=[MarkdownTextObject(text=":moneybag: Sending dials the number and costs money.")]
        ),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.SEND_CALL,
        title="Send a call",
        submit="Send call",
        close="Cancel",
        private_metadata=json.dumps({"origin_channel": origin_channel}),
        blocks=blocks,
    )


def batch_modal(*, origin_channel: str, voices: tuple[str, ...], max_minutes: float, max_calls: int) -> View:
    """Render the "Request a batch" modal: nothing is dialled until someone else approves."""
    blocks = [
        InputBlock(
            block_id=BlockId.BATCH_LABEL,
            label="Label",
            hint="How people will recognise this batch, e.g. 'March renewals, West region'.",
            element=PlainTextInputElement(action_id=BlockId.BATCH_LABEL, max_length=LABEL_MAX_CHARS),
        ),
        InputBlock(
            block_id=BlockId.BASE_PROMPT,
            label="Prompt",
            hint="What the agent says and does. {{column}} is filled from each CSV row.",
            element=PlainTextInputElement(
                action_id=BlockId.BASE_PROMPT, multiline=True, max_length=PROMPT_MAX_CHARS
            ),
        ),
        InputBlock(
            block_id=BlockId.RECIPIENTS_FILE,
            label="Recipients (CSV file)",
            optional=True,
            hint="A phone, phone_number or number column, plus one column per placeholder.",
            element=FileInputElement(
                action_id=BlockId.RECIPIENTS_FILE, filetypes=["csv", "txt"], max_files=1
            ),
        ),
        InputBlock(
            block_id=BlockId.RECIPIENTS_TEXT,
            label="…or paste the recipients as CSV",
            optional=True,
            hint=f"Header row first. At most {max_calls} rows.",
            element=PlainTextInputElement(
                action_id=BlockId.RECIPIENTS_TEXT,
                multiline=True,
                max_length=FREE_TEXT_MAX_CHARS,
                placeholder="phone,name\n+14155550123,Ada",
            ),
        ),
        InputBlock(
            block_id=BlockId.FROM_NUMBER,
            label="From number",
            optional=True,
            hint="One of your Bland numbers; empty uses Bland's default.",
            element=PlainTextInputElement(action_id=BlockId.FROM_NUMBER, max_length=40),
        ),
        duration_input("Max duration per call (minutes)", max_minutes),
        voice_input(voices),
        InputBlock(
            block_id=BlockId.BATCH_OPTIONS,
            label="Test mode",
            optional=True,
            element=CheckboxesElement(
                action_id=BlockId.BATCH_OPTIONS,
                options=[Option(text="Test mode: dial only the first row", value=OptionValue.TEST_MODE)],
            ),
        ),
        InputBlock(
            block_id=BlockId.APPROVER_NOTE,
            label="Note to the approver",
            optional=True,
            element=PlainTextInputElement(
                action_id=BlockId.APPROVER_NOTE, multiline=True, max_length=NOTE_MAX_CHARS
            ),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=":lock: Nothing is dialled now: an approver other than you must approve exactly this request."
                )
            ]
        ),
    ]
    if not origin_channel:
        blocks.insert(0, channel_picker("Post the request in"))
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_BATCH,
        title="Request a batch",
        submit="Ask for approval",
        close="Cancel",
        private_metadata=json.dumps({"origin_channel": origin_channel}),
        blocks=blocks,
    )


def reject_modal(*, request_id: str, label: str, origin_channel: str) -> View:
    """Render the modal that asks an approver why they reject a batch."""
    return View(
        type="modal",
        callback_id=CallbackId.REJECT_BATCH,
        title="Reject batch",
        submit="Reject",
        close="Back",
        private_metadata=json.dumps({"request_id": request_id, "origin_channel": origin_channel}),
        blocks=[
            InputBlock(
                block_id=BlockId.REJECT_REASON,
                label=f"Why reject {label[:100]}?"[:150],
                hint="The requester sees this.",
                element=PlainTextInputElement(
                    action_id=BlockId.REJECT_REASON, multiline=True, min_length=3, max_length=500
                ),
            )
        ],
    )


def channel_picker(label: str) -> InputBlock:
    """Render a channel input for modals opened from the Home tab, where there is no channel yet."""
    return InputBlock(
        block_id=BlockId.CHANNEL,
        label=label,
        element=ConversationSelectElement(
            action_id=BlockId.CHANNEL,
            filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
        ),
    )


SCHEMA_HINT = (
    "One variable per line as `name | type | description` (types: string, number, boolean), "
    'or a JSON object like {"variables": [...], "groupings": [...], "conditions": [...]}.'
)


def schema_modal(*, origin_channel: str) -> View:
    """Render the "New citation schema" modal."""
    return View(
        type="modal",
        callback_id=CallbackId.NEW_SCHEMA,
        title="New citation schema",
        submit="Create schema",
        close="Cancel",
        private_metadata=json.dumps({"origin_channel": origin_channel}),
        blocks=[
            InputBlock(
                block_id=BlockId.SCHEMA_NAME,
                label="Name",
                element=PlainTextInputElement(action_id=BlockId.SCHEMA_NAME, max_length=100),
            ),
            InputBlock(
                block_id=BlockId.SCHEMA_DESCRIPTION,
                label="Description",
                optional=True,
                element=PlainTextInputElement(
                    action_id=BlockId.SCHEMA_DESCRIPTION, multiline=True, max_length=500
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
                ),
            ),
        ],
    )


def backfill_modal(*, origin_channel: str, schemas: list[tuple[str, str]]) -> View:
    """Render the backfill modal; saved schemas are offered when known, else their IDs are typed."""
    if schemas:
        chooser = InputBlock(
            block_id=BlockId.BACKFILL_SCHEMAS,
            label="Saved schemas",
            optional=True,
            element=StaticMultiSelectElement(
                action_id=BlockId.BACKFILL_SCHEMAS,
                options=[Option(text=f"{name}"[:75], value=schema_id) for schema_id, name in schemas[:100]],
            ),
        )
    else:
        chooser = InputBlock(
            block_id=BlockId.BACKFILL_SCHEMAS,
            label="Saved schema IDs",
            optional=True,
            hint="One per line or comma-separated.",
            element=PlainTextInputElement(
                action_id=BlockId.BACKFILL_SCHEMAS, multiline=True, max_length=2000
            ),
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
            f"*{calls} call{'s' if calls != 1 else ''} × {len(schemas)} schema{'s' if len(schemas) != 1 else ''} "
            f"= {calls * len(schemas)} extractions* (Bland bills per extraction)."
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


def read_values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten a submitted view's state to {block_id: value} whatever the element type."""
    values: dict[str, Any] = {}
    for block_id, elements in (view.get("state", {}).get("values") or {}).items():
        for element in elements.values():
            kind = element.get("type")
            if kind in {"static_select", "external_select"}:
                option = element.get("selected_option")
                values[block_id] = option.get("value") if option else None
            elif kind in {"checkboxes", "multi_static_select"}:
                values[block_id] = [o.get("value") for o in element.get("selected_options") or []]
            elif kind == "conversations_select":
                values[block_id] = element.get("selected_conversation")
            elif kind == "channels_select":
                values[block_id] = element.get("selected_channel")
            elif kind == "file_input":
                values[block_id] = element.get("files") or []
            else:
                values[block_id] = element.get("value")
    return values


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """Return a view's private_metadata as a dict (empty when absent or not JSON)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
