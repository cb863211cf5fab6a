"""A call's recording, for the one person who asked: the audio file in their direct messages with the bot.

Bland documents the recording today as `GET /v1/recordings/{call_id}`, the audio itself (docs/bland.md,
"Stopping and recordings"). An older Bland may not have that route: then the call's own `recording_url`,
then the older `GET /v1/calls/{id}/recording` link, are tried, and the file is fetched from there (without
the bot's key: the link is Bland's to give). A link that cannot be fetched is given to the person alone.
Every attempt is audited, with how it ended.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
from slack_sdk.errors import SlackApiError

from bot.bland.errors import BlandError, BlandNotFoundError, RecordingNotFoundError
from bot.bland.models import Call, RecordingAudio, epoch
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome
from bot.errors import UserError
from bot.mrkdwn import escape
from bot.notifier import slack_error
from bot.permissions import Role

log = logging.getLogger(__name__)

# How long after a call ends its recording may still be on its way.
NOT_READY_SECONDS = 10 * 60
LINK_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LINK_MAX_BYTES = 100_000_000


async def give_recording(deps: Deps, call_id: str, *, user: str, channel: str | None) -> str:
    """Put a call's recording in the presser's direct messages; return what to tell them (only them)."""
    await deps.permissions.require(user, Role.OPERATOR, "listen to call recordings")
    try:
        audio = await _audio(deps, call_id)
    except RecordingNotFoundError:
        await _record(deps, user, channel, call_id, "Bland has no recording", AuditOutcome.FAILED)
        return await _why_missing(deps, call_id)
    except _LinkOnly as only:
        await _record(deps, user, channel, call_id, "link given (the file could not be fetched)")
        link = quote(only.url, safe=":/?&=%#+@;,~.-_")  # nothing that could end the mrkdwn link early
        return (
            f":studio_microphone: <{link}|Recording of call `{call_id}`>, for you alone. Recordings hold "
            "personal data: please do not paste the link where others can follow it."
        )
    except BlandError as exc:
        await _record(deps, user, channel, call_id, type(exc).__name__, AuditOutcome.FAILED)
        return (
            f"Bland did not give the recording of call `{call_id}`: {escape(exc.user_message)} "
            "Try again in a minute."
        )
    name = f"call-{call_id}.{audio.extension}"
    try:
        await deps.notifier.upload_dm(
            user,
            filename=name,
            content=audio.content,
            title=f"Recording of call {call_id}",
            comment=(
                f":studio_microphone: The recording of call `{call_id}`, for you alone. It holds personal "
                "data: please do not share it where others can hear it."
            ),
        )
    except SlackApiError as exc:
        await _record(deps, user, channel, call_id, f"Slack: {slack_error(exc)}", AuditOutcome.FAILED)
        raise UserError(
            f"Slack did not take the recording of call `{call_id}` ({slack_error(exc)}). Try again in a minute."
        ) from None
    size = f"{len(audio.content) / 1_000_000:.1f} MB" if len(audio.content) >= 100_000 else "under 0.1 MB"
    await _record(deps, user, channel, call_id, f"{name}, {size}, to their direct messages")
    return f":studio_microphone: The recording of call `{call_id}` ({size}) is in your direct messages with the bot."


class _LinkOnly(Exception):
    """Bland gave a link to the recording that could not be fetched: the person gets the link."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


async def _audio(deps: Deps, call_id: str) -> RecordingAudio:
    """The recording: from `/v1/recordings/{id}`, else from a link Bland gives (the call's, then the older
    endpoint's). RecordingNotFoundError when Bland says there is none; _LinkOnly for a link not fetched."""
    try:
        return await deps.bland.recording_audio(call_id)
    except RecordingNotFoundError:
        raise
    except BlandNotFoundError:
        pass  # the route itself is missing (an older Bland): its other ways next
    url = (await deps.bland.get_call(call_id)).recording_url
    if not url:
        try:
            url = (await deps.bland.get_recording(call_id)).url
        except BlandNotFoundError:
            raise RecordingNotFoundError("no recording link") from None
    if not url or not url.startswith(("https://", "http://")):
        raise RecordingNotFoundError("no recording link")
    fetched = await _fetch(url)
    if fetched is None:
        raise _LinkOnly(url)
    return fetched


async def _fetch(url: str) -> RecordingAudio | None:
    """Fetch audio from a link Bland gave, without the bot's key; None when it is not audio or too big."""
    try:
        async with (
            httpx.AsyncClient(timeout=LINK_TIMEOUT, follow_redirects=True) as http,
            http.stream("GET", url) as response,
        ):
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or not kind.startswith("audio/"):
                return None
            content = b""
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > LINK_MAX_BYTES:
                    return None
            return RecordingAudio(content=content, content_type=kind)
    except httpx.HTTPError as exc:
        log.info("recording link could not be fetched (%s); giving the link", type(exc).__name__)
        return None


async def _why_missing(deps: Deps, call_id: str) -> str:
    """Say why Bland may have no recording of a call: not recorded, not ready yet, or gone."""
    head = f"Bland has no recording of call `{call_id}`"
    try:
        call = await deps.bland.get_call(call_id)
    except BlandError:
        return (
            f"{head}. It may not have been recorded, may not be ready yet, or may have expired (Bland keeps "
            "recordings for a limited time)."
        )
    if call.record is False:
        return f"{head}: it was not recorded (it was sent without recording)."
    if not call.is_terminal:
        return f"{head} yet: the call has not ended. Its recording comes once it ends."
    if _ended_lately(deps, call):
        return f"{head} yet: the call ended a few minutes ago and its recording is not ready. Try again soon."
    return (
        f"{head}: it was recorded, so it has probably expired (Bland keeps recordings for a limited time), "
        "or was never saved."
    )


def _ended_lately(deps: Deps, call: Call) -> bool:
    ended = epoch(call.end_at)
    return ended is None or deps.clock.now() - ended < NOT_READY_SECONDS


async def _record(
    deps: Deps,
    user: str,
    channel: str | None,
    call_id: str,
    detail: str,
    outcome: AuditOutcome = AuditOutcome.OK,
) -> None:
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.RECORDING_GET,
        outcome=outcome,
        channel=channel,
        target=call_id,
        detail=detail,
    )
