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
from bot.blocks.format import fit, label_text, mask_phone, money, progress_bar, truncate
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
    calls: list[dict[str, Any]] = field(default_factory=list)  # to, state, call_id
    pricing: Pricing = field(default_factory=lambda: Pricing.of("start"))
    redact: bool = True


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
                f"*{label_text(request.label, '?')}* · {request.call_count} calls · up to {cost} · "
                f"from <@{request.requester}> · request `{request.id}`"
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
        f"• *{label_text(r.label, '?')}* · {r.call_count} calls · `{r.state}`"
        + (f" · `{r.batch_id}`" if r.batch_id else "")
        for r in data.mine[:10]
    )
    blocks.append(_section("*Your batch requests*\n" + (mine or "None yet.")))
    running = "\n".join(
        f"• *{label_text(str(b['label']))}* `{b['batch_id']}` {progress_bar(int(b['completed']), int(b['total']), width=10)}"
        for b in data.batches[:10]
    )
    blocks.append(_section("*Active batches*\n" + (running or "None running.")))
    blocks.append(_section("*Recent backfills*\n" + ("\n".join(data.backfills[:5]) or "None yet.")))
    calls = "\n".join(
        f"• {mask_phone(c.get('to'), redact=data.redact)} · {fit(str(c['state']), 60)} · `{fit(str(c['call_id']), 80)}`"
        for c in data.calls[:5]
    )
    blocks.append(_section("*Recent calls*\n" + (calls or "None yet.")))
    return View(type="home", blocks=blocks)
