"""Retention, enforced hourly (once across replicas): RETENTION_DAYS for what is personal, AUDIT_RETENTION_DAYS
for the audit log, and days (not months) for ledgers that only guard against duplicates."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.deps import Deps
from bot.settings import Settings
from bot.store import Store
from bot.store.retention import Swept

log = logging.getLogger(__name__)

DAY = 86400.0
# A duplicate (a Slack retry, a replayed webhook, a re-delivered message) comes within hours; ledgers keep
# two weeks (never longer than RETENTION_DAYS: delivered messages hold what Slack was shown).
LEDGER_DAYS = 14.0


async def apply_retention(deps: Deps) -> None:
    """Scheduler chore: run retention once an hour, whichever process claims the hour first."""
    hour = datetime.fromtimestamp(deps.clock.now(), UTC).strftime("%Y-%m-%dT%H")
    if await deps.store.chores.claim(f"retention:{hour}"):
        await run_retention(deps.settings, deps.store, deps.clock.now())


async def run_retention(settings: Settings, store: Store, now: float) -> Swept:
    """Scrub, then delete, what is past its retention at `now`; log counts (never contents)."""
    repo = store.retention
    swept = Swept()
    if settings.retention_days > 0:
        cutoff = now - settings.retention_days * DAY
        await repo.scrub(cutoff, swept)
        ledger = now - min(LEDGER_DAYS, settings.retention_days) * DAY
        await repo.delete_ledgers(ledger_before=ledger, card_before=cutoff, swept=swept)
    if settings.audit_retention_days > 0:
        await repo.delete_audit(now - settings.audit_retention_days * DAY, swept)
        if settings.retention_days > 0:
            # Once the audit no longer mentions a row and it holds nothing personal, nothing needs it.
            kept = max(settings.retention_days, settings.audit_retention_days)
            await repo.delete_finished(now - kept * DAY, swept)
    if swept.scrubbed or swept.deleted:
        log.info("retention: %s", swept.describe())
    return swept
