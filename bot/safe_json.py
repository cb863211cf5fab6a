"""JSON from strangers: refuse what is too big or nested too deeply before `json.loads` sees it.

`json.loads` recurses once per nesting level, so a body of a few hundred kilobytes of `[` raises
RecursionError; measuring the depth first is linear and cannot fail that way.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32


def nesting_ok(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Return whether JSON text nests no deeper than `limit` (brackets inside strings do not count)."""
    data = text.encode() if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def parse_json(text: str | bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON of bounded size and nesting; raise ValueError for anything else."""
    if len(text) > max_bytes:
        raise ValueError("body too large")
    if not nesting_ok(text, max_depth):
        raise ValueError("nested too deeply")
    return json.loads(text)
