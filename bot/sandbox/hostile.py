"""Hostile requests, as a fuzzer or a careless integration would send them (seeded, so every run repeats).

`hostile_requests(rng, n, ...)` yields (route, body, headers) triples for `/slack/events` and
`/bland/webhook`: malformed but signed payloads, bad or missing timestamps, unknown ids, overlong text,
mention and link injection, wrong content types. Used by tests/test_hostile_input.py and bench/fuzz.py;
the app must answer every one with a 2xx or 4xx, never a 500, and log no traceback.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bot.bland.webhooks import sign
from bot.ids import ActionId, BlockId, CallbackId
from bot.sandbox import slack_requests as sr
from bot.sandbox.harness import SIGNING_SECRET, WEBHOOK_SECRET, Sandbox
from handlers.commands import COMMANDS

NASTY_TEXT = [
    "",
    " ",
    "<!channel>",
    "<!here> <!everyone> <@U0ADMIN> <#C0SECRET> <https://evil.example|click>",
    "&lt;&amp;&gt; <b>",
    "x" * 3001,
    "y" * 40_000,
    "\u0000\u0001\u202e\ufeff",
    "💥" * 500,
    "'; DROP TABLE tracked; --",
    "{{name}} {{ }} {{",
    '=HYPERLINK("https://evil.example")',
    "+14155550123",
    "0",
    "-1",
    "1e309",
    "NaN",
    "\n\n\n",
    "status",
    "stop",
    "track backfill:",
]
# Every subcommand the router knows (from its table), plus nothing typed and one it does not know.
SUBCOMMANDS = [*dict.fromkeys(c.usage.split(" <")[0].split(" [")[0] for c in COMMANDS), "", "dance"]
ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    True,
    "",
    "x" * 5000,
    [],
    {},
    [None],
    {"a": {"b": []}},
    1.5,
    "<!channel>",
]
ACTION_IDS = [*list(ActionId), "no_such_action", "", "x" * 300]
CALLBACK_IDS = [*list(CallbackId), "no_such_view", ""]


@dataclass(frozen=True)
class HostileRequest:
    route: str  # "/slack/events" or "/bland/webhook"
    body: bytes
    headers: dict[str, str]
    kind: str


def _pick(rng: random.Random, items: list[Any]) -> Any:
    return items[rng.randrange(len(items))]


def _text(rng: random.Random) -> str:
    return str(_pick(rng, NASTY_TEXT))


def _command(rng: random.Random, response_url: str) -> str:
    fields = dict(
        sr.command_payload(
            f"{_pick(rng, SUBCOMMANDS)} {_text(rng)}".strip(),
            user="U0FUZZ",
            channel="C0OPS",
            response_url=response_url,
        )
    )
    for key in rng.sample(sorted(fields), rng.randrange(3)):
        if rng.random() < 0.5:
            fields.pop(key)
        else:
            fields[key] = _text(rng)[:200]
    return urlencode(fields)


def _mangle(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """Replace parts of a JSON value with odd ones, keeping the rest."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.08:
                continue
            out[key] = _pick(rng, ODD_VALUES) if roll < 0.16 else _mangle(rng, item, depth + 1)
        return out
    if isinstance(value, list):
        return [_mangle(rng, item, depth + 1) for item in value if rng.random() > 0.08]
    if isinstance(value, str) and rng.random() < 0.15:
        return _text(rng)
    return value


def _view(rng: random.Random) -> dict[str, Any]:
    values = {
        block: {block: {"type": "plain_text_input", "value": _text(rng)}}
        for block in rng.sample(list(BlockId), rng.randrange(1, 8))
    }
    metadata = _pick(
        rng,
        [json.dumps({"origin_channel": "C0OPS"}), "not json", "[]", json.dumps({"request_id": _text(rng)})],
    )
    return {
        "id": "V0FUZZ",
        "type": "modal",
        "callback_id": _pick(rng, CALLBACK_IDS),
        "private_metadata": metadata,
        "state": {"values": values},
        "blocks": [],
    }


