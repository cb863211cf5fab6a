"""The Bland account as an operator sees it: its balance, its refill setting and what today cost so far."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks.format import money
from bot.deps import Deps
from bot.flows.digest import figures
from bot.permissions import Role


async def balance_text(deps: Deps, *, user: str) -> str:
    """`/bland balance` (operators): the balance (`GET /v1/me`), the refill setting and today's estimate."""
    await deps.permissions.require(user, Role.OPERATOR, "see the account's balance")
    account = await deps.bland.account()
    balance = money(account.balance) if account.balance is not None else "not given by Bland"
    refill = account.billing.refill_to
    refills = f"auto-refill to {money(refill)}" if refill is not None else "no auto-refill"
    today = datetime.fromtimestamp(deps.clock.now(), UTC).date()
    spent = await figures(deps, today)
    return (
        f":moneybag: Bland balance: *{balance}* ({refills}). Today (UTC) so far: {spent.calls} call"
        f"{'s' if spent.calls != 1 else ''}, about {money(spent.cost)} ({deps.settings.pricing.label}; an "
        "estimate from Bland's call list, which carries no price)."
    )
