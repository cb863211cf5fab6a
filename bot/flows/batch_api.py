"""Bland's two batch APIs, and everything that differs between them: which one Bland speaks, sending, finding
a send whose answer was lost, reading a batch's progress, stopping it (ARCHITECTURE.md, "Batches on two
APIs").

v1 (`/v1/batches`, the original documents) keeps a batch's progress and calls on the batch. v2
(`/v2/batches`, Bland's documents since May 2025) keeps only metadata there: progress is counted from the
call list filtered by batch, and the lifecycle comes from the status webhook or the batch's logs. Which one
Bland speaks is asked with a read that cannot dial (`GET /v2/batches/list?take=1`), never by trying a send;
the answer is remembered, and asked again when a batch read says 404. A batch is always read with the API it
was sent with.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.bland.client import BlandClient
from bot.bland.errors import BlandError, BlandNotFoundError
from bot.bland.models import BatchLog
from bot.blocks.batches import BatchProgress, CallTally
from bot.deps import Deps
from bot.domain import BatchApi

log = logging.getLogger(__name__)

FACT = "batch_api"
# Bland's list of v2 batches has no filter and no documented order: a lost send is looked for in the newest
# pages, this many batches at most.
FIND_PAGE = 100
FIND_PAGES = 10
# The v2 status webhook's final events (ARCHITECTURE.md, "Batches on two APIs").
FINAL_PHASES = frozenset({"completed", "failed", "completed_partial"})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class ApiUnknownError(BlandError):
    """Bland could not be asked which batch API it speaks (it did not answer clearly)."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted (it names what failed)."""
        return self.message


async def current_api(deps: Deps) -> tuple[BatchApi, str]:
    """The API new batches are sent with, and why: BLAND_BATCH_API, else what Bland answered (remembered)."""
    setting = deps.settings.bland_batch_api
    if setting != "auto":
        return BatchApi(setting), f"BLAND_BATCH_API={setting}"
    known = await deps.store.facts.get(FACT)
    if known is not None:
        return BatchApi(known[0]), known[1]
    return await detect(deps)


async def known_api(deps: Deps) -> BatchApi | None:
    """The API new batches go with, as far as known without asking Bland (None: not asked yet)."""
    setting = deps.settings.bland_batch_api
    if setting != "auto":
        return BatchApi(setting)
    known = await deps.store.facts.get(FACT)
    return BatchApi(known[0]) if known is not None else None


async def guess_api(deps: Deps) -> BatchApi | None:
    """The API new batches go with, asking Bland if it was never asked; None when it cannot be asked now
    (a request can wait for approval meanwhile: the send asks again, and never sends on a guess)."""
    try:
        return (await current_api(deps))[0]
    except ApiUnknownError as exc:
        log.warning("%s", exc)
        return None


async def probe(bland: BlandClient, now: float) -> tuple[BatchApi, str]:
    """Ask Bland which batch API it speaks, with a read that cannot dial; say why.

    Raises ApiUnknownError when Bland does not answer clearly: nothing is decided on a guess."""
    try:
        answered = await bland.probe_batches_v2()
    except BlandError as exc:
        raise ApiUnknownError(
            f"cannot tell which batch API Bland speaks: GET /v2/batches/list failed ({exc.user_message})",
            request=exc.request,
            response=exc.response,
        ) from None
    day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if answered:
        return BatchApi.V2, f"auto: GET /v2/batches/list answered ({day})"
    return BatchApi.V1, f"auto: GET /v2/batches/list answered 404, so Bland speaks v1 ({day})"


async def detect(deps: Deps) -> tuple[BatchApi, str]:
    """Ask Bland which batch API it speaks and remember the answer (ApiUnknownError when unclear)."""
    api, why = await probe(deps.bland, deps.clock.now())
    await deps.store.facts.set(FACT, api.value, why)
    log.info("Bland batch API: %s (%s)", api.value, why)
    return api, why


async def learn_at_start(deps: Deps) -> None:
    """At start-up, with BLAND_BATCH_API=auto: ask once, unless the answer is already remembered."""
    if deps.settings.bland_batch_api != "auto" or await deps.store.facts.get(FACT) is not None:
        return
    try:
        await detect(deps)
    except ApiUnknownError as exc:
        log.warning("%s; asking again at the first batch", exc)


async def relearn(deps: Deps) -> None:
    """A batch read said 404: ask again which API Bland speaks (for the batches sent from now on)."""
    if deps.settings.bland_batch_api != "auto":
        return
    await deps.store.facts.forget(FACT)
    try:
        await detect(deps)
    except ApiUnknownError as exc:
        log.warning("%s; asking again at the next send", exc)


def is_uuid(text: str) -> bool:
    """Whether an id looks like a UUID (v2 batch ids, and call ids too)."""
    return bool(_UUID.match(text))


