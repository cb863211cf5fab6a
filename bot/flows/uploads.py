"""A CSV file uploaded in a modal (recipients of a batch, numbers for the do-not-call list): fetched with the
bot token, size-capped and decoded, or refused on the form's file input with a sentence that says why."""

from __future__ import annotations

import logging
from typing import Any

from bot.deps import Deps
from bot.errors import FormErrors
from bot.flows.batch_form import decode_csv
from bot.notifier import FileTooLarge

log = logging.getLogger(__name__)

CSV_FILETYPES = frozenset({"csv", "text", "txt", "tsv"})


async def read_csv_upload(deps: Deps, files: list[dict[str, Any]], max_bytes: int, *, block: str) -> str:
    """Download the uploaded CSV with the bot token; raise FormErrors on the file input (`block`) when refused."""
    if len(files) != 1:
        raise FormErrors({block: "Upload exactly one CSV file."})
    entry = files[0]
    name = str(entry.get("name") or "the file")
    filetype = str(entry.get("filetype") or "").lower()
    if filetype not in CSV_FILETYPES and not name.lower().endswith((".csv", ".txt", ".tsv")):
        raise FormErrors({block: f"{name} is not a CSV file ({filetype or 'unknown type'})."})
    try:
        downloaded = await deps.notifier.download(str(entry.get("id")), max_bytes=max_bytes)
    except FileTooLarge as exc:
        raise FormErrors(
            {block: f"{exc.name} is too big: the limit is {max_bytes // 1024 // 1024} MB."}
        ) from None
    except Exception as exc:
        log.warning("cannot download uploaded CSV file %s: %s", entry.get("id"), type(exc).__name__)
        raise FormErrors(
            {block: "The bot could not read that file from Slack. Upload it again, or paste the CSV."}
        ) from None
    try:
        return decode_csv(downloaded.content, name)
    except ValueError as exc:
        raise FormErrors({block: str(exc)}) from None
