"""Slack requests checked at the door, before bolt or a listener reads them.

First the signature, over the raw body, with a numeric timestamp no more than five minutes away; then
the body's shape: a slash command's form fields, an interaction's JSON payload, or an event. Anything
else is answered with a 4xx and one log line, so a malformed or hostile request can neither reach a
listener nor cost a 500. What passes has every field listeners and bolt read, of the type they expect.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from bot.safe_json import parse_json

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW = 300  # Slack's own advice: refuse requests older than five minutes (replay protection)


@dataclass(frozen=True)
class Refusal:
    """Why a request is not passed on: the HTTP status and a short reason (safe to send back)."""

    status: int
    reason: str


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


# Where bolt posts `respond()` replies: Slack's hooks (a local stand-in in tests and the demo).
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2000)]


class _Id(_Loose):
    id: str


class _Option(_Loose):
    value: str


class _Element(_Loose):
    type: str
    value: str | None = None
    selected_option: _Option | None = None
    selected_options: list[_Option] | None = None
    selected_conversation: str | None = None
    selected_channel: str | None = None
    selected_date_time: int | None = None
    files: list[dict[str, Any]] | None = None


class _State(_Loose):
    values: dict[str, dict[str, _Element]] = {}


class _View(_Loose):
    id: str | None = None
    type: str | None = None
    callback_id: str | None = None
    private_metadata: str | None = None
    state: _State | None = None
    hash: str | None = None
    team_id: str | None = None


class _Action(_Loose):
    action_id: str
    block_id: str | None = None
    value: str | None = None
    type: str | None = None


class _Container(_Loose):
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None


class _Message(_Loose):
    ts: str | None = None
    thread_ts: str | None = None
    user: str | None = None


class Interaction(_Loose):
    """An interactivity payload (`payload=` form field) with what bolt and the listeners read."""

    type: Literal["block_actions", "view_submission", "view_closed", "shortcut", "message_action"]
    user: _Id
    team: _Id | None = None
    enterprise: _Id | None = None
    api_app_id: str | None = None
    channel: _Id | None = None
    container: _Container | None = None
    message: _Message | None = None
    actions: list[_Action] | None = None
    view: _View | None = None
    trigger_id: str | None = None
    response_url: Url | None = None
    response_urls: list[dict[str, Any]] | None = None
    is_enterprise_install: bool | None = None

    @model_validator(mode="after")
    def _has_what_its_type_needs(self) -> Interaction:
        if self.type == "block_actions" and not self.actions:
            raise ValueError("block_actions without actions")
        if self.type in {"view_submission", "view_closed"} and (
            self.view is None or not self.view.callback_id
        ):
            raise ValueError(f"{self.type} without a view and its callback_id")
        if self.view is not None and self.view.type not in {"modal", "home"}:
            raise ValueError("a view that is neither a modal nor the Home tab")  # bolt reads view.type
        if (
            self.type in {"block_actions", "shortcut", "message_action"}
            and self.view is None
            and not self.trigger_id
        ):
            raise ValueError(f"{self.type} without a trigger_id")
        return self


class Command(_Loose):
    """A slash command's form fields."""

    command: str
    text: str = ""
    user_id: str
    channel_id: str
    team_id: str
    trigger_id: str  # Slack always sends both; listeners open modals and answer through them
    response_url: Url
    enterprise_id: str | None = None


class _Event(_Loose):
    type: str
    user: str | None = None
    channel: str | None = None
    tab: str | None = None
    message: _Message | None = None
    previous_message: _Message | None = None


class EventBody(_Loose):
    """An Events API request: a URL verification or an event callback."""

    # Slack may send envelope types this app does not use (app_rate_limited, new ones): they are answered
    # 200 at the door (bot/app.py) and never reach a listener.
    type: str
    challenge: str | None = None
    team_id: str | None = None
    api_app_id: str | None = None
    enterprise_id: str | None = None
    event: _Event | None = None
    authorizations: list[dict[str, Any]] | None = None
    is_enterprise_install: bool | None = None

    @model_validator(mode="after")
    def _has_what_its_type_needs(self) -> EventBody:
        if self.type == "event_callback" and self.event is None:
            raise ValueError("event_callback without an event")
        if self.event is not None and self.event.type.startswith("workflow_step"):
            raise ValueError("workflow steps are not used by this app")  # bolt expects their fields
        if self.type == "url_verification" and not self.challenge:
            raise ValueError("url_verification without a challenge")
        return self


def is_ssl_check(raw: bytes, content_type: str) -> bool:
    """Whether this is Slack checking the request URL's certificate (`ssl_check=1`): answered 200, empty."""
    if not content_type.startswith("application/x-www-form-urlencoded") or len(raw) > 4096:
        return False
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return fields.get("ssl_check") == ["1"] and "payload" not in fields and "command" not in fields


def event_type(raw: bytes) -> str | None:
    """The envelope type of a verified, well-formed Events API body (None for anything else)."""
    try:
        body = parse_json(raw.decode("utf-8"))
    except ValueError:
        return None
    return str(body.get("type")) if isinstance(body, dict) else None


def signature_refusal(
    secret: str, raw: bytes, timestamp: str | None, signature: str | None, now: float
) -> Refusal | None:
    """Check Slack's v0 signature over the raw body; None when it verifies."""
    if not timestamp or not signature:
        return Refusal(401, "missing signature")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return Refusal(401, "bad timestamp")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        return Refusal(401, "stale timestamp")
    expected = (
        "v0="
        + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(expected, signature):
        return Refusal(401, "invalid signature")
    return None


def shape_refusal(raw: bytes, content_type: str) -> Refusal | None:
    """Check that a verified body is a command, an interaction or an event of the shape listeners expect."""
    if len(raw) > MAX_BODY_BYTES:
        return Refusal(413, "body too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "body is not UTF-8")
    try:
        if content_type.startswith("application/json"):
            EventBody.model_validate(parse_json(text))
            return None
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return Refusal(415, "unsupported content type")
        fields = parse_qs(text, keep_blank_values=True)
        if "payload" in fields:
            Interaction.model_validate(parse_json(fields["payload"][0]))
        else:
            Command.model_validate({key: values[0] for key, values in fields.items()})
    except (ValueError, ValidationError) as exc:
        return Refusal(400, f"malformed request: {_first_error(exc)}")
    return None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{where}: {error['msg']}"[:200]
    return str(exc)[:200]