def api_by_shape(batch_id: str) -> BatchApi | None:
    """What a batch id says of its API: v1's end in `-gen-batch`, v2's are UUIDs."""
    if batch_id.endswith("-gen-batch"):
        return BatchApi.V1
    if _UUID.match(batch_id):
        return BatchApi.V2
    return None


async def api_of(deps: Deps, batch_id: str, data: Mapping[str, Any] | None = None) -> BatchApi:
    """The API a batch was sent with: as recorded, else as its id looks, else the one Bland speaks now."""
    recorded = (data or {}).get("api")
    if recorded in (BatchApi.V1, BatchApi.V2):
        return BatchApi(recorded)
    request = await deps.store.batch_requests.by_batch_id(batch_id)
    if request is not None and request.batch_api:
        return BatchApi(request.batch_api)
    shaped = api_by_shape(batch_id)
    if shaped is not None:
        return shaped
    return (await current_api(deps))[0]


# -- v2: the call list, the status webhook, the logs ----------------------------------------------------


@dataclass(frozen=True)
class Lifecycle:
    """Where a v2 batch is in Bland's lifecycle: the phase, what Bland said of it, and its final counts."""

    phase: str | None = None
    message: str | None = None
    counts: Mapping[str, int] | None = None

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES


def status_key(batch_id: str) -> str:
    return f"batch-status:{batch_id}"


async def keep_status(deps: Deps, batch_id: str, event: Mapping[str, Any]) -> None:
    """Remember a status webhook's event (the newest phase; a final one is never replaced)."""
    known = await lifecycle_from_webhook(deps, batch_id)
    if known.final:
        return
    kept = {
        key: event[key]
        for key in ("status", "message", "code", "reason", "calls_total", "calls_successful", "calls_failed")
        if key in event
    }
    await deps.store.facts.set(status_key(batch_id), json.dumps(kept, sort_keys=True), "status webhook")


async def lifecycle_from_webhook(deps: Deps, batch_id: str) -> Lifecycle:
    known = await deps.store.facts.get(status_key(batch_id))
    if known is None:
        return Lifecycle()
    event = json.loads(known[0])
    return lifecycle_of(event.get("status"), event)


def lifecycle_of(phase: Any, event: Mapping[str, Any]) -> Lifecycle:
    """A phase and what Bland said with it (a status event's, or a log entry's payload)."""
    counts = {
        key: int(event[key])
        for key in ("calls_total", "calls_successful", "calls_failed")
        if isinstance(event.get(key), (int, float))
    }
    reason = " ".join(str(event[k]) for k in ("code", "reason") if event.get(k)) or None
    message = event.get("message")
    return Lifecycle(
        phase=str(phase) if phase else None,
        message=reason or (str(message) if message else None),
        counts=counts or None,
    )


def lifecycle_from_logs(logs: list[BatchLog]) -> Lifecycle:
    """The batch's phase from its newest logs: a `complete` event ends it; else the last state change."""
    for entry in logs:  # newest first
        if (entry.event_type or "").lower() == "complete":
            return lifecycle_of("completed", entry.payload)
        state = entry.payload.get("state_change")
        if state:
            return lifecycle_of(state, entry.payload)
    return Lifecycle()


async def lifecycle(deps: Deps, batch_id: str, *, read_logs: bool) -> Lifecycle:
    """The newest lifecycle the bot knows: the status webhook's, else (when asked) the batch's logs."""
    known = await lifecycle_from_webhook(deps, batch_id)
    if known.final or not read_logs:
        return known
    try:
        logs = await deps.bland.batch_logs(batch_id, take=20)
    except BlandNotFoundError:
        return known
    read = lifecycle_from_logs(logs)
    return read if read.phase else known


async def count_v2(deps: Deps, batch_id: str, *, expected: int | None) -> tuple[BatchProgress, Lifecycle]:
    """A v2 batch's progress for a one-off look (`/bland status`, `/bland stop`): the call list counted,
    the lifecycle from the status webhook or the logs."""
    tally = CallTally()
    async for call in deps.bland.list_pages(batch_id=batch_id):
        tally.add(call)
    phase = await lifecycle(deps, batch_id, read_logs=True)
    done = phase.final or tally.all_ended(expected)
    return tally.progress(expected=expected, phase=phase.phase, note=phase.message, done=done), phase


async def find_by_marker(deps: Deps, api: BatchApi, marker: str) -> str | None:
    """The id of the batch whose label (v1) or description (v2) holds `marker`, if Bland lists one."""
    if api is BatchApi.V1:
        listed = await deps.bland.list_batches()
        found = next((b for b in listed.batches if marker in (b.label or "") and b.batch_id), None)
        return found.batch_id if found else None
    for page in range(FIND_PAGES):
        batches = await deps.bland.list_batches_v2(take=FIND_PAGE, skip=page * FIND_PAGE)
        hit = next((b.id for b in batches if b.id and marker in (b.description or "")), None)
        if hit or len(batches) < FIND_PAGE:
            return hit
    return None
