"""The audit log export: who did what, when, where, to what (payload fingerprint), and how it ended."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from bot.bland.errors import BlandOutcomeUnknownError
from bot.blocks.format import csv_text
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome
from bot.errors import UserError
from bot.notifier import UNREACHABLE_CHANNEL, slack_error
from bot.permissions import Role

MAX_DAYS = 366
T = TypeVar("T")
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


def unsigned(value: str | None) -> str | None:
    """A masked number (`+•••••••0123`) without its `+`, which a spreadsheet would read as a formula."""
    return value[1:] if value and value.startswith("+•") else value


async def export(deps: Deps, days: float) -> tuple[int, str, str]:
    """Return (entries, CSV text, file name) for the last `days`."""
    now = deps.clock.now()
    entries = await deps.store.audit.since(now - days * 86400)
    rows: list[list[object]] = [
        [
            datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds"),
            e.actor,
            e.channel,
            e.action,
            unsigned(e.target),
            e.fingerprint,
            e.outcome,
            unsigned(e.detail),
        ]
        for e in entries
    ]
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M")
    return len(entries), csv_text(AUDIT_COLUMNS, rows), f"blandbot-audit-{stamp}.csv"


async def upload_here(
    deps: Deps, channel: str, *, filename: str, content: str, title: str, comment: str
) -> None:
    """Upload a file where a command was typed; a channel the bot cannot post in gets a way out, not a trace."""
    try:
        await deps.notifier.upload(channel, filename=filename, content=content, title=title, comment=comment)
    except SlackApiError as exc:
        if slack_error(exc) not in UNREACHABLE_CHANNEL:
            raise
        raise UserError(
            f"The bot cannot upload here ({slack_error(exc)}). Invite it with `/invite @bland`, or run this in a "
            "channel it is in."
        ) from None


async def upload(deps: Deps, *, channel: str, user: str, days: float) -> None:
    """Upload the last `days` of the audit log as CSV to `channel` (admins only), and audit that too."""
    await deps.permissions.require(user, Role.ADMIN, "export the audit log")
    count, content, filename = await export(deps, days)
    await upload_here(
        deps,
        channel,
        filename=filename,
        content=content,
        title=f"Audit log, last {days:g} days",
        comment=f"Audit log requested by <@{user}>: {count} entries from the last {days:g} days.",
    )
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.AUDIT_EXPORT,
        outcome=AuditOutcome.UPLOADED,
        channel=channel,
        detail=f"{days:g} days, {count} entries",
    )


async def audited(
    deps: Deps,
    request: Awaitable[T],
    *,
    actor: str,
    action: AuditAction,
    channel: str | None = None,
    target: str | None = None,
    fingerprint: str | None = None,
) -> T:
    """Await one request to Bland; when it fails, audit how (and re-raise): the caller audits success.

    An ambiguous answer to a request that can dial is `outcome_unknown`, with what Bland said; any other
    failure is `failed`, with the error's type (its text may carry what the person typed).
    """
    try:
        return await request
    except BlandOutcomeUnknownError as exc:
        outcome, detail = AuditOutcome.OUTCOME_UNKNOWN, str(exc)
        error: Exception = exc
    except Exception as exc:
        outcome, detail, error = AuditOutcome.FAILED, type(exc).__name__, exc
    await deps.store.audit.record(
        actor=actor,
        action=action,
        outcome=outcome,
        channel=channel,
        target=target,
        fingerprint=fingerprint,
        detail=detail,
    )
    raise error
