"""Phone numbers, parsed and normalised to E.164 with phonenumbers."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, default_region: str = "US") -> str:
    """Return `raw` as E.164, or raise ValueError with a sentence a person can act on."""
    text = (raw or "").strip()
    if not text:
        raise ValueError("Enter a phone number.")
    if any(c.isalpha() for c in text.replace("ext", "")) or "ext" in text.lower() or "#" in text:
        raise ValueError(f"{text!r} is not a phone number: use digits only, without letters or extensions.")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        raise ValueError(f"{text!r} is not a phone number. Use E.164, like +14155550123.") from None
    if not phonenumbers.is_valid_number(number):
        hint = (
            "" if text.startswith("+") else f" (read as a {default_region.upper()} number; add +country code)"
        )
        raise ValueError(f"{text!r} is not a valid phone number{hint}.")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
