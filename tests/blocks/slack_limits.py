"""Builder output checked against Slack's Block Kit limits, as the Slack stand-in checks what it is sent.

slack_sdk's models check most limits when serialised (`to_dict()`); bot/blocks/limits.py checks the
rest on the JSON, as Slack would (blocks per message, a field's 2,000 characters, plain_text_input's
max_length ≤ 3,000, …). On top: every message has a short fallback text, and stays under the ~12,000
characters of block text past which Slack answers `msg_blocks_too_long`.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.blocks.limits import FALLBACK_TEXT, MESSAGE_TEXT_TOTAL, message_problems, view_problems


def message_fits(text: str, blocks: list[Block] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assert a message (fallback text and blocks) is one Slack accepts; return the blocks' JSON."""
    assert text.strip(), "every message needs fallback text"
    assert len(text) <= FALLBACK_TEXT, f"fallback text of {len(text)} characters"
    rendered = [
        b.to_dict() if isinstance(b, Block) else b for b in blocks
    ]  # to_dict() runs slack_sdk's checks
    assert rendered, "no blocks"
    assert message_problems(rendered) == []
    total = sum(len(t) for t in mrkdwn_texts(rendered, plain_too=True))
    assert total <= MESSAGE_TEXT_TOTAL, f"{total} characters of block text"
    return rendered


def view_fits(view: View) -> dict[str, Any]:
    """Assert a modal or Home tab is one Slack accepts; return its JSON."""
    rendered = view.to_dict()  # slack_sdk checks 1–100 blocks, the title, private_metadata…
    assert view_problems(rendered) == []
    return rendered


def mrkdwn_texts(node: Any, *, plain_too: bool = False) -> list[str]:
    """Return the texts inside Block Kit JSON that Slack renders as mrkdwn (plain_text shows as typed).

    With `plain_too`, every text, for counting what a message holds.
    """
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "plain_text" and not plain_too:
            return []
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(mrkdwn_texts(value, plain_too=plain_too))
    elif isinstance(node, list):
        for item in node:
            found.extend(mrkdwn_texts(item, plain_too=plain_too))
    return found


PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<#C0SECRET>", "<https://evil")
HOSTILE = "<!channel> <!here> <!everyone> <@U0ADMIN> <#C0SECRET> <https://evil.example|x> &"


def pings_in(text: str, blocks: Any) -> list[str]:
    """Return the mrkdwn texts (fallback included) that would ping someone or link somewhere."""
    return [t for t in [text, *mrkdwn_texts(blocks)] if any(p in t for p in PINGS)]
