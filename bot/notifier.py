"""Posts, updates and uploads to Slack, each event at most once per channel, kept within Slack's limits.

The outbox (bot/outbox.py) decides when a write goes and what a failure means; this module makes the
write: dedupe through the ledger, a look-up before re-sending one cut off by a crash, joining a public
channel before a file or its history needs membership, and a client that shrinks any message or view
that would break Block Kit's limits instead of letting Slack refuse it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.limits import SHORTENED_HERE, fit_message, fit_view
from bot.clock import Clock
from bot.store import Store
from bot.store.notifications import ClaimState

log = logging.getLogger(__name__)

Blocks = Sequence[Block | dict[str, Any]]
T = TypeVar("T")


_MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
_VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})


class SlackClient(AsyncWebClient):
    """slack_sdk's client, with every message and view kept within Block Kit's limits before it leaves.

    Builders cut text themselves; this is the net behind them for what they miss, so a person gets a
    shortened reply instead of none. (The outbox shrinks first and attaches what it cut as a file.)
    """

    async def api_call(self, api_method: str, *, json: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if json is not None and api_method in _MESSAGE_METHODS and isinstance(json.get("blocks"), list):
            fitted = fit_message(str(json.get("text") or ""), json["blocks"], note=SHORTENED_HERE)
            if fitted.shortened:
                log.warning("shortened a %s that broke Slack's limits", api_method)
                json = {**json, "text": fitted.text, "blocks": fitted.blocks}
        elif json is not None and api_method in _VIEW_METHODS and isinstance(json.get("view"), dict):
            view = fit_view(json["view"])
            if view is not json["view"]:
                log.warning("shortened a view (%s) that broke Slack's limits", api_method)
                json = {**json, "view": view}
        return await super().api_call(api_method, json=json, **kwargs)


def make_slack_client(
    token: str, base_url: str, *, retries: bool = True, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """Build the Web API client, with slack_sdk's 429 and connection-error retry handlers unless told not to.

    The outbox's client has none: it retries itself, later, and looks for a message before sending it again
    (a connection error after Slack took a post would otherwise post it twice). Given a `session`, every
    call reuses its connections (without one, slack_sdk opens a connection for each call).
    """
    return SlackClient(
        token=token,
        session=session,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ]
        if retries
        else [],
    )


def refused(exc: BaseException) -> bool:
    """Return whether Slack certainly did not take a write: it answered, with an error, short of a 5xx."""
    return isinstance(exc, SlackApiError) and exc.response.status_code < 500


# Slack errors that mean "the bot cannot post there" (private channel it is not in, archived, gone).
UNREACHABLE_CHANNEL = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


# Slack errors worth trying again (besides any 429 or 5xx): the message or channel is fine, Slack was not.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "request_timeout", "service_unavailable"}
)


def is_transient(exc: SlackApiError) -> bool:
    """Return whether a Slack failure may pass by itself (rate limits, Slack's own errors)."""
    status = exc.response.status_code
    return status == 429 or status >= 500 or slack_error(exc) in TRANSIENT_ERRORS


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


# Every post with an event key carries it in Slack message metadata, so a send cut off by a crash can
# be found in the channel afterwards instead of being sent twice (or never).
DELIVERY_EVENT = "blandbot_delivery"
LOOKUP_LIMIT = 200


class DeliveryPending(Exception):
    """This process is still sending the same event (a 429 retry, say): try again later."""


Finder = Callable[[], Awaitable[str | None]]


class Notifier:
    """Posts with dedupe: an `event_key` is posted at most once per channel, even across restarts and crashes."""

    def __init__(
        self, client: AsyncWebClient, store: Store, clock: Clock, *, owner: str | None = None
    ) -> None:
        self.client = client
        self._store = store
        self._clock = clock
        # Who claims ledger entries: one id per process, so a restarted bot knows its predecessor's claims.
        self.owner = owner or uuid.uuid4().hex
        self._http: httpx.AsyncClient | None = None

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
                metadata={"event_type": DELIVERY_EVENT, "event_payload": {"key": event_key}}
                if event_key
                else None,
            )
            return str(response["ts"])

        async def find() -> str | None:
            return await self._find_message(channel, thread_ts, event_key or "")

        return await self._once(event_key, channel, send, find)

    async def _once(
        self, event_key: str | None, channel: str, send: Callable[[], Awaitable[str]], find: Finder
    ) -> str | None:
        """Run `send` unless the ledger already holds this event for this channel; record what it returned.

        Returns the new message's ts, or None when it was sent before (also when a send cut off by a crash
        turns out to have reached Slack). Raises DeliveryPending while this process is sending it already.
        """
        if event_key is None:
            return await send()
        ledger = self._store.notifications
        claim = await ledger.claim(event_key, channel, self.owner)
        if claim.state is ClaimState.DONE:
            log.debug("skip duplicate %s in %s", event_key, channel)
            return None
        if claim.state is ClaimState.BUSY:
            raise DeliveryPending(f"{event_key} is being sent to {channel}")
        if claim.state is ClaimState.IN_DOUBT:
            assert claim.claimed_at is not None
            try:
                found = await find()
            except SlackApiError as exc:
                if is_transient(exc):
                    raise  # looked for again, with the outbox's backoff
                # The history cannot be read at all (a scope removed, a method gone): a missing result is
                # worse than a rare double, so it is sent, and the log says a duplicate is possible.
                log.warning(
                    "cannot look in %s for %s before sending it again (%s): sending it; it may show twice",
                    channel,
                    event_key,
                    slack_error(exc),
                )
                found = None
            if found is not None:
                log.info("found %s in %s, sent before a restart; not sending it again", event_key, channel)
                await ledger.record(event_key, channel, found)
                return None
            if not await ledger.take_over(event_key, channel, self.owner, claim):
                raise DeliveryPending(f"{event_key} was taken over by another sender")
            log.info("%s never reached %s before a restart; sending it now", event_key, channel)
        try:
            ts = await send()
        except BaseException as exc:
            if refused(exc):
                await ledger.release(event_key, channel)
            else:  # it may have reached Slack: the next attempt looks for it first
                await ledger.abandon(event_key, channel)
            raise
        await ledger.record(event_key, channel, ts)
        return ts

    async def member(self, channel: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run a Slack call that needs the bot in the channel; on `not_in_channel`, join it and try again.

        `chat:write.public` lets the bot post in a public channel it was never invited to, but uploading a
        file there and reading its history need membership (`conversations.join`, scope `channels:join`).
        A private channel cannot be joined: the original refusal stands.
        """
        try:
            return await call()
        except SlackApiError as exc:
            if slack_error(exc) != "not_in_channel":
                raise
            try:
                await self.client.conversations_join(channel=channel)
            except SlackApiError as join_failed:
                log.info("could not join %s to reach it: %s", channel, slack_error(join_failed))
                raise exc from None
            log.info("joined %s (a file or its history needs the bot in the channel)", channel)
        return await call()

    async def _find_message(self, channel: str, thread_ts: str | None, event_key: str) -> str | None:
        """Look for a message carrying this delivery key: in the thread, or among the channel's latest."""
        if thread_ts:
            response = await self.member(
                channel,
                lambda: self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=LOOKUP_LIMIT
                ),
            )
        else:
            response = await self.member(
                channel,
                lambda: self.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=LOOKUP_LIMIT
                ),
            )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == DELIVERY_EVENT and payload.get("key") == event_key:
                return str(message["ts"])
        return None

    async def _find_file(self, channel: str, filename: str) -> str | None:
        """Look for a file of this name among the channel's latest (uploads carry no metadata; names carry ids)."""
        response = await self.member(
            channel, lambda: self.client.files_list(channel=channel, count=LOOKUP_LIMIT)
        )
        for item in response.get("files") or []:
            if item.get("name") == filename:
                return "file"
        return None

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

    async def cannot_post(self, channel: str) -> str | None:
        """Why the bot cannot post in `channel`, in words, when Slack says so for sure (a private channel it is
        not in, an archived or unknown one); None when it can, or when Slack cannot tell now (an outage is
        the outbox's to ride out, not a reason to refuse)."""
        try:
            info = (await self.client.conversations_info(channel=channel))["channel"]
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in {"channel_not_found", "not_in_channel"}:
                return "it is private and the bot is not in it (or it does not exist)"
            return None
        if info.get("is_archived"):
            return "it is archived"
        if info.get("is_private") and not info.get("is_member"):
            return "it is private and the bot is not in it"
        return None

    async def upload_dm(
        self, user: str, *, filename: str, content: str | bytes, title: str, comment: str
    ) -> None:
        """Upload a file into a person's direct messages with the bot (for them alone)."""
        opened = await self.client.conversations_open(users=user)
        await self.client.files_upload_v2(
            channel=str(opened["channel"]["id"]),
            filename=filename,
            content=content,
            title=title,
            initial_comment=comment,
        )

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
        headers = {"Authorization": f"Bearer {self.client.token}"}
        content = bytearray()
        async with self._downloads().stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > max_bytes:
                    raise FileTooLarge(name, len(content))
        return DownloadedFile(
            name=name,
            filetype=str(info.get("filetype") or ""),
            mimetype=str(info.get("mimetype") or ""),
            content=bytes(content),
        )

    def _downloads(self) -> httpx.AsyncClient:
        """One HTTP client for every file download (its connections and TLS context kept), made when first
        needed; redirects are not followed, so the bot token goes to Slack's file hosts alone."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        """Close the download client (the Web API client needs no closing)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

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
            await self.member(
                channel,
                lambda: self.client.files_upload_v2(
                    channel=channel,
                    thread_ts=thread_ts,
                    filename=filename,
                    content=content,
                    title=title,
                    initial_comment=comment,
                ),
            )
            return "file"

        async def find() -> str | None:
            return await self._find_file(channel, filename)

        return await self._once(event_key, channel, send, find) is not None
