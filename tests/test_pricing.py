"""What calls cost per Bland plan: the rate a connected minute, the least an attempt costs, what is assumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.ids import ActionId
from bot.pricing import Pricing
from bot.sandbox.harness import ALICE, BOB, Sandbox, block_text, buttons
from bot.settings import load_settings
from tests.handlers.test_batches import APPROVALS, recipients, request
from tests.helpers import request_id_of


@pytest.mark.parametrize(
    ("plan", "rate", "three_five_minute_calls"),
    [("start", 0.14, 2.10), ("build", 0.12, 1.80), ("scale", 0.11, 1.65)],
)
def test_each_plan_has_its_rate_and_a_minimum_per_attempt(
    plan: str, rate: float, three_five_minute_calls: float
) -> None:
    pricing = Pricing.of(plan)
    assert pricing.per_minute == rate and pricing.calls(3, 5) == pytest.approx(three_five_minute_calls)
    assert pricing.call(0) == 0.015 and pricing.call(0.05) == 0.015  # an unanswered attempt still costs
    assert pricing.label.startswith(f"{plan.title()} plan: ${rate:.2f}/min, at least $0.015 a call")


def test_cost_per_minute_overrides_the_rate_and_enterprise_needs_it() -> None:
    contract = Pricing.of("enterprise", 0.07)
    assert contract.calls(10, 2) == pytest.approx(1.40) and contract.minimum == 0
    assert contract.label == "Enterprise plan, COST_PER_MINUTE $0.07/min"
    with pytest.raises(ConfigError, match="COST_PER_MINUTE: required with BLAND_PLAN=enterprise"):
        load_settings(_env_file=None, bland_plan="enterprise")
    assert load_settings(_env_file=None, bland_plan="build", cost_per_minute=0.1).pricing.per_minute == 0.1


async def test_the_approval_card_estimates_by_the_plan_and_names_it(tmp_path: Path) -> None:
    async with Sandbox(
        tmp_path / "p.db", bland_plan="build", approver_users=(ALICE, BOB), approval_channel=APPROVALS
    ) as box:
        card = await request(box, {"recipients_text": recipients(3), "max_duration": "5"})
        text = block_text(card.blocks)
        assert "*Estimated max cost*: $1.80\n_Build plan: $0.12/min, at least $0.015 a call_" in text


async def test_the_call_modal_says_what_a_call_costs_on_the_plan(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "m.db", bland_plan="build", operator_users=(ALICE,)) as box:
        before = len(box.slack.views)
        await box.command("call")
        view = await box.modal_after(before, what="the call modal")
        assert "up to $0.60 for 5 minutes" in json.dumps(view) and "Build plan: $0.12/min" in json.dumps(view)


async def test_a_batch_that_may_cost_more_than_the_balance_is_flagged_and_needs_a_second_confirmation(
    tmp_path: Path,
) -> None:
    async with Sandbox(
        tmp_path / "b.db", bland_plan="build", approver_users=(ALICE, BOB), approval_channel=APPROVALS
    ) as box:
        box.sim.config.balance = 1.25  # less than 3 calls × 5 min × $0.12
        card = await request(box, {"recipients_text": recipients(3), "max_duration": "5"})
        text = block_text(card.blocks)
        assert "Balance: $1.25" in text
        assert "*The estimated maximum cost ($1.80) is more than the account's balance ($1.25)*" in text
        before = len(box.slack.responses)
        await box.click(
            ActionId.APPROVE_BATCH, request_id_of(card), user=BOB, channel=APPROVALS, message_ts=card.ts
        )
        asked = (await box.until(lambda: box.slack.responses[before:], what="the second confirmation"))[-1]
        assert asked["response_type"] == "ephemeral" and "Not approved yet" in asked["text"]
        button = buttons(asked["blocks"])["Approve anyway"]
        assert box.sim.count("batches.send") == 0  # nothing sent on the first click
        stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
        assert stored is not None and stored.state == "pending"
        before = len(box.slack.responses)
        await box.click(button["action_id"], button["value"], user=BOB, channel=APPROVALS, message_ts=card.ts)
        sent = (await box.until(lambda: box.slack.responses[before:], what="the approval"))[-1]
        assert "Approved and sent" in sent["text"] and box.sim.count("batches.send") == 1
        audit = [(e.action, e.outcome, e.detail) for e in await box.bot.deps.store.audit.since(0)]
        assert ("batch.approve", "approved", "over the balance, confirmed twice (up to $1.80)") in audit


async def test_a_batch_within_the_balance_is_approved_with_one_click(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "w.db", approver_users=(ALICE, BOB), approval_channel=APPROVALS) as box:
        card = await request(box)
        assert "Balance: $250.00" in block_text(
            card.blocks
        ) and "more than the account's balance" not in block_text(card.blocks)
        before = len(box.slack.responses)
        await box.click(
            ActionId.APPROVE_BATCH, request_id_of(card), user=BOB, channel=APPROVALS, message_ts=card.ts
        )
        answer = (await box.until(lambda: box.slack.responses[before:], what="the approval"))[-1]
        assert "Approved and sent" in answer["text"]


async def test_bland_balance_shows_the_balance_the_refill_and_todays_estimate_to_operators(
    tmp_path: Path,
) -> None:
    async with Sandbox(tmp_path / "m.db", bland_plan="scale", operator_users=(ALICE,)) as box:
        box.sim.config.refill_to = 500.0
        await box.command("balance", user=ALICE)
        told = await box.until(lambda: box.slack.responses, what="the balance")
        assert "Bland balance: *$250.00* (auto-refill to $500.00)" in told[-1]["text"]
        assert "Today (UTC) so far: 0 calls, about $0.00 (Scale plan: $0.11/min" in told[-1]["text"]
        await box.command("balance", user=BOB)
        refused = await box.until(lambda: len(box.slack.responses) > 1, what="the refusal")
        assert refused and "see the account's balance" in str(box.slack.responses[-1]["text"])
