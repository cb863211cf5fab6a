"""Settings from the environment (and .env); secrets stay SecretStr and are never logged."""

from __future__ import annotations

import math
import os
import re
import socket
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.caps import Caps
from bot.errors import ConfigError
from bot.hours import CallingHours, parse_days, parse_hours
from bot.pricing import Pricing

IdList = Annotated[tuple[str, ...], NoDecode]

_USER_OR_GROUP = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every setting the README documents, read from the environment (and .env)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    bland_api_key: SecretStr | None = None
    bland_api_url: str = "https://api.bland.ai"
    bland_webhook_secret: SecretStr | None = None
    # Which batch API Bland speaks: v2 (/v2/batches, what its documents describe today), v1 (/v1/batches,
    # the original documents), or auto: asked with a read that cannot dial, remembered, asked again on a 404.
    bland_batch_api: Literal["auto", "v1", "v2"] = "auto"
    # Requests a second to Bland, from every replica together (sends and stops first, then reads of calls
    # that ended, then safety-net reads). 5 is Bland's documented default org rate limit.
    bland_max_rps: float = Field(5, gt=0, le=1000)
    public_url: str | None = None
    database_url: str = "sqlite:///./data/blandbot.db"
    # PostgreSQL: connections each process keeps open at most.
    database_pool_size: int = Field(10, ge=1, le=100)
    host: str = "0.0.0.0"
    port: int = Field(3000, ge=0, le=65535)
    admin_users: IdList = ()
    approver_users: IdList = ()
    operator_users: IdList = ()
    allowed_channels: IdList = ()
    approval_channel: str | None = None
    notify_channel: str | None = None
    allow_self_approval: bool = False
    approval_ttl_hours: float = Field(24, gt=0)
    # A pending request's approvers are reminded in its thread after this long, once (0: never).
    approval_remind_minutes: float = Field(30, ge=0)
    batch_max_calls: int = Field(10000, ge=1)
    # Calls a day / an hour / at once the bot keeps to; unset: BLAND_PLAN's caps (enterprise: none).
    daily_call_limit: int | None = Field(None, ge=1)
    hourly_call_limit: int | None = Field(None, ge=1)
    concurrent_call_limit: int | None = Field(None, ge=1)
    # Bland's plan (prices and caps differ); COST_PER_MINUTE, when set, is the per-minute rate instead (an
    # enterprise contract's, which BLAND_PLAN=enterprise needs).
    bland_plan: Literal["start", "build", "scale", "enterprise"] = "start"
    cost_per_minute: float | None = Field(None, ge=0)
    redact_phone_numbers: bool = True
    # A call whose analysis or variables set this field true (the callee asked never to be called again)
    # puts its number on the do-not-call list. Unset: off.
    opt_out_variable: str | None = None
    # `/bland export calls` writes whole numbers instead of masked ones.
    export_full_numbers: bool = False
    # HH:MM (UTC): post yesterday's digest to NOTIFY_CHANNEL then. Unset: no digest.
    digest_time: str | None = None
    poll_tick_seconds: float = Field(2, gt=0)
    # News (a webhook) about an item read for news less than this long ago is read once more when the time
    # has passed, however much came meanwhile: a flood of webhooks reads a call a few times, not once each.
    webhook_read_gap_seconds: float = Field(1.0, ge=0)
    call_poll_seconds: float = Field(10, gt=0)
    batch_poll_seconds: float = Field(15, gt=0)
    backfill_poll_seconds: float = Field(10, gt=0)
    # Polls in flight at once; unset, sized by Bland's request budget (`poll_slots`).
    poll_concurrency: int | None = Field(None, ge=1, le=64)
    # Find changed calls through Bland's list (a few requests an interval); false reads each call on its own.
    call_list_sweep: bool = True
    # A call or batch still "sending" this long after the bot asked Bland was cut off (the process died):
    # its outcome is looked up in Bland, never re-sent.
    send_stuck_seconds: float = Field(120, gt=0)
    # Replicas: an item a replica leased and never gave back (it died) goes to another after this long; the
    # periodic work a replica leads moves to another after as long.
    lease_seconds: float = Field(60, gt=0)
    # This process's name among replicas (owner of its leases): unique per replica. Unset: host:port, so a
    # process restarted in place takes its own leases back at once; with PORT=0, a new name each process.
    replica_id: str | None = None
    # Multiplies the Slack rate budget the outbox keeps to (Slack's documented tiers, shared by replicas).
    # Leave it at 1 against Slack unless Slack granted the app higher limits; the sandbox's tests raise it,
    # with the stand-in's limits raised alike, to play hours of Slack traffic in minutes.
    slack_rate_scale: float = Field(1, gt=0, le=100)
    # Slack's unpublished workspace-wide ceiling on chat.postMessage ("several hundred a minute"): the posts
    # every replica together makes in any minute stay under it (half at once, half over the next minute).
    slack_workspace_posts_per_minute: int = Field(600, ge=60, le=100_000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Call modal knobs (documented in the README).
    default_region: str = Field("US", min_length=2, max_length=2)
    call_voices: IdList = ("maya", "mason", "ryan", "adriana", "tina", "matt", "evelyn")
    max_call_minutes: float = Field(30, gt=0, le=240)
    # When calls may ring, in the callee's local time (bot/hours.py); CALLING_TIMEZONE for numbers whose zone
    # the number itself does not tell.
    calling_hours: str = "09:00-20:00"
    calling_days: str = "Mon-Sat"
    calling_timezone: str | None = None
    # Retention (bot/flows/retention.py): after RETENTION_DAYS, finished calls, batches and requests lose
    # everything personal; audit entries go after AUDIT_RETENTION_DAYS. 0 keeps everything.
    retention_days: float = Field(90, ge=0)
    audit_retention_days: float = Field(365, ge=0)
    # The key of the hashes that stand for forgotten numbers (`/bland forget`) on the do-not-call list and in
    # the audit log. Unset: SLACK_SIGNING_SECRET (set this before rotating that, or forgotten numbers on the
    # list stop matching).
    erasure_key: SecretStr | None = None

    @field_validator(
        "admin_users", "approver_users", "operator_users", "allowed_channels", "call_voices", mode="before"
    )
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("admin_users", "approver_users", "operator_users")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _USER_OR_GROUP.match(v)]
        if bad:
            raise ValueError(f"expected Slack user (U…) or user-group (S…) IDs, got {', '.join(bad)}")
        return value

    @field_validator("allowed_channels")
    @classmethod
    def _channel_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _CHANNEL.match(v)]
        if bad:
            raise ValueError(f"expected Slack channel IDs (C…/G…), got {', '.join(bad)}")
        return value

    @field_validator("approval_channel", "notify_channel", "public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("approval_channel", "notify_channel")
    @classmethod
    def _one_channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL.match(value):
            raise ValueError(f"expected a Slack channel ID (C…/G…), got {value}")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///path/to/file.db or postgresql://user@host:5432/database")
        return value

    @field_validator("slack_api_url", "bland_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value

    @property
    def database_path(self) -> str:
        """Return the SQLite file path of DATABASE_URL, or the PostgreSQL URL itself."""
        return self.database_url.removeprefix("sqlite:///")

    @property
    def poll_slots(self) -> int:
        """Polls in flight at once: POLL_CONCURRENCY, or enough for two seconds of Bland's request budget
        (a poll waits for its token in its slot), at least 8: polls that need no read (a webhook carried
        the call) are not held behind a budget they do not spend."""
        if self.poll_concurrency is not None:
            return self.poll_concurrency
        return min(64, max(8, math.ceil(2 * self.bland_max_rps)))

    @property
    def socket_mode(self) -> bool:
        """Return whether Socket Mode is used (SLACK_APP_TOKEN set)."""
        return self.slack_app_token is not None

    @field_validator("calling_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("calling_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value

    @field_validator("calling_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value:
            CallingHours.parse("00:00-24:00", "Mon", value)
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"{value!r} is not a time like 08:00 (UTC)")
        return value

    @property
    def replica(self) -> str:
        """REPLICA_ID, or host:port (host and process id when the port is chosen at start)."""
        if self.replica_id:
            return self.replica_id
        return f"{socket.gethostname()}:{self.port or f'pid{os.getpid()}'}"

    @property
    def erasure_secret(self) -> bytes:
        """The key of forgotten numbers' hashes: ERASURE_KEY, else SLACK_SIGNING_SECRET, else BLAND_API_KEY."""
        for secret in (self.erasure_key, self.slack_signing_secret, self.bland_api_key):
            if secret is not None and secret.get_secret_value():
                return secret.get_secret_value().encode()
        return b"blandbot"

    @property
    def pricing(self) -> Pricing:
        """What calls cost, as BLAND_PLAN and COST_PER_MINUTE say."""
        return Pricing.of(self.bland_plan, self.cost_per_minute)

    @property
    def caps(self) -> Caps:
        """Calls a day, an hour and at once: BLAND_PLAN's, or the *_CALL_LIMIT settings where set."""
        return Caps.of(
            self.bland_plan,
            daily=self.daily_call_limit,
            hourly=self.hourly_call_limit,
            concurrent=self.concurrent_call_limit,
        )

    @model_validator(mode="after")
    def _plan_has_a_rate(self) -> Settings:
        if self.bland_plan == "enterprise" and self.cost_per_minute is None:
            raise ValueError(
                "COST_PER_MINUTE: required with BLAND_PLAN=enterprise (the contract's per-minute rate)"
            )
        return self

    @property
    def calling_window(self) -> CallingHours:
        """Return CALLING_HOURS, CALLING_DAYS and CALLING_TIMEZONE, read."""
        return CallingHours.parse(self.calling_hours, self.calling_days, self.calling_timezone)

    @property
    def webhook_url(self) -> str | None:
        """Return the Bland webhook URL to send with calls, when PUBLIC_URL is set."""
        return f"{self.public_url.rstrip('/')}/bland/webhook" if self.public_url else None

    def batch_status_url(self, token: str) -> str | None:
        """Return where Bland posts a v2 batch's lifecycle (`status_webhook`), when PUBLIC_URL is set."""
        return f"{self.public_url.rstrip('/')}/bland/batch-status/{token}" if self.public_url else None


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning the first invalid one into a one-line ConfigError naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule between settings: its message names them
            raise ConfigError(message) from None
        raise ConfigError(f"{str(first['loc'][0]).upper()}: {message}") from None
