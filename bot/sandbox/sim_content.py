"""What the simulated calls say: transcripts, summaries, analysis and extracted variables."""

from __future__ import annotations

import random
import re
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_ .-]+?)\s*\}\}")

CALLEE_LINES = [
    "Hello?",
    "Yes, speaking.",
    "Sure, I have a minute.",
    "Can you say that again?",
    "That sounds fine.",
    "I'm not sure, let me think.",
    "Okay, that works for me.",
    "What time would that be?",
    "No, I think that's everything.",
    "Thanks for calling.",
]
AGENT_LINES = [
    "Thank you, I've noted that.",
    "Great. Is there anything else you'd like me to pass on?",
    "Understood. Let me confirm the details with you.",
    "Perfect, that's exactly what I needed.",
    "No problem at all. Could you tell me a bit more?",
    "Got it. I'll make sure the team knows.",
    "Thanks for your patience, just one more question.",
    "Wonderful, I've updated our records.",
]
VOICEMAIL_GREETING = "You've reached my voicemail. Please leave a message after the tone."


def fill_placeholders(template: str, values: dict[str, Any]) -> str:
    """Replace {{key}} with values[key] (case-sensitive, as Bland documents); unknown keys stay."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def topic_of(task: str) -> str:
    """Return the task's first sentence, shortened, as what the call is about."""
    first = re.split(r"(?<=[.!?])\s", task.strip(), maxsplit=1)[0]
    return first[:160].rstrip(".") or "a quick question"


def transcript(
    rng: random.Random, *, task: str, first_sentence: str | None, answered_by: str, talk_seconds: float
) -> list[tuple[str, str]]:
    """Return (role, text) turns for a call of `talk_seconds` that was answered by `answered_by`."""
    if answered_by == "no-answer" or talk_seconds <= 0:
        return []
    greeting = first_sentence or f"Hi, I'm calling about this: {topic_of(task)}."
    if answered_by == "voicemail":
        return [
            ("user", VOICEMAIL_GREETING),
            ("assistant", f"{greeting} Please call us back. Goodbye."),
            ("agent-action", "Ended call: Left voicemail"),
        ]
    turns: list[tuple[str, str]] = [("user", "Hello?"), ("assistant", greeting)]
    exchanges = max(1, int(talk_seconds // 12))
    for _ in range(exchanges):
        turns.append(("user", rng.choice(CALLEE_LINES)))
        turns.append(("assistant", rng.choice(AGENT_LINES)))
    turns.append(("user", "Bye."))
    turns.append(("assistant", "Have a great day. Goodbye!"))
    turns.append(("agent-action", "Ended call: Goodbye"))
    return turns


def summary(*, task: str, answered_by: str, turns: int) -> str:
    """Return a plausible post-call summary."""
    if answered_by == "no-answer":
        return "The call was not answered."
    if answered_by == "voicemail":
        return f"Reached voicemail and left a message about: {topic_of(task)}."
    return (
        f"The agent spoke with the callee about: {topic_of(task)}. The conversation had {turns} turns "
        "and ended politely."
    )


def typed_value(rng: random.Random, name: str, kind: str | None) -> Any:
    """Return a value of the right type for an analysis or citation variable."""
    kind = (kind or "string").lower()
    if kind in {"boolean", "bool"}:
        return rng.random() < 0.5
    if kind in {"number", "integer", "int", "float"}:
        return rng.randint(1, 100)
    if kind == "email":
        return f"{name.lower().replace(' ', '.')[:12]}@example.com"
    if kind in {"date"}:
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if "yyyy" in kind or kind == "datetime":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(8, 18):02d}:00:00"
    if kind == "array":
        return [f"{name} item {i + 1}" for i in range(rng.randint(1, 3))]
    if kind == "object":
        return {"value": f"{name} detail", "confidence": round(rng.random(), 2)}
    return f"{name.replace('_', ' ')} from the call"


def analysis(rng: random.Random, schema: dict[str, Any] | None, answered_by: str) -> dict[str, Any] | None:
    """Fill an analysis_schema's keys (None values when nobody human answered)."""
    if not schema:
        return None
    human = answered_by in {"human", "unknown"}
    return {key: typed_value(rng, key, str(kind)) if human else None for key, kind in schema.items()}
