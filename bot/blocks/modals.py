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
from slack_sdk.models.views import View

from bot.blocks.limits import SECTION_TEXT, VIEW_TITLE
from bot.ids import BlockId, CallbackId
from bot.ids import Option as OptionValue
from bot.limits import (
    FIRST_SENTENCE_MAX_CHARS,
    FREE_TEXT_MAX_CHARS,
    SUMMARY_PROMPT_MAX_CHARS,
    TASK_MAX_CHARS,
    VOICEMAIL_MESSAGE_MAX_CHARS,
)
from bot.mrkdwn import truncate
from bot.pricing import Pricing, usd


def voice_input(voices: tuple[str, ...], chosen: object = None) -> InputBlock:
    """Render the voice picker (the `chosen` voice when it is offered, else the first)."""
    options = [Option(text=v[:75], value=v[:150]) for v in voices[:100]]
    initial = next((o for o in options if o.value == chosen), options[0] if options else None)
    return InputBlock(
        block_id=BlockId.VOICE,
        label="Voice",
        element=StaticSelectElement(action_id=BlockId.VOICE, options=options, initial_option=initial),
    )


def duration_input(label: str, max_minutes: float, typed: object = None) -> InputBlock:
    """Render the max duration input, in minutes (what was `typed`, when it is a number in range)."""
    try:
        minutes = float(str(typed))
    except ValueError:
        minutes = 0.0
    initial = minutes if 0.5 <= minutes <= max_minutes else min(5, max_minutes)
    return InputBlock(
        block_id=BlockId.MAX_DURATION,
        label=label,
        element=NumberInputElement(
            action_id=BlockId.MAX_DURATION,
            is_decimal_allowed=True,
            initial_value=f"{initial:g}",
            min_value="0.5",
            max_value=str(max_minutes),
        ),
    )


def cost_line(pricing: Pricing | None, minutes: float) -> str:
    """What a call of `minutes` costs at most, and the least any attempt costs, on the plan assumed."""
    if pricing is None:
        return ":moneybag: Sending dials the number and costs money."
    return (
        f":moneybag: Sending dials the number and costs money: up to {usd(pricing.call(minutes))} for "
        f"{minutes:g} minutes, even unanswered never less than the minimum ({pricing.label})."
        if pricing.minimum
        else f":moneybag: Sending dials the number and costs money: up to {usd(pricing.call(minutes))} for "
        f"{minutes:g} minutes ({pricing.label})."
    )


def call_modal(
    *,
    origin_channel: str,
    voices: tuple[str, ...],
    max_minutes: float,
    phone: str | None = None,
    task: str | None = None,
    schemas: list[tuple[str, str]] | None = None,
    pricing: Pricing | None = None,
    typed: dict[str, Any] | None = None,
    problem: str | None = None,
) -> View:
    """Render the "Send a call" modal, prefilled from `/bland call [number] [task…]`; `schemas` are the
    citation schemas offered (none: their IDs are typed); `pricing` says what a call costs, on which plan.

    Given what was `typed` and the `problem` Bland answered after the modal was acknowledged, the form comes
    back filled in with the problem on top: nothing typed is lost, and nothing was dialled."""
    typed = typed or {}
    cost = cost_line(pricing, min(5.0, max_minutes))
    ticked = set(typed.get(BlockId.OPTIONS) or [])
    options = [
        Option(text="Record the call", value=OptionValue.RECORD),
        Option(text="Outside calling hours: send at the next allowed time", value=OptionValue.WHEN_ALLOWED),
    ]
    blocks = [
        text_input(
            BlockId.PHONE,
            "Phone number",
            40,
            typed,
            hint="E.164 like +14155550123; numbers without + use the default region.",
            optional=False,
            placeholder="+14155550123",
            initial=phone,
        ),
        text_input(
            BlockId.TASK,
            "Task",
            TASK_MAX_CHARS,
            typed,
            hint="What the agent should do. Fill this or a pathway ID, not both.",
            multiline=True,
            initial=task,
        ),
        text_input(BlockId.PATHWAY, "Pathway ID", 200, typed),
        text_input(BlockId.FIRST_SENTENCE, "First sentence", FIRST_SENTENCE_MAX_CHARS, typed),
        voice_input(voices, typed.get(BlockId.VOICE)),
        duration_input("Max duration (minutes)", max_minutes, typed.get(BlockId.MAX_DURATION)),
        InputBlock(
            block_id=BlockId.OPTIONS,
            label="Options",
            optional=True,
            element=CheckboxesElement(
                action_id=BlockId.OPTIONS,
                options=options,
                initial_options=[o for o in options if o.value in ticked] or None,
            ),
        ),
        text_input(
            BlockId.REQUEST_DATA,
            "Request data",
            FREE_TEXT_MAX_CHARS,
            typed,
            hint="key=value lines, or a JSON object. Use {{key}} in the task.",
            multiline=True,
        ),
        *call_settings_blocks(schemas, typed),
        InputBlock(
            block_id=BlockId.CHANNEL,
            label="Post results in",
            element=ConversationSelectElement(
                action_id=BlockId.CHANNEL,
                initial_conversation=str(typed.get(BlockId.CHANNEL) or origin_channel) or None,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
        ContextBlock(elements=[MarkdownTextObject(text=cost)]),
    ]
    if problem:
        text = f":warning: Nothing was dialled. {problem}\nFix it and send again."
        blocks.insert(0, SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT))))
    return View(
        type="modal",
        callback_id=CallbackId.SEND_CALL,
        title="Send a call",
        submit="Send call",
        close="Cancel",
        private_metadata=json.dumps({"origin_channel": origin_channel}),
        blocks=blocks,
    )


