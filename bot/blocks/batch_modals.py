"""The batch modals: Request a batch, and the reason asked when rejecting one."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.blocks.modals import channel_picker, duration_input, voice_input
from bot.ids import BlockId, CallbackId
from bot.ids import Option as OptionValue
from bot.limits import FREE_TEXT_MAX_CHARS, LABEL_MAX_CHARS, NOTE_MAX_CHARS, PROMPT_MAX_CHARS


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
