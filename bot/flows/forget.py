"""`/bland forget <number>` (admins): erase a person's number from everything the bot stores.

Rows of batch requests go (a pending or held request is re-fingerprinted, or cancelled when nothing is left);
calls to the number lose their details; a scheduled call to it is not placed; every other stored text that
mentions it, in any form, is rewritten. The number goes on the do-not-call list by its keyed hash only, and
the audit entry names that hash, never the number. Messages already in Slack are not the bot's to delete: the
reply links the threads that mention it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from bot.blocks.format import mask_phone
from bot.blocks.messages import notice
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, CallRequestState, Kind, RequestState, TrackedState
from bot.errors import UserError
from bot.flows import batches
from bot.payloads import BatchPayload
from bot.permissions import Role
from bot.phones import to_e164
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery
from bot.store.retention import kept_data
from bot.store.tracked import TrackedItem

ERASED = "[forgotten number]"
SHOWN_THREADS = 20
SWEEPS = 5
# Between the digits of a written number: spaces, dots, dashes, brackets, slashes.
_SEP = r"[\s.\-()/]{0,2}"


def local_pattern(number: str) -> re.Pattern[str] | None:
    """The number's local form where people dial one without the area code: 555-0177 for +1 415 555 0177
    (North America). None elsewhere, where local forms vary too much to find safely."""
    parsed = phonenumbers.parse(number)
    national = phonenumbers.national_significant_number(parsed)
    if parsed.country_code != 1 or len(national) != 10:
        return None
    local = national[3:]
    return re.compile(rf"(?<!\d){_SEP.join(local[:3])}{_SEP}{_SEP.join(local[3:])}(?!\d)")


def number_pattern(number: str) -> re.Pattern[str]:
    """Match an E.164 number as people and systems write it: +1 415 555 0123, (415) 555-0123, 0044…, 020…"""
    parsed = phonenumbers.parse(number)
    national = phonenumbers.national_significant_number(parsed)
    country = str(parsed.country_code)
    prefix = rf"(?:(?:\+|%2B|00)?{_SEP.join(country)}{_SEP}|0{_SEP})?"
    return re.compile(rf"(?<!\d){prefix}{_SEP.join(national)}(?!\d)")


@dataclass
class Erasure:
    """What a forget found and did (counts only, and where Slack shows the number)."""

    requests: int = 0
    rows: int = 0
    cancelled: int = 0
    calls: int = 0
    scheduled: int = 0
    texts: dict[str, int] = field(default_factory=dict)
    threads: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.rows:
            parts.append(f"{self.rows} row(s) of {self.requests} batch request(s)")
        if self.cancelled:
            parts.append(f"{self.cancelled} request(s) left with no row, so cancelled")
        if self.calls:
            parts.append(f"the details of {self.calls} call(s)")
        if self.scheduled:
            parts.append(f"{self.scheduled} scheduled call(s), now not placed")
        if self.texts:
            parts.append(f"{sum(self.texts.values())} other stored text(s) ({', '.join(sorted(self.texts))})")
        return "; ".join(parts) or "nothing stored"


async def forget(deps: Deps, args: str, *, user: str, channel: str | None) -> tuple[str, list[Any]]:
    """Erase a number everywhere; return the reply for the admin who asked."""
    await deps.permissions.require(user, Role.ADMIN, "erase a number")
    raw = args.strip()
    if not raw:
        raise UserError(
            "Usage: `/bland forget <number>`: erase a person's number from everything the bot keeps."
        )
    try:
        number = to_e164(raw, deps.settings.default_region)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    pattern = number_pattern(number)
    fragment = phonenumbers.national_significant_number(phonenumbers.parse(number))[-4:]
    done = Erasure()
    # Calls to the number: their cards are among the threads to tell of, and their details go.
    calls = [
        item
        for item in await deps.store.tracked.mentioning(Kind.CALL, fragment)
        if item.data.get("to") == number
    ]
    local = local_pattern(number)

    def erased(value: str) -> str:
        value = pattern.sub(ERASED, value)
        return local.sub(ERASED, value) if local else value

    done.threads = await _threads(deps, pattern, fragment, calls)
    # What the bot said about the number's calls and requests, whatever form of the number it holds (a task's
    # "call back on 555-0177" is the same person's number).
    about = [item.external_id for item in calls]
    about += [request.id for request in await deps.store.call_requests.to_number(number)]
    await _requests(deps, number, pattern, fragment, done, user=user)
    await _calls(deps, number, calls, done)
    for _ in range(SWEEPS):  # a value another process changed meanwhile is found again by the next pass
        left = [cell for cell in await deps.store.erasure.cells(fragment) if pattern.search(cell.value)]
        for ident in about:
            left += [c for c in await deps.store.erasure.messages_about(ident) if erased(c.value) != c.value]
        for cell in left:
            changed = await deps.store.erasure.rewrite(cell, erased(cell.value))
            if changed:
                done.texts[cell.table] = done.texts.get(cell.table, 0) + changed
        if not left:
            break
    await deps.store.dnc.forget(number, added_by=user)
    # Old versions of what was rewritten: SQLite's write-ahead log is emptied (its freed pages are zeroed:
    # secure_delete); PostgreSQL's touched tables are vacuumed.
    await deps.store.db.after_erasure(sorted({*done.texts, "tracked", "call_requests", "batch_requests"}))
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.NUMBER_FORGET,
        outcome=AuditOutcome.ERASED,
        channel=channel,
        target=deps.store.dnc.hashed(number),
        detail=done.summary(),
    )
    masked = mask_phone(number)
    text = (
        f"Forgot `{masked}`: erased {done.summary()}. It is on the do-not-call list by its keyed hash only, "
        "so it is never dialled again and never stored."
    )
    if done.threads:
        links = []
        for where, ts in done.threads[:SHOWN_THREADS]:
            link = await deps.outbox.permalink(where, ts)
            links.append(f"<{link}|message in <#{where}>>" if link else f"<#{where}> (message {ts})")
        more = len(done.threads) - SHOWN_THREADS
        text += (
            "\nMessages already posted in Slack are not the bot's to delete; these mention the number, for an "
            "admin to act on there: " + ", ".join(links) + (f" and {more} more" if more > 0 else "") + "."
        )
    return notice(text, ":wastebasket:")


async def _threads(
    deps: Deps, pattern: re.Pattern[str], fragment: str, calls: list[TrackedItem]
) -> list[tuple[str, str]]:
    """Where Slack shows the number: delivered messages that mention it, and the cards of calls to it."""
    found: dict[tuple[str, str], None] = {}
    for row in await deps.store.outbox.delivered_mentioning(fragment):
        if not pattern.search(row.content) or row.channel.startswith("@"):
            continue
        ts = row.ts or (await deps.outbox.card_ts(row.thread_of, row.channel) if row.thread_of else None)
        if ts:
            found[(row.channel, ts)] = None
    for item in calls:
        if item.card_ts:
            found[(item.channel, item.card_ts)] = None
    return list(found)


async def _requests(
    deps: Deps, number: str, pattern: re.Pattern[str], fragment: str, done: Erasure, *, user: str
) -> None:
    """Take the number's rows out of every batch request; re-freeze those still waiting, or cancel them."""
    repo = deps.store.batch_requests
    for request in await repo.mentioning(fragment):
        rows = request.payload.rows
        kept = [row for row in rows if not pattern.search(str(row.get("phone_number") or ""))]
        payload = BatchPayload.from_json(
            pattern.sub(ERASED, request.payload.replace(call_data=kept).to_json())
        )
        if payload == request.payload:
            continue
        removed = len(rows) - len(kept)
        done.requests += 1 if removed else 0
        done.rows += removed
        waiting = request.state in (RequestState.PENDING, RequestState.APPROVED)
        fingerprint = payload.fingerprint() if waiting else request.fingerprint
        count = (1 if payload.test_mode else len(kept)) if waiting else request.call_count
        async with deps.unit():  # the rewrite and what it tells commit together
            await repo.rewrite_payload(request.id, payload, fingerprint=fingerprint, call_count=count)
            if not waiting or not removed:
                continue
            if not kept:
                reason = "every row was erased at a person's request"
                if await batches.move(
                    deps,
                    request.id,
                    request.state,
                    RequestState.CANCELLED,
                    reason=reason,
                    decided_at=deps.clock.now(),
                ):
                    done.cancelled += 1
                continue
            changed = await repo.get(request.id)
            if changed is not None:
                await _tell_changed(deps, changed, removed, user=user)


