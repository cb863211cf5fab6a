"""Slack's Block Kit limits, checked and kept on the JSON Slack receives.

slack_sdk's models check most limits when serialised; Slack checks more (50 blocks a message, a field's
2,000 characters, `plain_text_input`'s max_length) and refuses a message whose block text passes about
13,000 characters in all (`msg_blocks_too_long`, undocumented; the bot keeps to 12,000). Builders cut text
with `bot.mrkdwn.fit`; this module is the net behind them: `fit_message` shrinks a message that would
still break a limit and hands back what it cut, which the outbox attaches as a file, and `fit_view` does
the same for a modal or the Home tab. The Slack stand-in refuses with the same checks, so neither can be
kinder than Slack.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.mrkdwn import truncate, unescape

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID_CHARS = 255
INPUT_MAX_LENGTH = 3000
OPTIONS = 100
OPTION_TEXT = 75
OPTION_VALUE = 150
VIEW_TITLE = 24
PRIVATE_METADATA = 3000
# Undocumented: `msg_blocks_too_long` was seen near 13,200 characters of block text in one message.
MESSAGE_TEXT_TOTAL = 12_000
# A message's fallback `text` (notifications, screen readers): Slack truncates past 40,000; ours stay short.
FALLBACK_TEXT = 4000

SHORTENED_NOTE = ":page_facing_up: Shortened to fit in Slack; the full text is in the attached file."
SHORTENED_HERE = ":scissors: Shortened to fit in Slack."
# When the total is over, no text is cut below this (the start of every part stays readable).
_KEEP_AT_LEAST = 200


def _text(obj: Any) -> str:
    return str(obj.get("text") or "") if isinstance(obj, dict) else ""


def _element_problems(element: dict[str, Any], where: str) -> list[str]:
    problems = []
    if len(str(element.get("action_id") or "")) > ID_CHARS:
        problems.append(f"{where}: action_id over {ID_CHARS} characters")
    kind = element.get("type")
    if kind == "button":
        if len(_text(element.get("text"))) > BUTTON_TEXT:
            problems.append(f"{where}: button text over {BUTTON_TEXT} characters")
        if len(str(element.get("value") or "")) > BUTTON_VALUE:
            problems.append(f"{where}: button value over {BUTTON_VALUE} characters")
    if kind == "plain_text_input":
        limit = element.get("max_length")
        if limit is not None and not 1 <= int(limit) <= INPUT_MAX_LENGTH:
            problems.append(f"{where}: max_length must be 1–{INPUT_MAX_LENGTH}, not {limit}")
        initial = str(element.get("initial_value") or "")
        if len(initial) > int(limit or INPUT_MAX_LENGTH):
            problems.append(f"{where}: initial_value longer than max_length")
    options = element.get("options")
    if isinstance(options, list):
        if len(options) > OPTIONS:
            problems.append(f"{where}: {len(options)} options, at most {OPTIONS}")
        for option in options:
            if len(_text(option.get("text"))) > OPTION_TEXT or len(str(option.get("value"))) > OPTION_VALUE:
                problems.append(f"{where}: an option's text or value is too long")
    return problems


def block_problems(block: dict[str, Any], index: int) -> list[str]:
    """Return what Slack would refuse in one block."""
    where = f"blocks[{index}] ({block.get('type')})"
    problems = []
    if len(str(block.get("block_id") or "")) > ID_CHARS:
        problems.append(f"{where}: block_id over {ID_CHARS} characters")
    kind = block.get("type")
    if kind == "section":
        if "text" not in block and not block.get("fields"):
            problems.append(f"{where}: a section needs text or fields")
        if len(_text(block.get("text"))) > SECTION_TEXT:
            problems.append(f"{where}: text over {SECTION_TEXT} characters")
        fields = block.get("fields") or []
        if len(fields) > FIELDS:
            problems.append(f"{where}: {len(fields)} fields, at most {FIELDS}")
        problems += [
            f"{where}: a field over {FIELD_TEXT} characters" for f in fields if len(_text(f)) > FIELD_TEXT
        ]
        if isinstance(block.get("accessory"), dict):
            problems += _element_problems(block["accessory"], where)
    elif kind == "header" and len(_text(block.get("text"))) > HEADER_TEXT:
        problems.append(f"{where}: header over {HEADER_TEXT} characters")
    elif kind == "context":
        elements = block.get("elements") or []
        if len(elements) > CONTEXT_ELEMENTS:
            problems.append(f"{where}: more than {CONTEXT_ELEMENTS} elements")
        problems += [
            f"{where}: a context text over {SECTION_TEXT} characters"
            for e in elements
            if len(_text(e)) > SECTION_TEXT
        ]
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > ACTIONS_ELEMENTS:
            problems.append(f"{where}: more than {ACTIONS_ELEMENTS} elements")
        for element in elements:
            problems += _element_problems(element, where)
    elif kind == "input" and isinstance(block.get("element"), dict):
        problems += _element_problems(block["element"], where)
    return problems


def block_texts(node: Any) -> Iterator[dict[str, Any]]:
    """Yield every text object inside Block Kit JSON (mrkdwn and plain_text alike)."""
    if isinstance(node, dict):
        if isinstance(node.get("text"), str) and node.get("type") in ("mrkdwn", "plain_text"):
            yield node
        for value in node.values():
            yield from block_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from block_texts(item)


def text_total(blocks: Any) -> int:
    """Return how many characters of text a message's blocks hold (what `msg_blocks_too_long` counts)."""
    return sum(len(t["text"]) for t in block_texts(blocks))


