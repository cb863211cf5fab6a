"""Logging setup: text or one JSON object per line, with every configured secret scrubbed and every phone
number masked."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable

from bot.settings import Settings

SECRET_FIELDS = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "bland_api_key",
    "bland_webhook_secret",
    "erasure_key",
)


class SecretScrubber(logging.Filter):
    """Replace secret values wherever they appear in a log line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, scrub it, and keep the record."""
        if not self._secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in self._secrets:
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


# What looks like a phone number in a log line: E.164 (also URL-encoded), or a bare run of 10 to 15 digits
# that is not part of a word, an id or a Slack ts.
_PHONE = re.compile(r"(?:\+|%2B)\d{7,15}(?!\d)|(?<![\w.])\d{10,15}(?![\w.])")


def mask_numbers(text: str) -> str:
    """Mask every phone number in a log line but its last four digits, at any level (libraries' lines too)."""
    return _PHONE.sub(lambda found: "•••" + found.group()[-4:], text)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        """Format a record as text, numbers masked (tracebacks included)."""
        return mask_numbers(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        """Format a record as one JSON object, numbers masked (tracebacks included)."""
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": mask_numbers(record.getMessage()),
        }
        if record.exc_info:
            payload["exc"] = mask_numbers(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


def secret_values(settings: Settings) -> list[str]:
    """Return the configured secret strings."""
    values = []
    for name in SECRET_FIELDS:
        secret = getattr(settings, name)
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


def setup_logging(settings: Settings) -> None:
    """Configure the root logger once from LOG_LEVEL and LOG_FORMAT."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(SecretScrubber(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # aiosqlite logs every statement with its parameters at DEBUG: numbers, payloads, transcripts.
    for noisy in ("apscheduler", "aiohttp.access", "httpx", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Slack's libraries log whole requests and replies at DEBUG: message text, transcripts, CSV cells.
    for talkative in ("slack_bolt", "slack_sdk"):
        logging.getLogger(talkative).setLevel(max(logging.INFO, root.level))
