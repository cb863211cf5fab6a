"""The Send a call form: what a person typed, checked and turned into a `CallForm` (beside batch_form.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from bot.errors import FormErrors
from bot.flows.call_settings import CallSettings, parse_call_settings
from bot.ids import BlockId, Option
from bot.limits import FIRST_SENTENCE_MAX_CHARS, FREE_TEXT_MAX_CHARS, TASK_MAX_CHARS
from bot.phones import to_e164

_SETTINGS = {f.name for f in fields(CallSettings)}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,63}$")


@dataclass(frozen=True)
class CallForm:
    """A validated "Send a call" request."""

    phone_number: str
    channel: str
    task: str | None = None
    pathway_id: str | None = None
    first_sentence: str | None = None
    voice: str | None = None
    max_duration: float = 5.0
    record: bool = False
    request_data: dict[str, Any] = field(default_factory=dict)
    when_allowed: bool = False  # outside calling hours: schedule it rather than refuse
    settings: CallSettings = field(default_factory=CallSettings)

    @classmethod
    def restore(cls, stored: dict[str, Any]) -> CallForm:
        """A form as a call request stored it (for Retry and scheduled calls). Forms stored before Bland's
        documents dropped `answered_by_enabled` and `analysis_schema` still restore: those are left out."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in stored.items() if k in known}
        raw = kept.get("settings")
        if isinstance(raw, dict):
            raw = {**raw, "citation_schema_ids": tuple(raw.get("citation_schema_ids") or ())}
            kept["settings"] = CallSettings(**{k: v for k, v in raw.items() if k in _SETTINGS})
        return cls(**kept)

    def to_bland(self, *, request_id: str, requester: str, webhook: str | None = None) -> dict[str, Any]:
        """The POST /v1/calls body: the settings, the metadata that finds the call again after a lost
        answer (`bot_request_id`), and where Bland reports it (`webhook`, with PUBLIC_URL)."""
        body: dict[str, Any] = {
            "phone_number": self.phone_number,
            "max_duration": float(self.max_duration),
            "record": self.record,
            "metadata": {
                "source": "blandbot",
                "slack_channel": self.channel,
                "requested_by": requester,
                "bot_request_id": request_id,
            },
        }
        optional = {
            "task": self.task,
            "pathway_id": self.pathway_id,
            "first_sentence": self.first_sentence,
            "voice": self.voice,
            "request_data": self.request_data or None,
            "webhook": webhook,
        }
        body.update({k: v for k, v in optional.items() if v})
        body.update(self.settings.fields())
        return body


def _parse_object(text: str, *, pair_sep: str, what: str) -> dict[str, Any]:
    """Parse a JSON object, or `key<sep>value` lines."""
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        if not isinstance(value, dict):
            raise ValueError(f'{what} must be a JSON object, like {{"name": "Ada"}}.')
        return value
    result: dict[str, Any] = {}
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(pair_sep)
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{what}, line {number}: expected `key{pair_sep}value`, got {line.strip()!r}.")
        if not _KEY.match(key):
            raise ValueError(f"{what}, line {number}: {key!r} is not a usable key.")
        if key in result:
            raise ValueError(f"{what}, line {number}: {key!r} appears twice.")
        result[key] = value.strip()
    return result


def parse_call_form(
    values: dict[str, Any],
    *,
    default_region: str,
    voices: tuple[str, ...],
    max_minutes: float,
    fallback_channel: str,
) -> CallForm:
    """Validate the modal's values; raise FormErrors keyed by block_id."""
    errors: dict[str, str] = {}

    def text(block: str) -> str:
        return str(values.get(block) or "").strip()

    phone = ""
    try:
        phone = to_e164(text(BlockId.PHONE), default_region)
    except ValueError as exc:
        errors[BlockId.PHONE] = str(exc)

    task, pathway = text(BlockId.TASK), text(BlockId.PATHWAY)
    if task and pathway:
        errors[BlockId.PATHWAY] = "Give a task or a pathway ID, not both."
    elif not task and not pathway:
        errors[BlockId.TASK] = "Give a task, or a pathway ID below."
    elif len(task) > TASK_MAX_CHARS:
        errors[BlockId.TASK] = f"The task is {len(task)} characters; the limit is {TASK_MAX_CHARS}."

    first_sentence = text(BlockId.FIRST_SENTENCE)
    if len(first_sentence) > FIRST_SENTENCE_MAX_CHARS:
        errors[BlockId.FIRST_SENTENCE] = f"At most {FIRST_SENTENCE_MAX_CHARS} characters."

    voice = text(BlockId.VOICE) or (voices[0] if voices else "")
    if voices and voice not in voices:
        errors[BlockId.VOICE] = f"Choose one of: {', '.join(voices)}."

    max_duration = 0.0
    raw_duration = text(BlockId.MAX_DURATION) or "5"
    try:
        max_duration = float(raw_duration)
        if not 0.5 <= max_duration <= max_minutes:
            raise ValueError
    except ValueError:
        errors[BlockId.MAX_DURATION] = f"Enter minutes between 0.5 and {max_minutes:g}."

    request_data: dict[str, Any] = {}
    raw = text(BlockId.REQUEST_DATA)
    if len(raw) > FREE_TEXT_MAX_CHARS:
        errors[BlockId.REQUEST_DATA] = f"At most {FREE_TEXT_MAX_CHARS} characters."
    else:
        try:
            request_data = _parse_object(raw, pair_sep="=", what="Request data")
        except ValueError as exc:
            errors[BlockId.REQUEST_DATA] = str(exc)

    options = values.get(BlockId.OPTIONS) or []
    settings = parse_call_settings(values, record=Option.RECORD in options, errors=errors)
    if errors:
        raise FormErrors(errors)
    return CallForm(
        phone_number=phone,
        channel=str(values.get(BlockId.CHANNEL) or fallback_channel),
        task=task or None,
        pathway_id=pathway or None,
        first_sentence=first_sentence or None,
        voice=voice or None,
        max_duration=max_duration,
        record=Option.RECORD in options,
        when_allowed=Option.WHEN_ALLOWED in options,
        request_data=request_data,
        settings=settings,
    )