def message_problems(blocks: Any) -> list[str]:
    """Return what Slack would refuse in a message's blocks (chat.postMessage answers invalid_blocks)."""
    if not blocks:
        return []
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems = [f"{len(blocks)} blocks, at most {MESSAGE_BLOCKS}"] if len(blocks) > MESSAGE_BLOCKS else []
    for index, block in enumerate(blocks):
        problems += (
            block_problems(block, index) if isinstance(block, dict) else [f"blocks[{index}] not an object"]
        )
    return problems


def too_long(blocks: Any) -> bool:
    """Return whether Slack would answer `msg_blocks_too_long` (the blocks' text in all is too long)."""
    return isinstance(blocks, list) and text_total(blocks) > MESSAGE_TEXT_TOTAL


def view_problems(view: Any) -> list[str]:
    """Return what Slack would refuse in a view (views.open and friends answer invalid_arguments)."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    blocks = view.get("blocks") or []
    problems = [] if 1 <= len(blocks) <= VIEW_BLOCKS else [f"{len(blocks)} blocks, 1–{VIEW_BLOCKS} allowed"]
    if view.get("type") == "modal" and not 1 <= len(_text(view.get("title"))) <= VIEW_TITLE:
        problems.append(f"title must be 1–{VIEW_TITLE} characters")
    for key in ("submit", "close"):
        if len(_text(view.get(key))) > VIEW_TITLE:
            problems.append(f"{key} over {VIEW_TITLE} characters")
    if len(str(view.get("private_metadata") or "")) > PRIVATE_METADATA:
        problems.append(f"private_metadata over {PRIVATE_METADATA} characters")
    if len(str(view.get("callback_id") or "")) > ID_CHARS:
        problems.append(f"callback_id over {ID_CHARS} characters")
    for index, block in enumerate(blocks):
        problems += (
            block_problems(block, index) if isinstance(block, dict) else [f"blocks[{index}] not an object"]
        )
    return problems


# -- keeping to the limits --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    """A message that Slack accepts and, when anything had to be cut from it, the whole of its text ("" when
    nothing was cut), for a file that follows it."""

    text: str
    blocks: list[dict[str, Any]] | None
    overflow: str

    @property
    def shortened(self) -> bool:
        return bool(self.overflow)


class _Cutter:
    """Cuts texts in place and keeps the whole of each one it cut, for the attached file."""

    def __init__(self) -> None:
        self.cut: list[str] = []

    def texts(self, items: Any, most: int, limit: int) -> None:
        """Keep at most `most` of a list of text objects (fields, context elements), each cut to `limit`."""
        if not isinstance(items, list):
            return
        self.cut.extend(_text(item) for item in items[most:])
        del items[most:]
        for item in items:
            self.text(item, limit)

    def text(self, obj: Any, limit: int) -> None:
        if isinstance(obj, dict) and isinstance(obj.get("text"), str) and len(obj["text"]) > limit:
            self.cut.append(obj["text"])
            obj["text"] = truncate(obj["text"], limit)

    def overflow(self) -> str:
        return "\n\n---\n\n".join(unescape(t) for t in self.cut)


def _fit_element(element: dict[str, Any], cutter: _Cutter) -> None:
    if element.get("type") == "button":
        cutter.text(element.get("text"), BUTTON_TEXT)
    options = element.get("options")
    if isinstance(options, list):
        if len(options) > OPTIONS:
            del options[OPTIONS:]
        for option in options:
            cutter.text(option.get("text"), OPTION_TEXT)
    if element.get("type") == "plain_text_input" and isinstance(element.get("initial_value"), str):
        limit = int(element.get("max_length") or INPUT_MAX_LENGTH)
        element["initial_value"] = element["initial_value"][: min(limit, INPUT_MAX_LENGTH)]


def _fit_block(block: dict[str, Any], cutter: _Cutter) -> None:
    kind = block.get("type")
    if kind == "section":
        cutter.text(block.get("text"), SECTION_TEXT)
        cutter.texts(block.get("fields"), FIELDS, FIELD_TEXT)
        if isinstance(block.get("accessory"), dict):
            _fit_element(block["accessory"], cutter)
    elif kind == "header":
        cutter.text(block.get("text"), HEADER_TEXT)
    elif kind == "context":
        cutter.texts(block.get("elements"), CONTEXT_ELEMENTS, SECTION_TEXT)
    elif kind == "actions":
        elements = block.get("elements")
        if isinstance(elements, list):
            del elements[ACTIONS_ELEMENTS:]
            for element in elements:
                if isinstance(element, dict):
                    _fit_element(element, cutter)
    elif kind == "input" and isinstance(block.get("element"), dict):
        _fit_element(block["element"], cutter)


def _fit_total(blocks: list[dict[str, Any]], cutter: _Cutter, total: int) -> None:
    """Cut the longest texts until the blocks hold at most `total` characters."""
    while (excess := text_total(blocks) - total) > 0:
        longest = max(block_texts(blocks), key=lambda t: len(t["text"]), default=None)
        if longest is None or len(longest["text"]) <= _KEEP_AT_LEAST:
            return
        cutter.text(longest, max(_KEEP_AT_LEAST, len(longest["text"]) - excess - 1))


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def fit_message(text: str, blocks: list[dict[str, Any]] | None, *, note: str = SHORTENED_NOTE) -> Fitted:
    """Return the message shrunk to Slack's limits (unchanged when it fits), with what was cut.

    A message with too many blocks keeps its first ones; texts over a limit are cut; a message over the
    total has its longest texts cut. When anything was cut, the message ends with `note`.
    """
    cutter = _Cutter()
    fallback = truncate(text, FALLBACK_TEXT)
    if not blocks:
        if fallback != text:
            cutter.cut.append(text)
        return Fitted(fallback, blocks, cutter.overflow())
    if not message_problems(blocks) and not too_long(blocks) and fallback == text:
        return Fitted(text, blocks, "")
    fitted = copy.deepcopy(blocks)
    if len(fitted) > MESSAGE_BLOCKS - 1:
        cutter.cut.extend(t["text"] for t in block_texts(fitted[MESSAGE_BLOCKS - 1 :]))
        del fitted[MESSAGE_BLOCKS - 1 :]
    for block in fitted:
        _fit_block(block, cutter)
    _fit_total(fitted, cutter, MESSAGE_TEXT_TOTAL - len(note))
    if fallback != text:
        cutter.cut.append(text)
    if not cutter.cut:
        return Fitted(fallback, fitted, "")
    fitted.append(_note(note))
    whole = "\n\n".join(unescape(t["text"]) for t in block_texts(blocks) if t["text"].strip())
    return Fitted(fallback, fitted, whole)


def fit_view(view: dict[str, Any]) -> dict[str, Any]:
    """Return a modal or Home tab shrunk to Slack's limits (unchanged when it fits)."""
    if not view_problems(view):
        return view
    fitted = copy.deepcopy(view)
    cutter = _Cutter()
    for key in ("title", "submit", "close"):
        cutter.text(fitted.get(key), VIEW_TITLE)
    blocks = fitted.get("blocks")
    if isinstance(blocks, list):
        if len(blocks) > VIEW_BLOCKS:
            del blocks[VIEW_BLOCKS - 1 :]
            blocks.append(_note(SHORTENED_HERE))
        for block in blocks:
            if isinstance(block, dict):
                _fit_block(block, cutter)
    return fitted
