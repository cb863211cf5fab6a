"""Bland webhook signatures: HMAC-SHA256 hex of the body (docs/bland.md, "Webhooks"), verified before anything is parsed.

Bland's own example signs `JSON.stringify(req.body)`, the compact re-serialisation, so a body whose raw bytes
do not verify is tried once more in that form. Only a body of bounded size and nesting is parsed for that.
What verified (the raw bytes or the compact form) is the signed message: its digest is the replay key, so
whitespace variants of one signed body are one webhook, not several.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from bot.safe_json import MAX_BYTES, parse_json


def sign(secret: str, body: bytes) -> str:
    """Return the X-Webhook-Signature value Bland would send for `body`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_message(secret: str, raw_body: bytes, header: str | None) -> bytes | None:
    """Return what the signature covers (the raw body, or its compact JSON form), or None if it does not verify."""
    if not secret or not header or len(raw_body) > MAX_BYTES:
        return None
    signature = header.strip().lower().removeprefix("sha256=")
    if hmac.compare_digest(sign(secret, raw_body), signature):
        return raw_body
    try:
        compact = json.dumps(parse_json(raw_body), separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        return None
    if compact != raw_body and hmac.compare_digest(sign(secret, compact), signature):
        return compact
    return None


def verify_signature(secret: str, raw_body: bytes, header: str | None) -> bool:
    """Return whether the signature covers this body (raw, or re-serialised as Bland's example signs it)."""
    return signed_message(secret, raw_body, header) is not None


@dataclass(frozen=True)
class VerifiedWebhook:
    """A webhook whose signature verified: its parsed JSON object and its replay key."""

    payload: dict[str, Any]
    replay_key: str


def verified_webhook(secret: str, raw_body: bytes, header: str | None) -> VerifiedWebhook | None:
    """Verify, then parse: None when the signature does not cover the body; ValueError when it is no JSON object."""
    message = signed_message(secret, raw_body, header)
    if message is None:
        return None
    payload = parse_json(message)
    if not isinstance(payload, dict):
        raise ValueError("body is not a JSON object")
    return VerifiedWebhook(payload=payload, replay_key=hashlib.sha256(message).hexdigest())


def status_token(secret: bytes, request_id: str) -> str:
    """The token in a v2 batch's `status_webhook` URL: it names the request and proves the bot made the URL.

    Bland's documents do not say whether status webhooks are signed, so the URL itself carries the proof:
    only Bland (told it when the batch was sent) and the bot know it."""
    digest = hmac.new(secret, f"batch-status:{request_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{request_id}.{digest}"


def request_of_status_token(secret: bytes, token: str) -> str | None:
    """The request a status webhook's token names, or None when the token is not one the bot made."""
    request_id, _, _ = token.partition(".")
    if not request_id or len(token) > 200:
        return None
    return request_id if hmac.compare_digest(status_token(secret, request_id), token) else None
