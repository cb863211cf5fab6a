"""The one place that posts, updates and uploads to Slack: threads, throttling, 429s, dedupe."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.store import Store

log = logging.getLogger(__name__)

Blocks = Sequence[Block | dict[str, Any]]


def make_slack_client(token: str, base_url: str) -> AsyncWebClient:
    """Build the Web API client with slack_sdk's 429 and connection-error retry handlers."""
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


# Slack errors that mean "the bot cannot post there" (private channel it is not in, archived, gone).
UNREACHABLE_CHANNEL = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


def slack_error(exc: SlackApiError) -> str:
    """Return Slack's error code from an exception, whatever the response body was."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or f"HTTP {exc.response.status_code}")
    return f"HTTP {exc.response.status_code}"


# Where Slack serves private files; anything else is refused so the bot token never leaves Slack.
SLACK_FILE_HOSTS = ("files.slack.com", "slack-files.com")


@dataclass(frozen=True)
class DownloadedFile:
    name: str
    filetype: str
    mimetype: str
    content: bytes


class FileTooLarge(Exception):
    """The file is bigger than the caller accepts."""

    def __init__(self, name: str, size: int) -> None:
        super().__init__(f"{name} is {size} bytes")
        self.name = name
        self.size = size


class Notifier:
    """Posts with dedupe: an `event_key` is posted at most once per channel, even across restarts."""

    def __init__(self, client: AsyncWebClient, store: Store, clock: Clock) -> None:
        self.client = client
        self._store = store
        self._clock = clock

    async def post(
        self,
        channel: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        thread_ts: str | None = None,
        event_key: str | None = None,
    ) -> str | None:
        """Post a message (into a thread when given); returns its ts, or None if already posted."""

        async def send() -> str:
            response = await self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks) if blocks else None,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
            return str(response["ts"])

        return await self._once(event_key, channel, send)

    async def _once(
        self, event_key: str | None, channel: str, send: Callable[[], Awaitable[str]]
    ) -> str | None:
        """Run `send` unless the ledger already holds this event for this channel; record what it returned."""
        if event_key is None:
            return await send()
        if not await self._store.notifications.claim(event_key, channel):
            log.debug("skip duplicate %s in %s", event_key, channel)
            return None
        try:
            ts = await send()
        except BaseException:
            await self._store.notifications.release(event_key, channel)
            raise
        await self._store.notifications.record(event_key, channel, ts)
        return ts

    async def update(self, channel: str, ts: str, text: str, blocks: Blocks | None = None) -> None:
        """Update a message in place (cards)."""
        await self.client.chat_update(
            channel=channel, ts=ts, text=text, blocks=list(blocks) if blocks else []
        )

    async def ephemeral(self, channel: str, user: str, text: str, blocks: Blocks | None = None) -> None:
        """Show a message only to one person; falls back to a DM where the bot cannot post."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=list(blocks) if blocks else None
            )
        except SlackApiError as exc:
            if slack_error(exc) not in UNREACHABLE_CHANNEL:
                raise
            await self.dm(user, text, blocks)

    async def dm(
        self, user: str, text: str, blocks: Blocks | None = None, *, event_key: str | None = None
    ) -> None:
        """Send a direct message to one person."""
        opened = await self.client.conversations_open(users=user)
        channel = str(opened["channel"]["id"])
        await self.post(channel, text, blocks, event_key=event_key)

    async def download(self, file_id: str, *, max_bytes: int) -> DownloadedFile:
        """Fetch a file someone shared with the bot (files.info, then its private URL with the bot token)."""
        info = (await self.client.files_info(file=file_id))["file"]
        name = str(info.get("name") or file_id)
        size = int(info.get("size") or 0)
        if size > max_bytes:
            raise FileTooLarge(name, size)
        url = str(info.get("url_private_download") or info.get("url_private") or "")
        host = urlparse(url).hostname or ""
        api_host = urlparse(self.client.base_url).hostname or ""
        if host != api_host and not any(host == h or host.endswith("." + h) for h in SLACK_FILE_HOSTS):
            raise ValueError(f"refusing to send the bot token to {host or 'an empty URL'}")
        async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as http:
            headers = {"Authorization": f"Bearer {self.client.token}"}
            async with http.stream("GET", url, headers=headers) as response:
                response.raise_for_status()
                content = b""
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > max_bytes:
                        raise FileTooLarge(name, len(content))
        return DownloadedFile(
            name=name,
            filetype=str(info.get("filetype") or ""),
            mimetype=str(info.get("mimetype") or ""),
            content=content,
        )

    async def upload(
        self,
        channel: str,
        *,
        filename: str,
        content: str | bytes,
        title: str,
        thread_ts: str | None = None,
        comment: str | None = None,
        event_key: str | None = None,
    ) -> bool:
        """Upload a file into a channel or thread (files_upload_v2); False if already uploaded."""

        async def send() -> str:
            await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                filename=filename,
                content=content,
                title=title,
                initial_comment=comment,
            )
            return "file"

        return await self._once(event_key, channel, send) is not None
