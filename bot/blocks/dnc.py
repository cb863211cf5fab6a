"""The do-not-call list: its listing and the import modal."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.blocks.format import SECTION_LIMIT, escape, mask_phone, plural, slack_date, truncate
from bot.domain import DncSource
from bot.ids import BlockId, CallbackId
from bot.limits import FREE_TEXT_MAX_CHARS
from bot.store.dnc import DncEntry, is_forgotten

SOURCE = {
    DncSource.MANUAL: "added",
    DncSource.IMPORT: "imported",
    DncSource.OPT_OUT: "opted out during a call",
    DncSource.ERASURE: "forgotten on request (kept as a keyed hash)",
}
LISTED = 50


def dnc_entry_text(entry: DncEntry, *, redact: bool) -> str:
    """One entry: masked number, reason, how and by whom, when."""
    reason = f" — {escape(truncate(entry.reason, 120))}" if entry.reason else ""
    who = "" if entry.source is DncSource.OPT_OUT else f" by <@{entry.added_by}>"
    shown = "a forgotten number" if is_forgotten(entry.number) else mask_phone(entry.number, redact=redact)
    return f"`{shown}`{reason} · {SOURCE[entry.source]}{who} {slack_date(entry.added_at)}"


def dnc_list(entries: list[DncEntry], total: int, *, redact: bool) -> tuple[str, list[Block]]:
    """Render `/bland dnc list`: the newest entries and how many there are."""
    if not entries:
        return "The do-not-call list is empty.", [
            SectionBlock(
                text=MarkdownTextObject(
                    text="The do-not-call list is empty. Add a number with `/bland dnc add <number> [reason]`."
                )
            )
        ]
    lines = [f"• {dnc_entry_text(entry, redact=redact)}" for entry in entries]
    heading = f"*Do-not-call list* · {total} number{'s' if total != 1 else ''}"
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join([heading, *lines]), SECTION_LIMIT)))
    ]
    if total > len(entries):
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=f"The newest {len(entries)} of {total} are shown.")]
            )
        )
    return f"Do-not-call list: {plural(total, 'number')}", blocks


def dnc_import_modal(*, origin_channel: str) -> View:
    """The import form: a CSV file or pasted lines of `number[,reason]`."""
    return View(
        type="modal",
        callback_id=CallbackId.DNC_IMPORT,
        title="Import do-not-call",
        submit="Import",
        close="Cancel",
        private_metadata=json.dumps({"origin_channel": origin_channel}),
        blocks=[
            InputBlock(
                block_id=BlockId.DNC_FILE,
                label="Numbers (CSV file)",
                optional=True,
                hint="One number per row, optionally followed by a reason: number,reason.",
                element=FileInputElement(action_id=BlockId.DNC_FILE, filetypes=["csv", "txt"], max_files=1),
            ),
            InputBlock(
                block_id=BlockId.DNC_TEXT,
                label="…or paste them",
                optional=True,
                element=PlainTextInputElement(
                    action_id=BlockId.DNC_TEXT,
                    multiline=True,
                    max_length=FREE_TEXT_MAX_CHARS,
                    placeholder="+14155550123,asked not to be called\n+14155550124",
                ),
            ),
        ],
    )
