"""Following a v2 batch: Bland keeps no progress on it, so the call list (filtered by batch) is counted each
poll, and each call is read in full once, after it ended, for the summary and result file.

The rows are kept (bot/store/batch_calls.py), so the reading resumes after a restart and no call is read
twice; the reads spend Bland's request budget as results (after sends and stops, before safety-net reads),
a bounded number a poll, and the card says how far they got ("Reading results 2,400 / 10,000").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.bland.budget import BURST_SHARE
from bot.bland.errors import BlandError, BlandNotFoundError
from bot.bland.models import Call
from bot.blocks.batches import BatchProgress, CallTally
from bot.flows.batch_api import Lifecycle, lifecycle

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

# What a call's light row keeps (the call list's documented fields) and what its full read adds.
LIGHT_FIELDS = {
    "call_id",
    "to",
    "queue_status",
    "status",
    "completed",
    "answered_by",
    "call_length",
    "error_message",
    "batch_id",
}
DETAIL_FIELDS = LIGHT_FIELDS | {
    "corrected_duration",
    "price",
    "summary",
    "variables",
    "analysis",
    "concatenated_transcript",
}
TRANSCRIPT_KEPT = 2000
PAGE = 1000
READS_AT_ONCE = 4
# Reads a poll makes at most: its share of the budget over a poll interval, within these bounds.
MIN_READS, MAX_READS = 5, 2000


def light(call: Call) -> dict[str, Any]:
    return call.model_dump(mode="json", by_alias=True, exclude_none=True, include=LIGHT_FIELDS)


def nothing_more(call: Call) -> bool:
    """Whether a call's list row is its whole result: it ended unanswered, or failed before anyone spoke
    (no transcript, summary or variables to read); such calls are never read on their own."""
    if not call.is_terminal:
        return False
    unanswered = (call.answered_by_text or "").lower() == "no-answer"
    return unanswered or (call.is_error and not call.call_length)


def detail(call: Call) -> dict[str, Any]:
    kept = call.model_dump(mode="json", by_alias=True, exclude_none=True, include=DETAIL_FIELDS)
    transcript = kept.get("concatenated_transcript")
    if not transcript and call.transcripts:
        transcript = " / ".join(f"{line.user}: {line.text}" for line in call.transcripts if line.text)
    if transcript:
        kept["concatenated_transcript"] = transcript[:TRANSCRIPT_KEPT]
    return kept


@dataclass(frozen=True)
class V2Read:
    """One poll of a v2 batch: its progress, its lifecycle, and whether every result has been read."""

    progress: BatchProgress
    lifecycle: Lifecycle
    calls_done: bool  # Bland is done with the batch
    results_read: bool  # … and every call that ended has been read in full


def reads_a_poll(deps: Deps) -> int:
    """As many reads as the budget serves in a third of a lease (a poll must end well within its lease, or
    another replica would take the batch and read the same calls): 70 at Bland's default 5 a second."""
    settings = deps.settings
    share = settings.bland_max_rps * (1 - BURST_SHARE) * settings.lease_seconds / 3
    return int(min(max(share, MIN_READS), MAX_READS))


async def read_v2(deps: Deps, batch_id: str, data: dict[str, Any]) -> V2Read:
    """Count the call list (kept), learn the lifecycle, and read some calls that ended."""
    expected = data.get("expected") if isinstance(data.get("expected"), int) else None
    # The lifecycle first: once Bland says the batch is over, the call list read after it shows every call
    # ended (read the other way round, a list from before the end could close the card short of it).
    phase = await lifecycle(deps, batch_id, read_logs=True)
    tally = CallTally()
    page: list[tuple[str, bool, dict[str, Any], bool]] = []
    async for call in deps.bland.list_pages(batch_id=batch_id):
        if not call.id:
            continue
        tally.add(call)
        page.append((call.id, call.is_terminal, light(call), nothing_more(call)))
        if len(page) >= PAGE:
            await deps.store.batch_calls.record(batch_id, page)
            page = []
    if page:
        await deps.store.batch_calls.record(batch_id, page)
    stopped = bool(data.get("stopped_by"))
    calls_done = phase.final or tally.all_ended(None if stopped else expected)
    await read_results(deps, batch_id, reads_a_poll(deps))
    counts = await deps.store.batch_calls.counts(batch_id)
    results_read = counts.read >= counts.ended
    reading = (counts.read, counts.ended) if calls_done and not results_read else None
    progress = tally.progress(
        expected=expected,
        phase=phase.phase,
        note=phase.message,
        done=calls_done and results_read,
        reading=reading,
    )
    return V2Read(progress, phase, calls_done, results_read)


async def read_results(deps: Deps, batch_id: str, limit: int) -> int:
    """Read up to `limit` calls that ended and were not read yet; return how many were read."""
    unread = await deps.store.batch_calls.claim_unread(batch_id, limit, seconds=deps.settings.lease_seconds)
    if not unread:
        return 0
    gate = asyncio.Semaphore(READS_AT_ONCE)
    read = 0

    async def one(call_id: str) -> None:
        nonlocal read
        async with gate:
            try:
                call = await deps.bland.get_call(call_id)
            except BlandNotFoundError:  # listed, then gone: its light row is all there is
                await deps.store.batch_calls.keep_detail(
                    batch_id, call_id, {"call_id": call_id, "missing": True}
                )
                return
            await deps.store.batch_calls.keep_detail(batch_id, call_id, detail(call))
            read += 1

    results = await asyncio.gather(*(one(call_id) for call_id in unread), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    await deps.store.batch_calls.release(
        batch_id,
        [call_id for call_id, r in zip(unread, results, strict=True) if isinstance(r, BaseException)],
    )
    if failed:
        first = failed[0]
        if not isinstance(first, BlandError):
            raise first
        log.warning(
            "batch %s: %d result reads failed (%s); they are read again next poll",
            batch_id,
            len(failed),
            first,
        )
    return read


async def kept_calls(deps: Deps, batch_id: str) -> AsyncIterator[Call]:
    """Every kept call of a batch (its full read, or its light row), a page at a time."""
    after = ""
    while True:
        rows = await deps.store.batch_calls.page(batch_id, after, 500)
        for row in rows:
            if row.get("missing"):
                continue
            yield Call.model_validate(row)
        if len(rows) < 500:
            return
        after = str(rows[-1].get("call_id") or "")


async def keep_from_webhook(deps: Deps, batch_id: str, payload: dict[str, Any]) -> bool:
    """A call webhook of a tracked v2 batch is that call's full result: keep it, saving a read."""
    try:
        call = Call.model_validate(payload)
    except ValueError:
        return False
    if not call.id or not call.is_terminal:
        return False
    await deps.store.batch_calls.record(batch_id, [(call.id, True, light(call), False)])
    await deps.store.batch_calls.keep_detail(batch_id, call.id, detail(call))
    return True
