"""The audit log export: who did what, when, where, to what (payload fingerprint), and how it ended."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from bot.deps import Deps
from bot.errors import UserError

MAX_DAYS = 366
AUDIT_COLUMNS = ["at_utc", "actor", "channel", "action", "target", "fingerprint", "outcome", "detail"]


def parse_days(args: str, default: float = 7) -> float:
    """Read `[days]`: a number from a fraction of a day to a year."""
    text = args.strip().split()[0] if args.strip() else ""
    if not text:
        return default
    try:
        days = float(text)
    except ValueError:
        raise UserError(f"Usage: `/bland audit [days]`: `{text}` is not a number of days.") from None
    if not 0 < days <= MAX_DAYS:
        raise UserError(f"Give between 0 and {MAX_DAYS} days.")
    return days


async def export(deps: Deps, days: float) -> tuple[int, str, str]:
    """Return (entries, CSV text, file name) for the last `days`."""
    now = deps.clock.now()
    entries = await deps.store.audit.since(now - days * 86400)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for e in entries:
        at = datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds")
        writer.writerow(
            [
                at,
                e.actor,
                e.channel or "",
                e.action,
                e.target or "",
                e.fingerprint or "",
                e.outcome,
                e.detail or "",
            ]
        )
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M")
    return len(entries), out.getvalue(), f"blandbot-audit-{stamp}.csv"
