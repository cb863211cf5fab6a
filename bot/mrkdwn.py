"""Slack mrkdwn's control characters, for text people typed or Bland sent, and cutting text to a length.

`<!channel>`, `<!here>`, `<@U…>`, `<#C…>` and `<https://…|links>` are written with `<`, `>` and `&`; with
those escaped they arrive as text. Every layer that puts someone else's words into a message uses this.

Slack counts a limit on the text it receives, so text is measured *after* it is escaped (`&` is five
characters as `&amp;`): `fit` escapes first, then cuts. A cut never splits an entity (`&amp;`) or a token
(`<@U…>`, `<!date^…>`, a link): half of one would show as garbage or break the message.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_ENTITY_LONGEST = len("&amp;")
# A `<…>` token is never longer than this (mentions, dates, links with a label); a lone `<` further back is
# plain text, not a token to keep whole.
_TOKEN_LONGEST = 600


def escape(text: str) -> str:
    """Escape Slack's control characters in user- or Bland-provided text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo `escape` (for text that leaves Slack's mrkdwn, such as an attached .txt file)."""
    return _ENTITY.sub(lambda m: {"&amp;": "&", "&lt;": "<", "&gt;": ">"}[m.group(0)], text)


def safe_cut(text: str, at: int) -> int:
    """Return the index at or before `at` where `text` can be cut without splitting an entity or a token."""
    at = max(0, min(at, len(text)))
    amp = text.rfind("&", max(0, at - _ENTITY_LONGEST + 1), at)
    if amp >= 0:
        entity = _ENTITY.match(text, amp)
        if entity and entity.end() > at:
            at = amp
    opening = text.rfind("<", max(0, at - _TOKEN_LONGEST), at)
    if opening >= 0:
        closing = text.find(">", opening)
        if closing == -1 or closing >= at:
            at = opening if closing != -1 and closing - opening <= _TOKEN_LONGEST else at
    return at


def truncate(text: str, limit: int, marker: str = ELLIPSIS) -> str:
    """Cut text to at most `limit` characters, marking the cut, never inside an entity or a `<…>` token."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return marker[:limit]
    return text[: safe_cut(text, limit - len(marker))] + marker


def fit(raw: str, limit: int, marker: str = ELLIPSIS) -> str:
    """Escape someone else's text, then cut it to `limit` characters as Slack counts them."""
    return truncate(escape(raw), limit, marker)