VOICEMAIL_CHOICES = (
    ("hangup", "Hang up (Bland's default)"),
    ("leave_message", "Leave a message"),
    ("ignore", "Ignore it and go on"),
)


def typed_text(typed: dict[str, Any], block: str, limit: int) -> str | None:
    """What the person typed in a field, to show it again (cut to what the field takes)."""
    value = typed.get(block)
    return str(value)[:limit] if isinstance(value, str) and value else None


def text_input(
    block: str,
    label: str,
    limit: int,
    typed: dict[str, Any],
    *,
    hint: str | None = None,
    optional: bool = True,
    multiline: bool = False,
    placeholder: str | None = None,
    initial: str | None = None,
) -> InputBlock:
    """A text field whose element has the block's id, showing what was `typed` in it again (else `initial`),
    cut to its `limit`: Slack refuses the whole view when a prefill is longer than the field takes."""
    shown = typed_text(typed, block, limit) or (initial[:limit] if initial else None)
    return InputBlock(
        block_id=block,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(
            action_id=block,
            multiline=multiline,
            max_length=limit,
            placeholder=placeholder,
            initial_value=shown,
        ),
    )


def schema_picker(
    block: str,
    schemas: list[tuple[str, str]] | None,
    typed: dict[str, Any],
    *,
    labels: tuple[str, str],
    hint: str | None = None,
) -> InputBlock:
    """Citation schemas to choose: a picker of `schemas` (id, name) with what was chosen kept, or, when Bland
    did not list them, a field for their IDs. `labels` are the picker's and the field's."""
    if not schemas:
        return text_input(block, labels[1], 2000, typed, hint=hint, multiline=True)
    options = [
        Option(text=name[:75] or schema_id[:75], value=schema_id[:150]) for schema_id, name in schemas[:100]
    ]
    picked = typed.get(block)
    initial = [o for o in options if isinstance(picked, list) and o.value in picked] or None
    return InputBlock(
        block_id=block,
        label=labels[0],
        optional=True,
        hint=hint,
        element=StaticMultiSelectElement(action_id=block, options=options, initial_options=initial),
    )


def call_settings_blocks(
    schemas: list[tuple[str, str]] | None, typed: dict[str, Any] | None = None
) -> list[InputBlock]:
    """Render the settings the call and batch modals share: citation schemas (a picker of `schemas`, id and
    name, or typed IDs when Bland did not list them), voicemail handling and the summary prompt."""
    typed = typed or {}
    chooser = schema_picker(
        BlockId.CITATION_SCHEMAS,
        schemas,
        typed,
        labels=("Citation schemas", "Citation schema IDs"),
        hint="Enterprise; needs the call recorded. Typed IDs: one per line or comma-separated (see /bland schemas).",
    )
    voicemail = [Option(text=text, value=value) for value, text in VOICEMAIL_CHOICES]
    chosen = next((o for o in voicemail if o.value == typed.get(BlockId.VOICEMAIL_ACTION)), None)
    return [
        chooser,
        InputBlock(
            block_id=BlockId.VOICEMAIL_ACTION,
            label="On voicemail",
            optional=True,
            element=StaticSelectElement(
                action_id=BlockId.VOICEMAIL_ACTION, options=voicemail, initial_option=chosen
            ),
        ),
        text_input(
            BlockId.VOICEMAIL_MESSAGE,
            "Voicemail message",
            VOICEMAIL_MESSAGE_MAX_CHARS,
            typed,
            hint="Left only with 'Leave a message'.",
            multiline=True,
        ),
        text_input(
            BlockId.SUMMARY_PROMPT,
            "Summary prompt",
            SUMMARY_PROMPT_MAX_CHARS,
            typed,
            hint=f"How Bland should summarise each call. At most {SUMMARY_PROMPT_MAX_CHARS} characters.",
            multiline=True,
        ),
    ]


def loading_view(title: str, text: str) -> View:
    """Render what a modal shows while its content is fetched: Slack wants a view within 3 seconds."""
    return message_view(title, f":hourglass_flowing_sand: {text}", close="Cancel")


def message_view(title: str, text: str, *, close: str = "Done") -> View:
    """Render a modal that only says something (work in progress, or how it ended)."""
    return View(
        type="modal",
        title=truncate(title, VIEW_TITLE),
        close=close,
        blocks=[SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT)))],
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


def read_values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten a submitted view's state to {block_id: value} whatever the element type."""
    values: dict[str, Any] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
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
            elif kind == "datetimepicker":
                values[block_id] = element.get("selected_date_time")
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
