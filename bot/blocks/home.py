"""The Home tab: what needs the user's decision, their requests, what is running, and quick starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.approvals import decision_buttons, estimated_cost
from bot.blocks.format import fit, label_text, mask_phone, money, plural, progress_bar, slack_date, truncate
from bot.blocks.messages import STATE_LABEL
from bot.domain import CallState, RequestState, TrackedState
from bot.ids import ActionId
from bot.pricing import Pricing
from bot.store.batch_requests import BatchRequest

SECTION = 2900


@dataclass(frozen=True)
class HomeData:
    user: str
    pending: list[BatchRequest] = field(default_factory=list)  # requests this user may decide
    mine: list[BatchRequest] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)  # label, batch_id, completed, total
    backfills: list[str] = field(default_factory=list)  # one line each
    calls: list[dict[str, Any]] = field(default_factory=list)  # to, state, call_id, at
    followed: dict[str, TrackedState] = field(default_factory=dict)  # batch id → its tracking's state
    now: float = 0.0
    pricing: Pricing = field(default_factory=lambda: Pricing.of("start"))
    redact: bool = True


# A request's state in words; a sent one is running, finished or no longer followed.
REQUEST_WORDS = {
    RequestState.PENDING: "waiting for approval",
    RequestState.APPROVED: "approved, waiting for its time",
    RequestState.SENDING: "being sent",
    RequestState.SENT: "sent",
    RequestState.SEND_FAILED: "not sent",
    RequestState.OUTCOME_UNKNOWN: "sent? being checked",
    RequestState.REJECTED: "rejected",
    RequestState.CANCELLED: "cancelled",
    RequestState.EXPIRED: "expired",
}
FOLLOWED_WORDS = {
    TrackedState.ACTIVE: "running",
    TrackedState.DONE: "finished",
    TrackedState.FAILED: "failed",
    TrackedState.GAVE_UP: "no longer followed",
}


def age(seconds: float) -> str:
    """`5 min`, `3 h`, `2 days`: how long something has waited."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def request_words(request: BatchRequest, followed: dict[str, TrackedState]) -> str:
    """What became of a request, in words (a sent batch says whether it runs or finished)."""
    if request.state == RequestState.SENT and request.batch_id in followed:
        return FOLLOWED_WORDS[followed[request.batch_id]]
    if request.waves and request.state == RequestState.SENT:
        return f"sent in {request.waves} waves"
    return REQUEST_WORDS.get(request.state, str(request.state))


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION)))


def home_view(data: HomeData) -> View:
    """Render the dashboard for one user."""
    blocks: list[Block] = [
        HeaderBlock(text="Bland operations console"),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Send a call", style="primary", action_id=ActionId.OPEN_CALL_MODAL, value="home"
                ),
                ButtonElement(text="Request a batch", action_id=ActionId.OPEN_BATCH_MODAL, value="home"),
                ButtonElement(text="Start a backfill", action_id=ActionId.OPEN_BACKFILL_MODAL, value="home"),
            ]
        ),
        DividerBlock(),
        _section(f"*Waiting for your approval* ({len(data.pending)})"),
    ]
    if not data.pending:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Nothing waits for you.")]))
    for request in data.pending[:10]:
        minutes = request.payload.max_minutes
        most = estimated_cost(request.call_count, minutes, data.pricing)
        cost = money(most)
        blocks.append(
            _section(
                f"*{label_text(request.label, '?')}* · {plural(request.call_count, 'call')} · up to {cost} · "
                f"from <@{request.requester}> · waiting {age(data.now - request.created_at)}"
            )
        )
        blocks.append(
            ActionsBlock(
                block_id=f"home_decide_{request.id}",
                elements=decision_buttons(request.id, calls=request.call_count, cost=most),
            )
        )
    blocks.append(DividerBlock())
    mine = "\n".join(
        f"• *{label_text(r.label, '?')}* · {plural(r.call_count, 'call')} · {request_words(r, data.followed)} · "
        f"{slack_date(r.created_at)}"
        for r in data.mine[:10]
    )
    blocks.append(_section("*Your batch requests*\n" + (mine or "None yet.")))
    running = "\n".join(
        f"• *{label_text(str(b['label']))}* {progress_bar(int(b['completed']), int(b['total']), width=10)} · "
        f"since {slack_date(float(b.get('since') or 0))}"
        for b in data.batches[:10]
    )
    blocks.append(_section("*Active batches*\n" + (running or "None running.")))
    blocks.append(_section("*Recent backfills*\n" + ("\n".join(data.backfills[:5]) or "None yet.")))
    calls = "\n".join(
        f"• {slack_date(float(c.get('at') or 0))} · {mask_phone(c.get('to'), redact=data.redact)} · "
        f"{STATE_LABEL.get(CallState.of(str(c['state'])), fit(str(c['state']), 60))}"
        for c in data.calls[:5]
    )
    blocks.append(_section("*Recent calls*\n" + (calls or "None yet.")))
    return View(type="home", blocks=blocks)
