import json

from bot.bland.webhooks import sign, verify_signature

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
