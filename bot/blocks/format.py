"""Text helpers for Slack: redaction, truncation, bars, durations, values."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.limits import LABEL_MAX_CHARS
from bot.mrkdwn import escape, fit, truncate

__all__ = ["escape", "fit", "truncate"]  # re-exported: builders take them from here with the rest

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000  # a section field (slack_sdk does not check it)

_DIGITS = re.compile(r"\d")
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s().-]{7,}\d")


def mask_phone(number: str | None, *, redact: bool = True) -> str:
    """Mask all but the last 4 digits of a phone number."""
    if not number:
        return "unknown number"
    if not redact:
        return number
    digits = _DIGITS.findall(number)
    if len(digits) <= 4:
        return "•" * len(digits)
    prefix = "+" if number.strip().startswith("+") else ""
    return f"{prefix}{'•' * (len(digits) - 4)}{''.join(digits[-4:])}"


def table_phone(number: str | None, *, redact: bool) -> str:
    """A number for a CSV file: masked without its `+` (so a spreadsheet sees text, and no guard shows), or
    whole."""
    masked = mask_phone(number, redact=redact)
    return masked.lstrip("+") if redact else masked


def redact_text(text: str, *, redact: bool = True) -> str:
    """Mask phone numbers that appear inside free text (transcripts, summaries)."""
    if not redact:
        return text
    return _PHONE_IN_TEXT.sub(
        lambda m: mask_phone(m.group(0)) if len(_DIGITS.findall(m.group(0))) >= 8 else m.group(0), text
    )


def label_text(label: str | None, fallback: str = "batch") -> str:
    """Return a label people typed (or Bland sent) as safe, short mrkdwn: escaped, then cut to LABEL_MAX_CHARS."""
    return fit(label or fallback, LABEL_MAX_CHARS)


# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(…) runs when opened).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Return a value as a CSV cell a spreadsheet shows as text, never runs: formulas get a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    """Return CSV (RFC 4180, CRLF) with every cell made safe for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def progress_bar(done: int, total: int, width: int = 20) -> str:
    """Draw a text progress bar with a percentage."""
    if total <= 0:
        return f"{'░' * width} 0/0"
    filled = min(width, round(width * done / total))
    # Not in inline code: Slack colours code red, and a healthy 100 % would look like an error.
    return f"{'█' * filled}{'░' * (width - filled)} {done}/{total} ({100 * done // total}%)"


def duration(seconds: float | None) -> str:
    """Format seconds as 1m 05s."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def money(value: float | None) -> str:
    """Format a USD amount in dollars and cents (`$0.90`, `$0.11`, `$1,234.50`); an amount under ten cents that
    is not a whole number of cents keeps a third decimal (`$0.015`, Bland's least charge a call)."""
    if value is None:
        return "—"
    whole_cents = abs(value * 100 - round(value * 100)) < 1e-6
    return f"${value:,.2f}" if value >= 0.1 or whole_cents else f"${value:,.3f}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 call`, `2 calls`, `1,000 extractions`: the count and its noun, agreeing."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def value_text(value: Any, limit: int = 300) -> str:
    """Render any JSON value compactly for a field, truncated."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, (int, float)):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return truncate(text, limit)


def slack_date(ts: float, fallback: str = "") -> str:
    """Render a time that each reader sees in their own time zone (in UTC where Slack cannot)."""
    shown = fallback or datetime.fromtimestamp(ts, UTC).strftime("%a %d %b %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{shown}>"


def mentions(ids: tuple[str, ...]) -> str:
    """Mention people (`U…`, `W…`) and user groups (`S…`)."""
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)
