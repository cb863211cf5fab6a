"""Build requests exactly as Slack sends them (form bodies, signatures) to drive the app over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier


def sign_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Return X-Slack-Signature / X-Slack-Request-Timestamp headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body) or ""
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def trigger_id() -> str:
    """Return a trigger_id of Slack's shape; its first part says when it was issued (ms), for the stand-in."""
    return f"{int(time.time() * 1000)}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:32]}"


def command_body(
    text: str,
    *,
    user: str,
    channel: str,
    response_url: str,
    team_id: str = "T0SANDBOX",
    command: str = "/bland",
) -> str:
    """Return the form body of a slash command."""
    return urlencode(
        {
            "token": "deprecated",
            "team_id": team_id,
            "team_domain": "sandbox",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0SANDBOX",
            "response_url": response_url,
            "trigger_id": trigger_id(),
        }
    )


def command_payload(
    text: str,
    *,
    user: str,
    channel: str,
    response_url: str,
    team_id: str = "T0SANDBOX",
    command: str = "/bland",
) -> dict[str, str]:
    """Return a slash command as the dict a Socket Mode envelope carries."""
    from urllib.parse import parse_qsl

    return dict(
        parse_qsl(
            command_body(
                text, user=user, channel=channel, response_url=response_url, team_id=team_id, command=command
            ),
            keep_blank_values=True,
        )
    )


def _team_user(user: str, team_id: str) -> dict[str, Any]:
    return {
        "team": {"id": team_id, "domain": "sandbox"},
        "user": {"id": user, "username": user.lower(), "team_id": team_id},
    }


def action_payload(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str,
    message_ts: str | None = None,
    response_url: str,
    block_id: str = "actions",
    team_id: str = "T0SANDBOX",
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a block_actions payload for a button click."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "api_app_id": "A0SANDBOX",
        "token": "deprecated",
        "trigger_id": trigger_id(),
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": action_id},
            }
        ],
        **_team_user(user, team_id),
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["view"] = view
    else:
        payload["channel"] = {"id": channel, "name": channel.lower()}
        payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel}
        payload["message"] = {"ts": message_ts, "type": "message"}
    return payload


def view_state(view: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Build view.state.values from simple {block_id: value}, following each input's element type."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        block_id = block["block_id"]
        element = block["element"]
        action_id = element["action_id"]
        kind = element["type"]
        value = inputs.get(block_id)
        if kind == "static_select":
            if value is None and element.get("initial_option"):
                value = element["initial_option"]["value"]
            state = {
                "type": kind,
                "selected_option": {"value": value, "text": {"type": "plain_text", "text": str(value)}}
                if value is not None
                else None,
            }
        elif kind in {"checkboxes", "multi_static_select"}:
            state = {"type": kind, "selected_options": [{"value": v} for v in (value or [])]}
        elif kind == "conversations_select":
            state = {"type": kind, "selected_conversation": value or element.get("initial_conversation")}
        elif kind == "file_input":
            state = {"type": kind, "files": value or []}
        elif kind == "datetimepicker":
            state = {"type": kind, "selected_date_time": value}
        else:
            if value is None and block_id not in inputs:
                value = element.get("initial_value")
            state = {"type": kind, "value": value}
        values[block_id] = {action_id: state}
    return {"values": values}


def view_submission_payload(
    view: dict[str, Any],
    inputs: dict[str, Any],
    *,
    user: str,
    team_id: str = "T0SANDBOX",
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a view_submission payload for a modal as opened, with `inputs` typed in (or, as a page sends
    them, Slack's own `state.values`)."""
    submitted = dict(view)
    submitted["state"] = {"values": values} if values is not None else view_state(view, inputs)
    return {
        "type": "view_submission",
        "api_app_id": "A0SANDBOX",
        "token": "deprecated",
        "trigger_id": trigger_id(),
        "view": submitted,
        "response_urls": [],
        **_team_user(user, team_id),
    }


def event_body(event: dict[str, Any], *, team_id: str = "T0SANDBOX") -> str:
    """Return the JSON body Slack posts for an Events API event (event_callback)."""
    return json.dumps(
        {
            "token": "deprecated",
            "team_id": team_id,
            "api_app_id": "A0SANDBOX",
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "event": event,
        }
    )


def interactive_body(payload: dict[str, Any]) -> str:
    """Return the form body Slack posts for interactivity: payload=<json>."""
    return urlencode({"payload": json.dumps(payload)})
