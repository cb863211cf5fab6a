"""The batch approval card: what will be dialled, what it may cost, and the stamped decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.batches import BatchCardInfo, batch_card, batch_line
from bot.blocks.format import (
    FIELD_LIMIT,
    SECTION_LIMIT,
    escape,
    fit,
    label_text,
    mask_phone,
    money,
    plural,
    redact_text,
    slack_date,
    truncate,
)
from bot.caps import CapCheck
from bot.domain import BatchApi, BatchState, RequestState
from bot.ids import ActionId
from bot.payloads import BatchPayload
from bot.pricing import Pricing
from bot.store.batch_requests import BatchRequest

PREVIEW_ROWS = 5
PREVIEW_COLUMNS = 8
PREVIEW_CELL = 40  # characters of a cell as Slack counts them (escaped)
PREVIEW_CHARS = 2000
LIVE_WAVES = 3  # waves drawn in full (progress, Stop) at once; the others are a line each

REQUEST_STAMP = {
    RequestState.PENDING: ":hourglass_flowing_sand: Waiting for an approver",
    RequestState.APPROVED: ":white_check_mark: Approved by <@{approver}>",
    RequestState.SENDING: ":outbox_tray: Approved by <@{approver}>, sending to Bland…",
    RequestState.SENT: ":white_check_mark: Approved by <@{approver}> · sent as batch `{batch_id}`",
    RequestState.SEND_FAILED: ":x: Approved by <@{approver}>, but Bland did not take the batch: {reason}",
    RequestState.OUTCOME_UNKNOWN: (
        ":grey_question: Approved by <@{approver}>. Bland did not answer clearly whether it took the batch; "
        "the bot is checking Bland's batch list and will not send it again."
    ),
    RequestState.REJECTED: ":no_entry: Rejected by <@{approver}>: {reason}",
    RequestState.CANCELLED: ":heavy_multiplication_x: {cancelled}",
    RequestState.EXPIRED: (
        ":alarm_clock: Expired: nobody decided before the deadline. Request it again if still needed."
    ),
}


WAVES_STAMP = (
    ":white_check_mark: Approved by <@{approver}> · goes out in {waves} waves, each when its callees' calling "
    "hours open"
)

WAVE_STATE = {
    RequestState.APPROVED: "about to be sent",
    RequestState.SENDING: "sending…",
    RequestState.SEND_FAILED: ":x: not sent: {reason}",
    RequestState.OUTCOME_UNKNOWN: ":grey_question: checking whether Bland took it",
    RequestState.CANCELLED: ":heavy_multiplication_x: {reason}",
}


def wave_times(request: BatchRequest) -> str:
    """When a request's rows would go out if approved at once: `2 at once, 1 <date>, 2 <date>`."""
    start = request.start_at or request.created_at
    return ", ".join(
        f"{rows} {'at once' if at <= start else slack_date(at)}" for at, rows in request.wave_plan
    )


def _left_out(title: str, items: list[str], sep: str) -> SectionBlock:
    """What was left out of a request: how many, and the first ten."""
    more = len(items) - 10
    listed = sep.join(items[:10]) + (f"{sep}and {more} more" if more > 0 else "")
    return SectionBlock(
        text=MarkdownTextObject(text=truncate(f"{title} ({len(items)})\n{listed}", SECTION_LIMIT))
    )


def _when_they_ring(request: BatchRequest) -> str:
    """When the calls ring if approved now: at once, at the chosen start, or from their first wave's time."""
    if request.start_at:
        return f"from {slack_date(request.start_at)}"
    plan = request.wave_plan
    start = request.created_at
    later = [at for at, _ in plan if at > start]
    if not later:
        return "ringing as soon as it is approved"
    if len(later) == len(plan):
        return f"ringing from {slack_date(later[0])}"
    return f"some ringing as soon as it is approved, the rest from {slack_date(later[0])}"


