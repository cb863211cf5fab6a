"""A batch request's state: load, move (with its card, events and audit in one unit), fingerprint, card.

The state machine is in ARCHITECTURE.md, "State machines"; every move is one conditional UPDATE … RETURNING,
and only the caller that wins a move does its work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.bland.errors import BlandError
from bot.blocks.approvals import BalanceCheck, approval_card
from bot.blocks.batches import BatchCardInfo
from bot.blocks.format import label_text
from bot.caps import CapCheck
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, Kind, RequestState, Topic, card_key
from bot.errors import UserError
from bot.flows.batch_api import known_api
from bot.flows.batch_cards import ON_REQUEST_CARD, on_request_card, stored_info
from bot.flows.batch_form import placeholders_in
from bot.flows.notifications import Event
from bot.payloads import BatchPayload
from bot.permissions import Role
from bot.store.batch_requests import BatchRequest
from bot.store.outbox import Delivery, card_update
from bot.unit import Unit

log = logging.getLogger(__name__)


RECHECK_SECONDS = 60.0


MAX_RECONCILE_CHECKS = 10


async def listed_numbers(deps: Deps, payload: BatchPayload) -> int:
    """How many of a frozen payload's numbers are on the do-not-call list now."""
    return len(await deps.store.dnc.find(payload.numbers))


def card_channel(deps: Deps, request: BatchRequest) -> str:
    """Return where a request's approval card is (or goes)."""
    return request.card_channel or deps.settings.approval_channel or request.channel


async def read_balance(deps: Deps) -> BalanceCheck:
    """The account's balance now (`GET /v1/me`), or unknown when Bland does not say."""
    try:
        return BalanceCheck((await deps.bland.account()).balance)
    except BlandError as exc:
        log.warning("cannot read the account's balance: %s", exc)
        return BalanceCheck(None)


async def render_card(
    deps: Deps,
    request: BatchRequest,
    caps: CapCheck | None = None,
    balance: BalanceCheck | None = None,
    *,
    live: BatchCardInfo | None = None,
) -> tuple[str, list[Any]]:
    """Render a request's approval card as it stands (with its waves, when it was split, and the batches it
    was sent as). `live` is what a poll has just learnt of one of them, not yet stored."""
    waves = await deps.store.batch_requests.waves_of(request.id) if request.waves else []
    return approval_card(
        request,
        placeholders=placeholders_in(request.payload.prompt),
        redact=deps.settings.redact_phone_numbers,
        pricing=deps.settings.pricing,
        caps=caps,
        hours=None if deps.settings.calling_window.always else deps.settings.calling_window.describe(),
        waves=waves,
        api=await known_api(deps),
        balance=balance,
        approvers=deps.permissions.holders(Role.APPROVER, besides=request.requester),
        batches=await sent_batches(deps, request, waves, live),
    )


async def sent_batches(
    deps: Deps, request: BatchRequest, waves: list[BatchRequest], live: BatchCardInfo | None
) -> list[BatchCardInfo]:
    """The batches a request was sent as (one, or one per wave sent) that its card shows, as they stand."""
    ids = [wave.batch_id for wave in waves if wave.batch_id] if waves else [request.batch_id]
    shown = []
    for batch_id in ids:
        if batch_id is None:
            continue
        if live is not None and live.batch_id == batch_id:
            shown.append(live)
            continue
        item = await deps.store.tracked.find(Kind.BATCH, batch_id, card_channel(deps, request))
        if item is not None and on_request_card(item):
            shown.append(stored_info(item))
    return shown


def request_card(request_id: str) -> str:
    """Return the key of a request's approval card."""
    return card_key("batch_request", request_id)


async def card_delivery(
    deps: Deps,
    request: BatchRequest,
    caps: CapCheck | None = None,
    *,
    first: bool = False,
    balance: BalanceCheck | None = None,
    live: BatchCardInfo | None = None,
    min_interval: float = 0.0,
) -> Delivery:
    """The approval card as the request stands: its first post, or the update that replaces what it shows.

    A wave has no card of its own: its parent's card shows it. Once sent, the card is the batch's card too:
    `live` is the batch as a poll has just seen it (its updates come at most every `min_interval` seconds)."""
    if request.parent_id:
        request = await load_request(deps, request.parent_id)
    text, blocks = await render_card(deps, request, caps, balance, live=live)
    key = request_card(request.id)
    channel = card_channel(deps, request)
    if first:
        return Delivery(key=key, channel=channel, text=text, blocks=blocks)
    return card_update(key, channel, text, blocks, min_interval=min_interval)


