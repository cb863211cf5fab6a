import logging

import pytest

from bot.logs import JsonFormatter, SecretScrubber, setup_logging
from bot.settings import Settings


def test_secrets_are_scrubbed_from_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.scrub")
    logger.addFilter(SecretScrubber(["xoxb-top-secret", "bland-key-123"]))
    with caplog.at_level(logging.INFO, logger="test.scrub"):
        logger.info("token %s and key %s", "xoxb-top-secret", "bland-key-123")
    assert caplog.records[0].getMessage() == "token *** and key ***"


def test_json_format_is_one_object_per_line() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    line = JsonFormatter().format(record)
    assert line.startswith("{") and '"message": "hello world"' in line and "\n" not in line


def test_setup_installs_the_scrubber_for_configured_secrets() -> None:
    settings = Settings.model_validate({"slack_bot_token": "xoxb-abcdef", "log_format": "json"})
    setup_logging(settings)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler.formatter, JsonFormatter)
    assert any(isinstance(f, SecretScrubber) for f in handler.filters)
    logging.getLogger().handlers.clear()
