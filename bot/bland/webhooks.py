"""Bland webhook signatures: HMAC-SHA256 hex of the body (bland-api.md §11)."""

from __future__ import annotations

import hashlib
import hmac
import json


def sign(secret: str, body: bytes) -> str:
    """Return the X-Webhook-Signature value Bland would send for `body`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, raw_body: bytes, header: str | None) -> bool:
    """Check a signature against the raw body, then the compact re-serialisation, in constant time."""
    if not secret or not header:
        return False
    signature = header.strip().lower().removeprefix("sha256=")
    candidates = [raw_body]
    try:
        compact = json.dumps(json.loads(raw_body), separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        pass
    else:
        if compact != raw_body:
            candidates.append(compact)
    # Evaluate every candidate so timing does not reveal which one matched.
    results = [hmac.compare_digest(sign(secret, candidate), signature) for candidate in candidates]
    return any(results)
