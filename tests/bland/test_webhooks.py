import json

import pytest

from bot.bland.webhooks import sign, verified_webhook, verify_signature
from bot.safe_json import nesting_ok

SECRET = "whsec-test"


def test_raw_body_signature_verifies() -> None:
    body = b'{"call_id": "c1", "completed": true}'
    assert verify_signature(SECRET, body, sign(SECRET, body))


def test_compact_reserialisation_verifies_like_node_json_stringify() -> None:
    payload = {"call_id": "c1", "summary": "héllo", "price": 0.5}
    raw = json.dumps(payload, indent=2, ensure_ascii=False).encode()  # what arrived, pretty-printed
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert verify_signature(SECRET, raw, sign(SECRET, compact))


def test_uppercase_and_prefixed_headers_are_accepted() -> None:
    body = b"{}"
    assert verify_signature(SECRET, body, "sha256=" + sign(SECRET, body).upper())


def test_forged_missing_and_wrong_secret_are_rejected() -> None:
    body = b'{"call_id": "c1"}'
    assert not verify_signature(SECRET, body, sign("other", body))
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "")
    assert not verify_signature("", body, sign("", body))
    assert not verify_signature(SECRET, b'{"call_id": "c2"}', sign(SECRET, body))


def test_non_json_body_is_checked_raw_only() -> None:
    body = b"not json"
    assert verify_signature(SECRET, body, sign(SECRET, body))
    assert not verify_signature(SECRET, body, sign(SECRET, b"other"))


def test_nesting_is_measured_outside_strings() -> None:
    assert nesting_ok(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', limit=2)
    assert nesting_ok(b'{"a": "\\\\"}', limit=1)  # an escaped backslash ends before the closing quote
    assert not nesting_ok(b"[" * 40 + b"]" * 40, limit=32)


def test_a_deeply_nested_body_is_never_parsed_and_never_verifies() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert not verify_signature(SECRET, deep, sign(SECRET, b"[]"))  # no RecursionError


def test_the_replay_key_is_what_was_signed_so_whitespace_variants_are_one_webhook() -> None:
    payload = {"call_id": "c1", "completed": True}
    compact = json.dumps(payload, separators=(",", ":")).encode()
    signature = sign(SECRET, compact)
    variants = [compact, json.dumps(payload).encode(), json.dumps(payload, indent=4).encode()]
    found = [verified_webhook(SECRET, body, signature) for body in variants]
    assert all(f is not None and f.payload == payload for f in found)
    assert len({f.replay_key for f in found if f}) == 1


def test_a_signed_body_that_is_not_an_object_is_refused_after_verifying() -> None:
    with pytest.raises(ValueError):
        verified_webhook(SECRET, b"[1, 2]", sign(SECRET, b"[1, 2]"))
    assert verified_webhook(SECRET, b"[1, 2]", sign(SECRET, b"[3]")) is None
