"""The do-not-call list: kept by operators and admins, enforced wherever a number is dialled, fed by opt-outs.

Numbers are stored in E.164. A call to a listed number is refused in its modal; a batch's listed rows are
taken out before its payload is frozen and named (masked) on the approval card; a batch approved after one
of its numbers was listed is not sent (what was approved would no longer be what may be sent).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from dataclasses import dataclass
from typing import Any

from bot.bland.models import Call
from bot.blocks.dnc import LISTED, dnc_entry_text, dnc_list
from bot.blocks.format import mask_phone
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, DncSource
from bot.errors import FormErrors, UserError
from bot.flows.batch_form import CSV_MAX_BYTES, SHOWN_PROBLEMS
from bot.flows.uploads import read_csv_upload
from bot.ids import BlockId
from bot.limits import REASON_MAX_CHARS
from bot.permissions import Role
from bot.phones import split_leading_number, to_e164

log = logging.getLogger(__name__)

TRUTHY = {"true", "yes", "y", "1"}


def _number(deps: Deps, raw: str) -> str:
    try:
        return to_e164(raw, deps.settings.default_region)
    except ValueError as exc:
        raise UserError(str(exc)) from None


async def add(deps: Deps, args: str, *, user: str, channel: str | None) -> str:
    """`/bland dnc add <number> [reason]`."""
    await deps.permissions.require(user, Role.OPERATOR, "change the do-not-call list")
    raw, reason = split_leading_number(args)
    raw = raw or args.split(" ")[0]  # not a number at all: refused by name below
    if not raw:
        raise UserError("Usage: `/bland dnc add <number> [reason]`.")
    number = _number(deps, raw)
    reason = reason.strip()[:REASON_MAX_CHARS]
    masked = mask_phone(number, redact=deps.settings.redact_phone_numbers)
    added = await deps.store.dnc.add(number, reason=reason, source=DncSource.MANUAL, added_by=user)
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.DNC_ADD,
        outcome=AuditOutcome.ADDED if added else AuditOutcome.UNCHANGED,
        channel=channel,
        target=masked,
        detail=reason or None,
    )
    if not added:
        entry = await deps.store.dnc.get(number)
        where = dnc_entry_text(entry, redact=deps.settings.redact_phone_numbers) if entry else masked
        return f"{masked} was already on the do-not-call list: {where}."
    return f":no_entry_sign: {masked} is on the do-not-call list now. It will not be dialled from Slack."


async def remove(deps: Deps, args: str, *, user: str, channel: str | None) -> str:
    """`/bland dnc remove <number>`."""
    await deps.permissions.require(user, Role.OPERATOR, "change the do-not-call list")
    raw = split_leading_number(args)[0] or args.strip().split(" ")[0]
    if not raw:
        raise UserError("Usage: `/bland dnc remove <number>`.")
    number = _number(deps, raw)
    masked = mask_phone(number, redact=deps.settings.redact_phone_numbers)
    removed = await deps.store.dnc.remove(number)
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.DNC_REMOVE,
        outcome=AuditOutcome.REMOVED if removed else AuditOutcome.UNCHANGED,
        channel=channel,
        target=masked,
    )
    if not removed:
        return f"{masked} was not on the do-not-call list."
    return f"{masked} is off the do-not-call list: it may be dialled again."


async def listing(deps: Deps, *, user: str) -> tuple[str, list[Any]]:
    """`/bland dnc list`: the newest entries, masked."""
    await deps.permissions.require(user, Role.OPERATOR, "see the do-not-call list")
    entries = await deps.store.dnc.recent(LISTED)
    return dnc_list(entries, await deps.store.dnc.count(), redact=deps.settings.redact_phone_numbers)


@dataclass(frozen=True)
class ImportLines:
    """Numbers and reasons read from an import, and the lines that were not numbers."""

    entries: dict[str, str]
    bad_lines: list[int]
    first_problem: str


def parse_import(text: str, *, default_region: str) -> ImportLines:
    """Read `number[,reason]` rows (a header row naming a phone column is skipped)."""
    entries: dict[str, str] = {}
    bad: list[int] = []
    first = ""
    reader = csv.reader(io.StringIO(text.strip("\ufeff\r\n ")))
    for row in reader:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if reader.line_num == 1 and cells[0].lower() in ("phone", "phone_number", "number"):
            continue
        try:
            number = to_e164(cells[0], default_region)
        except ValueError as exc:
            bad.append(reader.line_num)
            first = first or str(exc)
            continue
        entries.setdefault(number, ",".join(cells[1:]).strip()[:REASON_MAX_CHARS])
    return ImportLines(entries, bad, first)


async def import_form(deps: Deps, values: dict[str, Any], *, user: str) -> str:
    """Check the import modal and read its file (FormErrors go inline); return the text to import."""
    await deps.permissions.require(user, Role.OPERATOR, "change the do-not-call list")
    files = values.get(BlockId.DNC_FILE) or []
    pasted = str(values.get(BlockId.DNC_TEXT) or "").strip()
    if files and pasted:
        raise FormErrors({BlockId.DNC_TEXT: "Upload a file or paste the numbers, not both."})
    if not files and not pasted:
        raise FormErrors({BlockId.DNC_TEXT: "Paste the numbers, one per line, or upload a CSV file above."})
    if pasted:
        return pasted
    return await read_csv_upload(deps, files, CSV_MAX_BYTES, block=BlockId.DNC_FILE)


async def import_numbers(deps: Deps, text: str, *, user: str, channel: str | None) -> str:
    """Add every number of an import (parsed off the event loop); say what was added and what was not."""
    parsed = await asyncio.to_thread(parse_import, text, default_region=deps.settings.default_region)
    added = await deps.store.dnc.add_many(parsed.entries, source=DncSource.IMPORT, added_by=user)
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.DNC_IMPORT,
        outcome=AuditOutcome.ADDED if added else AuditOutcome.UNCHANGED,
        channel=channel,
        detail=f"{added} added, {len(parsed.entries) - added} already listed, {len(parsed.bad_lines)} bad lines",
    )
    parts = [f"Imported {added} number{'s' if added != 1 else ''} to the do-not-call list"]
    if len(parsed.entries) > added:
        parts.append(f"{len(parsed.entries) - added} were already on it")
    text_out = "; ".join(parts) + "."
    if parsed.bad_lines:
        shown = ", ".join(str(n) for n in parsed.bad_lines[:SHOWN_PROBLEMS])
        more = len(parsed.bad_lines) - SHOWN_PROBLEMS
        text_out += (
            f" Not numbers, skipped: line {shown}{f' and {more} more' if more > 0 else ''}"
            f" (first problem: {parsed.first_problem})"
        )
    return text_out


async def refusal(deps: Deps, number: str) -> str | None:
    """The sentence that refuses a call to a listed number, or None when it may be dialled."""
    entry = await deps.store.dnc.get(number)
    if entry is None:
        return None
    return (
        f"This number is on the do-not-call list ({dnc_entry_text(entry, redact=True)}). "
        "It is not dialled; an operator can remove it with `/bland dnc remove`."
    )


def opted_out(call: Call, variable: str | None) -> bool:
    """Whether the call's citations, analysis or variables say the callee asked never to be called again."""
    if not variable:
        return False
    for source in (call.citation_values, call.analysis or {}, call.variables or {}):
        value = source.get(variable)
        if value is True or (isinstance(value, str) and value.strip().lower() in TRUTHY):
            return True
    return False
