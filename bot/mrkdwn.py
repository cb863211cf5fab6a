"""Slack mrkdwn's control characters, for text people typed or Bland sent.

`<!channel>`, `<!here>`, `<@U…>`, `<#C…>` and `<https://…|links>` are written with `<`, `>` and `&`; with
those escaped they arrive as text. Every layer that puts someone else's words into a message uses this.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """Escape Slack's control characters in user- or Bland-provided text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
