"""Slack's Block Kit limits, checked on JSON as Slack receives it (shared/reference/slack-facts.md §4).

The Slack stand-in refuses what Slack refuses (`invalid_blocks` for messages, `invalid_arguments` for
views), and the builder tests use the same checks, so neither can be kinder than Slack.
"""

from __future__ import annotations

from typing import Any

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
    elif kind == "context" and len(block.get("elements") or []) > CONTEXT_ELEMENTS:
        problems.append(f"{where}: more than {CONTEXT_ELEMENTS} elements")
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > ACTIONS_ELEMENTS:
            problems.append(f"{where}: more than {ACTIONS_ELEMENTS} elements")
        for element in elements:
            problems += _element_problems(element, where)
    elif kind == "input" and isinstance(block.get("element"), dict):
        problems += _element_problems(block["element"], where)
    return problems


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