def _hours_line(request: BatchRequest, hours: str, api: BatchApi | None, *, capped: bool = False) -> str:
    """A pending request's calling hours: how many rows are outside them, and when its waves would go (v1)
    or its calls would ring (v2: one batch, each call with its own start time). When the plan's caps
    spread it, the caps' line says when instead."""
    head = f":clock9: *Calling hours* ({hours}, the callee's time): "
    outside = request.outside_rows
    if not outside:
        return head + "every row is inside them now."
    line = f"{outside} of {request.call_count} rows are outside them now"
    if capped:
        return head + f"{line}; each call rings inside its callee's hours (when: see the plan caps below)."
    plan = request.wave_plan
    if api is BatchApi.V2:
        return head + (
            f"{line}; once approved, it is sent as one batch and each call rings when its callee's hours "
            f"open. If approved at once: {wave_times(request)}."
        )
    if len(plan) > 1:
        return head + f"{line}; if approved at once, it goes out in {len(plan)} waves: {wave_times(request)}."
    return head + f"{line}; once approved, the batch goes out when every callee is inside them."


def _waves_text(waves: list[BatchRequest], batches: dict[str, BatchCardInfo]) -> str:
    """One line per wave: its calls and where it stands (once sent, how far its batch is)."""
    lines = []
    for wave in waves:
        if wave.state == RequestState.SENT:
            where = f"sent as batch `{wave.batch_id}`"
            info = batches.get(wave.batch_id or "")
            if info is not None:
                where += f" · {batch_line(info)}"
        elif wave.state == RequestState.APPROVED and wave.send_at:
            where = f":alarm_clock: scheduled {slack_date(wave.send_at)}"
        else:
            where = WAVE_STATE.get(wave.state, str(wave.state)).format(reason=wave.reason or "cancelled")
        lines.append(f"*Wave {wave.wave}* · {plural(wave.call_count, 'call')} · {where}")
    return "*Waves*\n" + "\n".join(lines)


def estimated_cost(calls: int, max_minutes: float, pricing: Pricing) -> float:
    """Return the most a batch can cost: each call its max duration at the plan's rate, never under the
    plan's per-call minimum."""
    return pricing.calls(calls, max_minutes)


@dataclass(frozen=True)
class BalanceCheck:
    """The account's balance (`GET /v1/me`) when the card was drawn; None when Bland did not say."""

    balance: float | None

    def short_of(self, estimate: float) -> bool:
        """Whether the estimate is more than the balance."""
        return self.balance is not None and estimate > self.balance


def over_balance_text(estimate: float, balance: float) -> str:
    """The warning an approver cannot miss: the batch may cost more than the account holds."""
    return (
        f":warning: *The estimated maximum cost ({money(estimate)}) is more than the account's balance "
        f"({money(balance)})*: Bland stops calls when the balance runs out (and it may go below zero). "
        "Approving asks for a second confirmation."
    )


def over_balance_prompt(request_id: str, estimate: float, balance: float) -> tuple[str, list[Block]]:
    """What an approver sees after Approve when the batch may cost more than the balance: the second
    confirmation, for them alone."""
    text = (
        f":warning: Not approved yet: the estimated maximum cost ({money(estimate)}) is more than the "
        f"account's balance ({money(balance)}). Bland stops calls when the balance runs out."
    )
    return text, [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Approve anyway",
                    style="danger",
                    action_id=ActionId.APPROVE_OVER_BALANCE,
                    value=request_id,
                    confirm=ConfirmObject(
                        title="Approve over the balance?",
                        text=f"Up to {money(estimate)} against a balance of {money(balance)}.",
                        confirm="Approve anyway",
                        deny="Not now",
                        style="danger",
                    ),
                )
            ]
        ),
    ]


