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


PHONE_CHARACTERS = frozenset("+()-.0123456789")


def split_leading_number(text: str) -> tuple[str, str]:
    """Split `<number> [rest…]`: the leading words made of phone characters (with a digit) are the number,
    as typed, so `(415) 555-0101 asked us` is `(415) 555-0101` and `asked us`; no such word gives ""."""
    words = text.split()
    count = 0
    while count < len(words) and set(words[count]) <= PHONE_CHARACTERS:
        count += 1
    number = " ".join(words[:count])
    if not any(c.isdigit() for c in number):
        return "", text.strip()
    return number, " ".join(words[count:])
