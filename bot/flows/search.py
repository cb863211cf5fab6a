"""`/bland calls [filters]`: recent calls from Bland's list (so calls placed outside Slack appear too).

Filters: `status:<completed|failed|live|voicemail|human|no-answer>`, `batch:<batch_id>`, `date:YYYY-MM-DD`,
and the last four digits of a number (`0123` or `last4:0123`). Bland filters what its list can (completion,
answered_by, batch, day); the rest (failed, the last four digits) is filtered here, page by page, up to a
bounded number of rows a request. Ten at a time, newest first, with "More".
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from bot.bland.models import Call
from bot.blocks.format import csv_text, table_phone
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome
from bot.errors import UserError
from bot.flows.audit import upload_here
from bot.permissions import Role

SHOWN = 10
PAGE = 200  # rows read from Bland at a time when some filter is applied here
MAX_SCANNED = 2000  # rows read at most for one answer; "More" goes on from there
ANSWERED = {"human", "voicemail", "unknown", "no-answer"}
STATUSES = {"completed", "failed", "live", *ANSWERED}
USAGE = (
    "`/bland calls [status:completed|failed|live|human|voicemail|no-answer] [batch:<batch_id>] "
    "[date:YYYY-MM-DD] [last 4 digits]`"
)


@dataclass(frozen=True)
class CallFilter:
    status: str | None = None
    batch_id: str | None = None
    day: str | None = None
    last4: str | None = None
    start: int = 0  # index in Bland's list (newest first) where this page starts

    def query(self) -> dict[str, Any]:
        """The filters Bland's list applies itself."""
        params: dict[str, Any] = {}
        if self.status == "completed":
            params["completed"] = True
        elif self.status == "live":
            params["completed"] = False
        elif self.status in ANSWERED:
            params["answered_by"] = self.status
        if self.batch_id:
            params["batch_id"] = self.batch_id
        if self.day:
            params["created_at"] = self.day
        return params

    def keeps(self, call: Call) -> bool:
        """The filters applied here."""
        if self.status == "failed" and not call.is_error:
            return False
        digits = re.sub(r"\D", "", call.to or "")
        return not (self.last4 and not digits.endswith(self.last4))

    def encode(self) -> str:
        """The "More" button's value."""
        return json.dumps(
            {k: v for k, v in asdict(self).items() if v not in (None, 0)}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, value: str) -> CallFilter:
        """Read a "More" button's value."""
        try:
            raw = json.loads(value)
            return cls(**{k: raw[k] for k in ("status", "batch_id", "day", "last4", "start") if k in raw})
        except (ValueError, TypeError):
            raise UserError("That button is out of date: run `/bland calls` again.") from None

    def describe(self) -> str:
        """The filters in words, for the heading."""
        parts = [
            f"status {self.status}" if self.status else "",
            f"batch `{self.batch_id}`" if self.batch_id else "",
            f"on {self.day}" if self.day else "",
            f"number ending {self.last4}" if self.last4 else "",
        ]
        return ", ".join(p for p in parts if p) or "all"


def parse_filters(args: str) -> CallFilter:
    """Read `/bland calls` arguments; raise UserError naming what was not understood."""
    found = CallFilter()
    for word in args.split():
        key, sep, value = word.partition(":")
        key, value = key.lower(), value.strip()
        if not sep and re.fullmatch(r"\d{4}", word):
            found = replace(found, last4=word)
        elif key == "status" and value.lower() in STATUSES:
            found = replace(found, status=value.lower())
        elif key == "batch" and value:
            found = replace(found, batch_id=value[:200])
        elif key == "date":
            try:
                found = replace(found, day=date.fromisoformat(value).isoformat())
            except ValueError:
                raise UserError(f"`{word}`: give the date as YYYY-MM-DD.") from None
        elif key == "last4" and re.fullmatch(r"\d{4}", value):
            found = replace(found, last4=value)
        else:
            raise UserError(f"`{word[:60]}` is not a filter I know. Use {USAGE}.")
    return found


async def search(deps: Deps, wanted: CallFilter, *, user: str) -> tuple[list[Call], CallFilter | None]:
    """Return up to SHOWN calls matching, newest first, and the filter of the next page (None: no more)."""
    await deps.permissions.require(user, Role.OPERATOR, "look up calls")
    local = wanted.status == "failed" or bool(wanted.last4)
    size = PAGE if local else SHOWN
    start, scanned, found = wanted.start, 0, []
    while scanned < MAX_SCANNED:
        page = await deps.bland.list_calls(
            **wanted.query(), limit=size, **{"from": start, "to": start + size}
        )
        for index, call in enumerate(page.calls):
            if wanted.keeps(call):
                found.append(call)
                if len(found) == SHOWN:
                    following = start + index + 1
                    more = index + 1 < len(page.calls) or len(page.calls) == size
                    return found, replace(wanted, start=following) if more else None
        start += len(page.calls)
        scanned += len(page.calls)
        if len(page.calls) < size:
            return found, None
    return found, replace(wanted, start=start)


EXPORT_MAX_ROWS = 10_000
EXPORT_PAGE = 1000
EXPORT_COLUMNS = [
    "call_id",
    "created_at",
    "to",
    "status",
    "answered_by",
    "length_seconds",
    "batch_id",
    "error",
]


async def export_calls(deps: Deps, wanted: CallFilter, *, user: str, channel: str) -> None:
    """`/bland export calls [filters]` (admins): every matching call (up to 10,000) as CSV, here; audited."""
    await deps.permissions.require(user, Role.ADMIN, "export calls")
    full = deps.settings.export_full_numbers
    rows: list[list[object]] = []
    start = 0
    while len(rows) < EXPORT_MAX_ROWS:
        page = await deps.bland.list_calls(
            **wanted.query(), limit=EXPORT_PAGE, **{"from": start, "to": start + EXPORT_PAGE}
        )
        for call in page.calls:
            if wanted.keeps(call) and len(rows) < EXPORT_MAX_ROWS:
                seconds = call.duration_seconds
                rows.append(
                    [
                        call.id,
                        call.created_at or "",
                        table_phone(call.to, redact=not full),
                        call.normalized_queue_status or "",
                        call.answered_by_text or "",
                        f"{seconds:.0f}" if seconds is not None else "",
                        call.batch_id or "",
                        call.error_message or "",
                    ]
                )
        start += len(page.calls)
        if len(page.calls) < EXPORT_PAGE:
            break
    stamp = datetime.fromtimestamp(deps.clock.now(), UTC).strftime("%Y%m%d-%H%M")
    capped = f" (the first {EXPORT_MAX_ROWS})" if len(rows) == EXPORT_MAX_ROWS else ""
    await upload_here(
        deps,
        channel,
        filename=f"blandbot-calls-{stamp}.csv",
        content=csv_text(EXPORT_COLUMNS, rows),
        title=f"Calls: {wanted.describe()}",
        comment=f"Calls ({wanted.describe()}) exported by <@{user}>: {len(rows)}{capped}"
        + ("" if full else ", numbers masked")
        + ".",
    )
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.CALLS_EXPORT,
        outcome=AuditOutcome.UPLOADED,
        channel=channel,
        detail=f"{wanted.describe()}: {len(rows)} calls, numbers {'whole' if full else 'masked'}",
    )