def caps_text(check: CapCheck, request: BatchRequest, api: BatchApi | None) -> str:
    """A pending request against the plan's caps: what was counted, and, when it would pass a cap, how the
    bot spreads it so that Bland rejects none of its calls."""
    caps, usage, calls = check.caps, check.usage, request.call_count
    head = f"*Plan caps* ({caps.describe()})"
    at_once = (
        f" Bland runs at most {caps.concurrent} of them at once."
        if caps.concurrent is not None and calls > caps.concurrent
        else ""
    )
    if usage is None:
        return (
            f":warning: {head}: the bot could not count the calls already placed, so it cannot tell whether "
            f"this batch fits. Bland rejects calls past a cap.{at_once}"
        )
    counted = f"{plural(usage.today, 'call')} placed today (UTC), {usage.hour:,} in the last hour"
    if check.capped_by is None:
        return f":white_check_mark: {head}: {counted}; this batch fits.{at_once}"
    how = (
        "it is sent as one batch whose calls ring in groups at least an hour apart"
        if api is BatchApi.V2
        else f"it goes out in {len(request.wave_plan)} waves at least an hour apart"
    )
    return (
        f":hourglass_flowing_sand: {head}: {counted}. All {calls:,} at once would pass {check.capped_by}, so "
        f"{how}, and no call is rejected. If approved at once: {wave_times(request)}.{at_once}"
    )


def _preview(payload: BatchPayload, *, redact: bool) -> str:
    """The first rows and columns as mrkdwn: every cell escaped, then cut, so the block always fits."""
    rows = payload.rows
    columns = [c for c in (rows[0].keys() if rows else []) if c != "phone_number"]
    shown = columns[:PREVIEW_COLUMNS]
    more_columns = f" · +{len(columns) - len(shown)} more columns" if len(columns) > len(shown) else ""
    lines = ["phone · " + " · ".join(fit(str(c), PREVIEW_CELL) for c in shown) + more_columns]
    for row in rows[:PREVIEW_ROWS]:
        values = [mask_phone(str(row.get("phone_number")), redact=redact)]
        values += [fit(redact_text(str(row.get(c, "")), redact=redact), PREVIEW_CELL) for c in shown]
        lines.append(" · ".join(values))
    if len(rows) > PREVIEW_ROWS:
        lines.append(f"… and {len(rows) - PREVIEW_ROWS} more rows")
    return truncate("\n".join(lines), PREVIEW_CHARS)


def approve_confirm(calls: int, cost: float) -> ConfirmObject:
    """Render the dialog every Approve button shows: how many real calls, and the most they cost."""
    return ConfirmObject(
        title="Approve this batch?",
        text=f"{calls} call{'s' if calls != 1 else ''} to real numbers, up to {money(cost)}. "
        "They are dialled as soon as you confirm.",
        confirm="Approve and send",
        deny="Not yet",
    )


def _balance_line(balance: BalanceCheck | None) -> str:
    if balance is None:
        return ""
    if balance.balance is None:
        return "\nBalance: Bland did not say"
    return f"\nBalance: {money(balance.balance)}"


def decision_buttons(request_id: str, *, calls: int, cost: float) -> list[ButtonElement]:
    """Render Approve (behind the cost confirmation) and Reject, the same wherever a request is decided."""
    return [
        ButtonElement(
            text="Approve",
            style="primary",
            action_id=ActionId.APPROVE_BATCH,
            value=request_id,
            confirm=approve_confirm(calls, cost),
        ),
        ButtonElement(text="Reject", style="danger", action_id=ActionId.REJECT_BATCH, value=request_id),
    ]


def _stamp(request: BatchRequest) -> str:
    """The decision, who made it and when; for a sent request, where it went."""
    reason = request.reason or ""
    # Who cancelled: stored in the reason ("cancelled by <@U…>"); older requests: their requester.
    cancelled = (
        "C" + reason[1:] if reason.startswith("cancelled by") else f"Cancelled by <@{request.requester}>"
    )
    template = (
        WAVES_STAMP if request.waves and request.state == RequestState.SENT else REQUEST_STAMP[request.state]
    )
    stamp = template.format(
        waves=request.waves,
        approver=request.approver or "?",
        requester=request.requester,
        batch_id=request.batch_id or "?",
        reason=reason or "no reason given",  # stored mrkdwn-safe (flows/batches.py)
        cancelled=cancelled,
    )
    if request.decided_at and request.state.decided:
        stamp += f" · {slack_date(request.decided_at)}"
    return stamp


