import pytest

from bot.errors import ConfigError
from bot.settings import Settings, load_settings


def make(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def test_defaults_follow_the_design() -> None:
    settings = make()
    assert settings.bland_api_url == "https://api.bland.ai"
    assert settings.database_path == "./data/blandbot.db"
    assert (settings.host, settings.port) == ("0.0.0.0", 3000)
    assert settings.poll_tick_seconds == 2 and settings.poll_slots == 10  # twice BLAND_MAX_RPS=5
    assert settings.redact_phone_numbers is True and settings.allow_self_approval is False
    assert not settings.socket_mode and settings.webhook_url is None


def test_comma_separated_ids_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_USERS", "U123ABC, S0GROUP1")
    monkeypatch.setenv("ALLOWED_CHANNELS", "C111,G222")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com/")
    settings = make()
    assert settings.admin_users == ("U123ABC", "S0GROUP1")
    assert settings.allowed_channels == ("C111", "G222")
    assert settings.socket_mode
    assert settings.webhook_url == "https://bot.example.com/bland/webhook"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PORT", "http", "PORT"),
        ("ADMIN_USERS", "alice", "ADMIN_USERS: expected Slack user"),
        ("ALLOWED_CHANNELS", "#ops", "ALLOWED_CHANNELS"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: use sqlite:///"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("POLL_CONCURRENCY", "0", "POLL_CONCURRENCY"),
        ("SLACK_WORKSPACE_POSTS_PER_MINUTE", "10", "greater than or equal to 60"),
        ("BLAND_API_URL", "api.bland.ai", "BLAND_API_URL"),
        ("CALLING_HOURS", "9-20", "like 09:00-20:00"),
        ("CALLING_DAYS", "Mon-Funday", "is not a day"),
        ("CALLING_TIMEZONE", "Mars/Olympus", "not a time zone"),
        ("DIGEST_TIME", "25:00", "a time like 08:00"),
    ],
)
def test_invalid_settings_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        make()
    message = str(caught.value)
    assert message.startswith(name) and fragment in message and "\n" not in message


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLAND_API_KEY", "sk-very-secret-value")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-token")
    settings = make()
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.model_dump())


def test_poll_slots_follow_blands_request_budget_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLAND_MAX_RPS", "20")
    assert make().poll_slots == 40  # two seconds of the budget
    monkeypatch.setenv("BLAND_MAX_RPS", "1000")
    assert make().poll_slots == 64  # at most
    monkeypatch.setenv("POLL_CONCURRENCY", "3")
    assert make().poll_slots == 3  # a team's own choice stands
