"""What Bland charges, per plan (docs/bland.md, "Prices and plans"): a connected minute's price, and the least
any outbound call attempt costs. Every estimate the bot shows is Σ max(minimum, minutes × rate), and says
which plan (or which COST_PER_MINUTE) it assumed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Plan(StrEnum):
    START = "start"
    BUILD = "build"
    SCALE = "scale"
    ENTERPRISE = "enterprise"


# USD a connected minute since 2025-12-05; enterprise rates are contracts (COST_PER_MINUTE).
RATES = {Plan.START: 0.14, Plan.BUILD: 0.12, Plan.SCALE: 0.11}
# Every outbound attempt on Bland's telephony costs at least this since 2025-06-16, failed ones included;
# enterprise customers of the time kept their contracts, so none is assumed for them.
MINIMUM = 0.015


@dataclass(frozen=True)
class Pricing:
    """A plan's per-minute rate and per-call minimum, as the bot assumes them."""

    plan: Plan
    per_minute: float
    minimum: float
    overridden: bool = False  # the rate is COST_PER_MINUTE's, not the plan's

    @classmethod
    def of(cls, plan: Plan | str, cost_per_minute: float | None = None) -> Pricing:
        """The plan's prices; COST_PER_MINUTE, when set, is the rate (an enterprise contract's, say)."""
        plan = Plan(plan)
        minimum = 0.0 if plan is Plan.ENTERPRISE else MINIMUM
        if cost_per_minute is not None:
            return cls(plan, cost_per_minute, minimum, overridden=True)
        if plan not in RATES:
            raise ValueError("BLAND_PLAN=enterprise needs COST_PER_MINUTE (the contract's rate)")
        return cls(plan, RATES[plan], minimum)

    def call(self, minutes: float) -> float:
        """What one call of `minutes` costs: its minutes at the rate, and never less than the minimum."""
        return max(self.minimum, minutes * self.per_minute)

    def calls(self, count: int, minutes: float) -> float:
        """What `count` calls of `minutes` each cost."""
        return count * self.call(minutes)

    @property
    def label(self) -> str:
        """The assumption, in words: `Build plan: $0.12/min, at least $0.015 a call`."""
        rate = f"{usd(self.per_minute)}/min"
        plan = f"{self.plan.value.title()} plan"
        source = f"{plan}, COST_PER_MINUTE {rate}" if self.overridden else f"{plan}: {rate}"
        return source + (f", at least {usd(self.minimum)} a call" if self.minimum else "")


def usd(amount: float) -> str:
    """Dollars with two decimals, or three when the third is not zero: `$0.12`, `$0.015`."""
    text = f"{amount:.3f}"
    return "$" + (text[:-1] if text.endswith("0") else text)