def _decision(
    request: BatchRequest, waves: list[BatchRequest], batches: Sequence[BatchCardInfo], hours: str | None
) -> list[Block]:
    """A decided request: the stamp, then what became of it: the running batch (progress and Stop, then its
    tally), or its waves, or when it is scheduled, with the button that cancels what has not started."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=truncate(_stamp(request), SECTION_LIMIT)))
    ]
    shown = {info.batch_id: info for info in batches}
    if waves:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=truncate(_waves_text(waves, shown), SECTION_LIMIT)))
        )
        running = [info for info in batches if info.state.live or info.state is BatchState.STOPPING]
        for info in running[:LIVE_WAVES]:
            blocks += batch_card(info, on_request=True)[1]
    elif request.batch_id and request.batch_id in shown:
        blocks += batch_card(shown[request.batch_id], on_request=True)[1]
    held = request.state == RequestState.APPROVED and request.send_at is not None
    waiting = any(wave.state == RequestState.APPROVED for wave in waves)
    if held:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f":alarm_clock: *Scheduled*: it goes out {slack_date(request.send_at or 0)}, when every "
                    f"callee is inside calling hours{f' ({hours})' if hours else ''}."
                )
            )
        )
    if held or waiting:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Cancel the waves not started" if waiting else "Cancel before it starts",
                        style="danger",
                        action_id=ActionId.CANCEL_BATCH,
                        value=request.id,
                        confirm=ConfirmObject(
                            title="Cancel the waves?" if waiting else "Cancel this batch?",
                            text="Nothing more is dialled for the waves that have not started; waves already "
                            "sent go on."
                            if waiting
                            else "It was approved but has not started: nothing is dialled if you cancel it now.",
                            confirm="Cancel them" if waiting else "Cancel the batch",
                            deny="Keep them" if waiting else "Keep it",
                            style="danger",
                        ),
                    )
                ]
            )
        )
    return blocks


def _details(
    request: BatchRequest,
    *,
    placeholders: list[str],
    redact: bool,
    pricing: Pricing,
    balance: BalanceCheck | None,
) -> list[Block]:
    """What will be (or was) dialled: settings, cost, prompt, first rows, what was left out, the note."""
    payload = request.payload
    rows = len(payload.rows)
    most = estimated_cost(request.call_count, payload.max_minutes, pricing)
    test_line = (
        f"\n:test_tube: *Test mode*: only the first of {rows} rows is dialled."
        if payload.test_mode
        else "\nTest mode: off"
    )
    record_line = (
        "\n:red_circle: *Recorded*: every call is recorded (recordings hold personal data)"
        if payload.record
        else "\nRecording: off"
    )
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=f"*Details*{test_line}{record_line}"),
            fields=[
                MarkdownTextObject(text=f"*Max duration*\n{payload.max_minutes:g} min per call"),
                MarkdownTextObject(
                    text=f"*Estimated max cost*\n{money(most)}\n_{pricing.label}_" + _balance_line(balance)
                ),
                MarkdownTextObject(text=f"*Voice*\n{fit(payload.voice or 'default', 200)}"),
                MarkdownTextObject(
                    text=f"*From*\n{mask_phone(payload.from_number, redact=redact) if payload.from_number else 'Bland default'}"
                ),
                MarkdownTextObject(
                    text=truncate(
                        "*Placeholders*\n"
                        + (", ".join(f"`{{{{{fit(p, 100)}}}}}`" for p in placeholders) or "none"),
                        FIELD_LIMIT,
                    )
                ),
            ],
        )
    ]
    prompt = truncate(escape(redact_text(payload.prompt, redact=redact)), 600)
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text=f"*Prompt*\n>{prompt.replace(chr(10), chr(10) + '>')}"))
    )
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text=f"*First rows*\n```{_preview(payload, redact=redact)}```"))
    )
    if request.excluded:
        numbers = [f"`{number}`" for number in request.excluded]
        blocks.append(_left_out(":no_entry_sign: *Left out: on the do-not-call list*", numbers, ", "))
    if request.skipped:
        lines = [escape(line) for line in request.skipped]
        blocks.append(_left_out(":scissors: *Left out by the requester: rows with problems*", lines, "; "))
    if request.note:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=truncate(f"*Note to the approver*\n{escape(request.note)}", SECTION_LIMIT)
                )
            )
        )
    return blocks


def _pending_notes(
    request: BatchRequest, *, caps: CapCheck | None, hours: str | None, api: BatchApi | None
) -> list[Block]:
    """What an approver weighs besides the list: calling hours, the chosen start, the plan's caps."""
    blocks: list[Block] = []
    if hours:
        capped = caps is not None and caps.capped_by is not None
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=truncate(_hours_line(request, hours, api, capped=capped), SECTION_LIMIT)
                )
            )
        )
    if request.start_at:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f":calendar: *Starts* {slack_date(request.start_at)} once approved (calling hours permitting)."
                )
            )
        )
    if caps is not None:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=truncate(caps_text(caps, request, api), SECTION_LIMIT)))
        )
    return blocks


