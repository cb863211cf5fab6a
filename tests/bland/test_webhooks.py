import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def reference_nesting_ok(data: bytes, limit: int) -> bool:
    """The nesting check as a byte-by-byte state machine: the oracle the fast one must agree with."""
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet='[]{}"\\a,: \n/u0', max_size=12),  # strings full of what could be misread
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=5), inner, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=1500, deadline=None)
@given(JSON_VALUES, st.integers(min_value=0, max_value=8), st.booleans())
def test_the_fast_nesting_check_agrees_with_the_byte_by_byte_one_on_json(
    value: object, limit: int, pretty: bool
) -> None:
    data = json.dumps(value, indent=1 if pretty else None, ensure_ascii=False).encode()
    assert nesting_ok(data, limit) == reference_nesting_ok(data, limit), data


def test_the_nesting_check_reads_strings_as_json_does() -> None:
    assert nesting_ok(b'{"a": "x\\"[[["}', limit=1)  # an escaped quote does not end the string
    assert nesting_ok(b'{"a": "unterminated [[[[', limit=1)  # nothing after an open quote counts
    assert not nesting_ok(b'"\\\\"[[', limit=1)  # an escaped backslash ends before the quote
    assert (
        nesting_ok(b"[[[]]]", limit=3) and not nesting_ok(b"[[[[]]]]", limit=3) and nesting_ok(b"", limit=0)
    )