@dataclass(frozen=True)
class Audit:
    """The audit entry of a request's move: who, what, how it ended (recorded in the move's unit)."""

    actor: str
    action: AuditAction
    outcome: AuditOutcome
    detail: str | None = None
    target: str | None = None


async def move(
    deps: Deps,
    request_id: str,
    from_state: RequestState,
    to_state: RequestState,
    *,
    event: Event | None = None,
    audit: Audit | None = None,
    **fields: Any,
) -> BatchRequest | None:
    """Make one conditional move and queue the card's new state, the event's lines and the audit entry,
    committed together (in the caller's unit of work when there is one).

    Returns the moved request, or None when another caller won the move. The card cannot go stale: its
    update is delivered through Slack's failures, the latest state last.
    """
    async with deps.unit() as u:
        request = await u.move(deps.store.batch_requests, request_id, from_state, to_state, **fields)
        if request is None:
            return None
        await u.deliver(await card_delivery(deps, request))
        if event is not None:
            await u.announce(event)
        if audit is not None:
            await record(u, request, audit)
    return request


async def record(u: Unit, request: BatchRequest, audit: Audit) -> None:
    """Record a request's audit entry: who, where (its card), what (the payload fingerprint), the outcome."""
    await u.audit(
        actor=audit.actor,
        action=audit.action,
        outcome=audit.outcome,
        channel=request.card_channel,
        target=audit.target or request.id,
        fingerprint=request.fingerprint,
        detail=audit.detail,
    )


async def load_request(deps: Deps, request_id: str) -> BatchRequest:
    request = await deps.store.batch_requests.get(request_id)
    if request is None:
        raise UserError(f"There is no batch request `{request_id}`.")
    return request


def describe_state(request: BatchRequest) -> str:
    """Say in one sentence where a request stands (for people whose click came too late)."""
    who = f" by <@{request.approver}>" if request.approver else ""
    return {
        RequestState.APPROVED: f"It was already approved{who}.",
        RequestState.SENDING: f"It was already approved{who} and is being sent.",
        RequestState.SENT: f"It was already approved{who} and goes out in {request.waves} waves."
        if request.waves
        else f"It was already approved{who} and sent as batch `{request.batch_id}`.",
        RequestState.SEND_FAILED: f"It was approved{who}, but Bland did not take it: {request.reason}",
        RequestState.OUTCOME_UNKNOWN: f"It was approved{who}; the bot is checking whether Bland took it.",
        RequestState.REJECTED: f"It was already rejected{who}: {request.reason}",
        RequestState.CANCELLED: "The requester cancelled it.",
        RequestState.EXPIRED: "It expired before anyone decided.",
    }.get(request.state, f"It is {request.state}.")


def batch_data(request: BatchRequest) -> dict[str, Any]:
    """What a batch sent from a request remembers of it (its progress is drawn on the request's card; its
    summary and result file go into that card's thread)."""
    return {
        "label": request.label,
        "request_id": request.card_of,  # the request whose card shows it (a wave's: its parent's)
        "wave": request.wave,
        "approver": request.approver,
        "requester": request.requester,
        "test_mode": request.payload.test_mode,
        "api": request.batch_api or "v1",
        "expected": request.call_count,
        "card": ON_REQUEST_CARD,  # drawn on the approval card, which becomes the batch's card
    }


def decided(request: BatchRequest, how: str, *, tell_requester: bool = True) -> Event:
    """A decision, for subscribers and (in a DM) the requester."""
    return Event(
        key=f"batch_request:{request.id}:decided",
        topic=Topic.APPROVALS,
        text=f":scales: Batch *{label_text(request.label)}* ({request.call_count} calls) {how}",
        where=(request.card_channel or request.channel, request_card(request.id)),
        requester=request.requester if tell_requester else None,
        dm_text=f"Your batch request *{label_text(request.label)}* was {how}." if tell_requester else None,
    )