def approval_card(
    request: BatchRequest,
    *,
    placeholders: list[str],
    redact: bool,
    pricing: Pricing,
    caps: CapCheck | None = None,
    hours: str | None = None,
    waves: list[BatchRequest] | None = None,
    api: BatchApi | None = None,
    balance: BalanceCheck | None = None,
    approvers: str = "",
    batches: Sequence[BatchCardInfo] = (),
) -> tuple[str, list[Block]]:
    """Render a batch request for approvers; once decided, the buttons give way to the stamped decision,
    and once sent the card is the batch's card: its progress, Stop, then its final tally.

    Read in five seconds: who asks, how many calls, the most they cost and when they ring; then the decision
    (the buttons, or the stamp and the running batch); the details after. `hours` (CALLING_HOURS described)
    adds the calling-hours line; `waves` are the waves it was split into, each with its state; `batches`
    the batches it was sent as (one, or one per wave), as their cards show them now."""
    payload = request.payload
    calls = request.call_count
    label = label_text(request.label)
    pending = request.state == RequestState.PENDING
    most = estimated_cost(calls, payload.max_minutes, pricing)
    lead = (
        f"<@{request.requester}> asks to send *{label}*: *{plural(calls, 'call')}*, up to *{money(most)}*, "
        f"{_when_they_ring(request)}."
    )
    if pending and approvers:
        lead += f"\nApprovers: {approvers}"
    blocks: list[Block] = [
        HeaderBlock(text="Batch approval requested" if pending else "Batch request"),
        SectionBlock(text=MarkdownTextObject(text=truncate(lead, SECTION_LIMIT))),
    ]
    if pending:
        if balance is not None and balance.balance is not None and balance.short_of(most):
            blocks.append(
                SectionBlock(text=MarkdownTextObject(text=over_balance_text(most, balance.balance)))
            )
        blocks.append(
            ActionsBlock(
                elements=[
                    *decision_buttons(request.id, calls=calls, cost=most),
                    ButtonElement(text="Cancel request", action_id=ActionId.CANCEL_BATCH, value=request.id),
                ]
            )
        )
    else:
        blocks += _decision(request, waves or [], batches, hours)
    blocks += _details(request, placeholders=placeholders, redact=redact, pricing=pricing, balance=balance)
    if pending:
        blocks += _pending_notes(request, caps=caps, hours=hours, api=api)
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Request `{request.id}` · fingerprint `sha256:{request.fingerprint[:16]}…`"
                    + (f" · expires {slack_date(request.expires_at)}" if pending else "")
                )
            ]
        )
    )
    held = request.state == RequestState.APPROVED and request.send_at is not None
    sent = next((info for info in batches if info.batch_id == request.batch_id), None)
    shown = (
        "scheduled"
        if held
        else f"in {request.waves} waves"
        if request.waves
        else batch_line(sent)
        if sent
        else request.state
    )
    text = f"Batch request {label} ({calls} calls): {shown}"
    return text, blocks
