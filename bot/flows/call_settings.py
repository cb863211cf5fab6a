"""The call settings the Send a call and Request a batch modals share, as Bland documents them now
(docs/bland.md, "Calls"): citation schemas (`citation_schema_ids`), what to do on voicemail (`voicemail`,
an object) and the summary prompt (`summary_prompt`, at most 2,000 characters)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.ids import BlockId
from bot.limits import SUMMARY_PROMPT_MAX_CHARS, VOICEMAIL_MESSAGE_MAX_CHARS

# What Bland does when a call reaches voicemail: hang up is its default.
VOICEMAIL_ACTIONS = ("hangup", "leave_message", "ignore")
# Bland's schema ids are UUIDs; the typed field (when Bland does not list the schemas) takes nothing else.
_ID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class CallSettings:
    """Validated settings; `fields()` is their part of a Send Call body (empty when nothing was chosen)."""

    citation_schema_ids: tuple[str, ...] = ()
    voicemail_action: str | None = None
    voicemail_message: str | None = None
    summary_prompt: str | None = None

    def fields(self) -> dict[str, Any]:
        """The body fields, documented names and shapes only."""
        body: dict[str, Any] = {}
        if self.citation_schema_ids:
            body["citation_schema_ids"] = list(self.citation_schema_ids)
        if self.voicemail_action:
            voicemail: dict[str, Any] = {"action": self.voicemail_action}
            if self.voicemail_message:
                voicemail["message"] = self.voicemail_message
            body["voicemail"] = voicemail
        if self.summary_prompt:
            body["summary_prompt"] = self.summary_prompt
        return body


def chosen_ids(raw: Any) -> list[str]:
    """The schema ids a picker (a list) or the typed field (one per line or comma-separated) holds."""
    parts = raw if isinstance(raw, list) else _SPLIT.split(str(raw or ""))
    return list(dict.fromkeys(str(part).strip() for part in parts if str(part).strip()))


def parse_call_settings(values: dict[str, Any], *, record: bool, errors: dict[str, str]) -> CallSettings:
    """Read the shared settings from a submitted modal, adding what is wrong to `errors` (keyed by block).

    Citations need the call recorded: Bland rejects `record: false` with citation schemas."""
    schema_ids = chosen_ids(values.get(BlockId.CITATION_SCHEMAS))
    bad = [i for i in schema_ids if not _ID.match(i)]
    if bad:
        errors[BlockId.CITATION_SCHEMAS] = (
            f"{', '.join(bad[:3])} {'is' if len(bad) == 1 else 'are'} not a schema ID (a UUID, as "
            "`/bland schemas` shows)."
        )
    elif schema_ids and not record:
        errors[BlockId.CITATION_SCHEMAS] = (
            "Citation schemas read the call's recording: tick 'Record' as well, or choose no schema."
        )
    action = str(values.get(BlockId.VOICEMAIL_ACTION) or "").strip() or None
    message = str(values.get(BlockId.VOICEMAIL_MESSAGE) or "").strip() or None
    if action is not None and action not in VOICEMAIL_ACTIONS:
        errors[BlockId.VOICEMAIL_ACTION] = "Choose hang up, leave a message or ignore."
    elif action == "leave_message" and not message:
        errors[BlockId.VOICEMAIL_MESSAGE] = "Write the message to leave on voicemail."
    elif message and action != "leave_message":
        errors[BlockId.VOICEMAIL_MESSAGE] = (
            "A message is left only with 'Leave a message': choose it above, or clear the message."
        )
    elif message and len(message) > VOICEMAIL_MESSAGE_MAX_CHARS:
        errors[BlockId.VOICEMAIL_MESSAGE] = f"At most {VOICEMAIL_MESSAGE_MAX_CHARS} characters."
    summary = str(values.get(BlockId.SUMMARY_PROMPT) or "").strip() or None
    if summary and len(summary) > SUMMARY_PROMPT_MAX_CHARS:
        errors[BlockId.SUMMARY_PROMPT] = (
            f"The summary prompt is {len(summary)} characters; Bland takes at most {SUMMARY_PROMPT_MAX_CHARS}."
        )
    return CallSettings(
        citation_schema_ids=tuple(schema_ids),
        voicemail_action=action,
        voicemail_message=message if action == "leave_message" else None,
        summary_prompt=summary,
    )
