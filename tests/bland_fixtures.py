"""The Bland documents' own examples (tests/fixtures/bland/), read as the documents print them.

The examples are JSON with `//` comments and trailing commas; each file starts with comment lines naming
where in ../shared/seeds/ it was copied from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "bland"
TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def strip_comments(text: str) -> str:
    """Remove `//` comments outside strings (URLs inside strings keep their slashes)."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def load(name: str) -> Any:
    """Return a fixture's JSON value."""
    text = strip_comments((FIXTURES / name).read_text())
    return json.loads(TRAILING_COMMA.sub(r"\1", text))