async def _tell_changed(deps: Deps, request: BatchRequest, removed: int, *, user: str) -> None:
    """Update a waiting request's card and say in its thread that rows were erased."""
    async with deps.unit() as u:
        await u.deliver(
            await batches.card_delivery(deps, request),
            Delivery(
                key=f"batch_request:{request.card_of}:erased:{request.fingerprint[:12]}",
                channel=batches.card_channel(deps, request),
                text=f":wastebasket: <@{user}> erased {removed} row(s) at a callee's request; the card shows what is "
                "left (a new fingerprint).",
                thread_of=batches.request_card(request.card_of),
            ),
        )


async def _calls(deps: Deps, number: str, calls: list[TrackedItem], done: Erasure) -> None:
    """Calls to the number lose their details (a live one is no longer followed, so nothing brings them
    back); a scheduled one is not placed."""
    tracked = deps.store.tracked
    for item in calls:
        await tracked.replace_data(item.id, kept_data(item.data))
        if item.state is TrackedState.ACTIVE:
            await tracked.finish(item.id, TrackedState.GAVE_UP, last_status="erased")
        done.calls += 1
    for request in await deps.store.call_requests.to_number(number):
        if await deps.store.call_requests.move(
            request.id, CallRequestState.SCHEDULED, CallRequestState.NOT_PLACED
        ):
            done.scheduled += 1
        await deps.store.call_requests.erase(request.id)
