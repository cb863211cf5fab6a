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
from bot.caps import Caps
from bot.domain import CallState, RequestState, TrackedState
from bot.ids import ActionId
from bot.pricing import Pricing
from bot.store.batch_requests import BatchRequest

SECTION = 2900


@dataclass(frozen=True)
class Today:
    """The UTC day's calls on the account, as Bland's call list shows them."""

    calls: int
    ended: int  # calls that ended (answered or not)
    answered: int  # of those, answered by a person
    seconds: float  # talk time of the calls that ended
    spend: float
    estimated: bool  # part of `spend` is a length at the plan's rate (list rows carry no price)
    more: bool  # the day had more rows than were read: every figure is "at least"
    at: float  # when it was read

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.ended if self.ended else None


@dataclass(frozen=True)
class Unread:
    """Why today's figures could not be read."""

    why: str


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
    today: Today | Unread | None = None  # the account's calls today (None: not asked)
    caps: Caps | None = None


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


def today_text(today: Today | Unread, caps: Caps | None) -> str:
    """The account's day in one paragraph: calls against the daily cap, the answer rate, minutes, spend."""
    if isinstance(today, Unread):
        return f"*Today*\n:warning: Today's figures are not available: {today.why}."
    least = "at least " if today.more else ""
    plan = caps.plan.value.title() if caps else ""
    if caps is not None and caps.daily is not None:
        calls = f"*{least}{today.calls:,}* of {caps.daily:,} calls a day ({plan} plan's cap)"
    else:
        calls = f"*{least}{plural(today.calls, 'call')}*" + (
            f" (the {plan} plan has no daily cap)" if plan else ""
        )
    rate = today.answer_rate
    answered = (
        f"{today.answered:,} of the {today.ended:,} that ended answered by a person ({rate:.0%})"
        if rate is not None
        else "none ended yet"
    )
    minutes = round(today.seconds / 60)
    spend = ("about " if today.estimated else "") + money(today.spend)
    note = "; spend partly estimated from call lengths at the plan's rate" if today.estimated else ""
    return (
        f"*Today* (since 00:00 UTC, every call on the account)\n{calls} · {answered} · "
        f"{plural(minutes, 'minute')} of talk · {least}{spend} spent\n_As of {slack_date(today.at)}{note}._"
    )


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
    ]
    if data.today is not None:
        blocks += [_section(today_text(data.today, data.caps)), DividerBlock()]
    blocks.append(_section(f"*Waiting for your approval* ({len(data.pending)})"))
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
