"""The batch modals: Request a batch, and the reason asked when rejecting one."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import DateTimePickerElement, FileInputElement
from slack_sdk.models.views import View

from bot.blocks.format import SECTION_LIMIT, escape, truncate
from bot.blocks.modals import call_settings_blocks, channel_picker, duration_input, text_input, voice_input
from bot.ids import BlockId, CallbackId
from bot.ids import Option as OptionValue
from bot.limits import FREE_TEXT_MAX_CHARS, LABEL_MAX_CHARS, NOTE_MAX_CHARS, PROMPT_MAX_CHARS

FIELD_NAMES: dict[str, str] = {
    BlockId.CHANNEL: "Channel",
    BlockId.BATCH_LABEL: "Label",
    BlockId.BASE_PROMPT: "Prompt",
    BlockId.RECIPIENTS_FILE: "CSV file",
    BlockId.RECIPIENTS_TEXT: "Pasted CSV",
    BlockId.FROM_NUMBER: "From number",
    BlockId.MAX_DURATION: "Max duration",
    BlockId.VOICE: "Voice",
    BlockId.APPROVER_NOTE: "Note",
    BlockId.CITATION_SCHEMAS: "Citation schemas",
    BlockId.VOICEMAIL_ACTION: "On voicemail",
    BlockId.VOICEMAIL_MESSAGE: "Voicemail message",
    BlockId.SUMMARY_PROMPT: "Summary prompt",
}


def batch_modal(
    *,
    origin_channel: str,
    voices: tuple[str, ...],
    max_minutes: float,
    max_calls: int,
    typed: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    schemas: list[tuple[str, str]] | None = None,
) -> View:
    """Render the "Request a batch" modal: nothing is dialled until someone else approves.

    Given what was `typed` and the `problems` found after the submission was acknowledged (a slow CSV
    file), the form comes back filled in, with the problems on top: Slack shows inline errors only in
    the answer to a submission, and that answer had to go before the file was read.
    """
    typed = typed or {}
    blocks: list[Block] = [
        text_input(
            BlockId.BATCH_LABEL,
            "Label",
            LABEL_MAX_CHARS,
            typed,
            hint="How people will recognise this batch, e.g. 'March renewals, West region'.",
            optional=False,
        ),
        text_input(
            BlockId.BASE_PROMPT,
            "Prompt",
            PROMPT_MAX_CHARS,
            typed,
            hint="What the agent says and does. {{column}} is filled from each CSV row.",
            optional=False,
            multiline=True,
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
        text_input(
            BlockId.RECIPIENTS_TEXT,
            "…or paste the recipients as CSV",
            FREE_TEXT_MAX_CHARS,
            typed,
            hint=f"Header row first. At most {max_calls} rows.",
            multiline=True,
            placeholder="phone,name\n+14155550123,Ada",
        ),
        text_input(
            BlockId.FROM_NUMBER,
            "From number",
            40,
            typed,
            hint="One of your Bland numbers; empty uses Bland's default.",
        ),
        duration_input("Max duration per call (minutes)", max_minutes, typed.get(BlockId.MAX_DURATION)),
        voice_input(voices, typed.get(BlockId.VOICE)),
        InputBlock(
            block_id=BlockId.BATCH_OPTIONS,
            label="Options",
            optional=True,
            element=CheckboxesElement(
                action_id=BlockId.BATCH_OPTIONS,
                options=[
                    Option(text="Test mode: dial only the first row", value=OptionValue.TEST_MODE),
                    Option(text="Record the calls", value=OptionValue.RECORD),
                    Option(
                        text="Leave out the rows with problems and send the rest",
                        value=OptionValue.LEAVE_OUT_BAD_ROWS,
                    ),
                ],
            ),
        ),
        *call_settings_blocks(schemas, typed),
        InputBlock(
            block_id=BlockId.START_AT,
            label="Start (optional)",
            optional=True,
            hint="Leave empty to send as soon as it is approved. Either way, calls ring only inside calling hours.",
            element=DateTimePickerElement(action_id=BlockId.START_AT),
        ),
        text_input(BlockId.APPROVER_NOTE, "Note to the approver", NOTE_MAX_CHARS, typed, multiline=True),
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
    if problems:
        lines = "\n".join(
            f"• *{FIELD_NAMES.get(block, block)}*: {escape(message)}" for block, message in problems.items()
        )
        text = truncate(
            f":warning: Nothing was requested yet. Fix this and submit again:\n{lines}", SECTION_LIMIT
        )
        blocks.insert(0, SectionBlock(text=MarkdownTextObject(text=text)))
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