def _interactive(rng: random.Random, response_url: str) -> str:
    if rng.random() < 0.5:
        payload = sr.action_payload(
            _pick(rng, ACTION_IDS),
            _text(rng)[:2000],
            user="U0FUZZ",
            channel="C0OPS",
            message_ts="1.000001",
            response_url=response_url,
        )
    else:
        payload = sr.view_submission_payload(_view(rng), {}, user="U0FUZZ")
        payload["view"] = _view(rng)
    payload = _mangle(rng, payload)
    raw = json.dumps(payload) if rng.random() > 0.1 else _pick(rng, ["{", "[]", "null", '"x"', "{" * 5000])
    return urlencode({"payload": raw})


def _event(rng: random.Random) -> str:
    event = {
        "type": _pick(rng, ["app_home_opened", "message", "no_such_event"]),
        "user": _text(rng)[:50],
        "tab": "home",
    }
    return json.dumps(_mangle(rng, json.loads(sr.event_body(event))))


def _headers(rng: random.Random, secret: str, body: str, content_type: str) -> tuple[dict[str, str], str]:
    roll = rng.random()
    headers = sr.sign_headers(secret, body)
    headers["Content-Type"] = content_type
    if roll < 0.05:
        headers["X-Slack-Request-Timestamp"] = _pick(rng, ["abc", "", "1e9", "-5", "9" * 40, "12.5"])
        return headers, "bad-timestamp"
    if roll < 0.08:
        headers = sr.sign_headers(secret, body, timestamp=1_000_000)
        headers["Content-Type"] = content_type
        return headers, "stale-timestamp"
    if roll < 0.11:
        headers["X-Slack-Signature"] = _pick(rng, ["", "v0=00", "garbage"])
        return headers, "bad-signature"
    if roll < 0.13:
        headers.pop("X-Slack-Signature")
        return headers, "unsigned"
    return headers, "signed"


def hostile_requests(
    rng: random.Random, count: int, *, signing_secret: str, webhook_secret: str, response_url: str
) -> Iterator[HostileRequest]:
    """Yield `count` hostile requests for the bot's two POST routes."""
    for _ in range(count):
        roll = rng.random()
        if roll < 0.35:
            body, content_type, kind = (
                _command(rng, response_url),
                "application/x-www-form-urlencoded",
                "command",
            )
        elif roll < 0.75:
            body, content_type, kind = (
                _interactive(rng, response_url),
                "application/x-www-form-urlencoded",
                "interactive",
            )
        elif roll < 0.85:
            body, content_type, kind = _event(rng), "application/json", "event"
        else:
            payload = _mangle(
                rng, {"call_id": _text(rng)[:80], "completed": True, "transcripts": [{"text": _text(rng)}]}
            )
            raw = json.dumps(payload).encode()
            signature = (
                sign(webhook_secret, raw)
                if rng.random() < 0.7
                else _pick(rng, ["", "00", "sha256=zz", "x" * 100])
            )
            yield HostileRequest("/bland/webhook", raw, {"X-Webhook-Signature": signature}, "webhook")
            continue
        if rng.random() < 0.03:  # the wrong content type for what the body is
            content_type = _pick(rng, ["application/json", "text/plain", "multipart/form-data"])
        headers, how = _headers(rng, signing_secret, body, content_type)
        yield HostileRequest("/slack/events", body.encode(), headers, f"{kind}/{how}")


@dataclass(frozen=True)
class Answer:
    request: HostileRequest
    status: int
    text: str


async def send_hostile(box: Sandbox, seed: int, count: int) -> list[Answer]:
    """Send `count` hostile requests (seeded) to the sandboxed bot; return how each was answered."""
    answers = []
    for request in hostile_requests(
        random.Random(seed),
        count,
        signing_secret=SIGNING_SECRET,
        webhook_secret=WEBHOOK_SECRET,
        response_url=box.slack.response_url(),
    ):
        response = await box.http.post(
            box.base_url + request.route, content=request.body, headers=request.headers
        )
        answers.append(Answer(request, response.status_code, response.text))
    await box.settle()
    return answers
