"""What the Slack stand-in's resources share: what Slack holds (messages, views, files, channels), the
calls it was sent, and the faults and holds a test scripts; the checks of channels and membership."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.blocks.limits import message_problems, too_long
from bot.clock import Clock, SystemClock
from bot.sandbox.holds import Hold, Holds
from bot.sandbox.rate_tiers import RateTiers


def refuse_blocks(blocks: Any) -> dict[str, Any] | None:
    """Answer as Slack does when a message's blocks break its limits."""
    problems = message_problems(blocks)
    if problems:
        return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": problems}}
    if too_long(blocks):
        return {"ok": False, "error": "msg_blocks_too_long"}
    return None


@dataclass
class RecordedCall:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = 0.0  # on the stand-in's clock


@dataclass
class StubMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: int = 0
    user: str = "U0BOT"
    received_at: float = field(default_factory=time.monotonic)  # for latency benchmarks
    metadata: dict[str, Any] | None = None


@dataclass
class StubFile:
    id: str
    filename: str
    title: str | None
    content: bytes = b""
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    filetype: str = "text"
    mimetype: str = "text/plain"


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str
    remaining: int
    channel: str | None = None  # only calls for this channel fail


@dataclass
class StubChannel:
    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    members: list[str] = field(default_factory=list)
    # A public channel the bot posts in through chat:write.public without being in it (is_member=True
    # for posting, joined=False): files and history there answer not_in_channel until it joins.
    joined: bool = True


def _decode(value: Any) -> Any:
    """Form-encoded Web API args carry JSON as strings (blocks, view, files)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_qs_body(body: str) -> dict[str, str]:
    """Decode a form-encoded body (what Slack sends for commands and interactivity)."""
    return dict(parse_qsl(body, keep_blank_values=True))


class StubState:
    """Everything the resources share."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox",
        app_token: str = "xapp-sandbox",
        team_id: str = "T0SANDBOX",
        bot_user_id: str = "U0BOT",
        rate_scale: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.calls: list[RecordedCall] = []
        # Slack's rate tiers, scaled by `rate_scale`; calls refused for going over them are listed here.
        self.tiers = RateTiers(rate_scale)
        self.clock: Clock = clock or SystemClock()  # Slack's time: a test's moved clock moves its windows too
        self.rate_limited: list[RecordedCall] = []
        self.messages: list[StubMessage] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        # A trigger_id opens one view within three seconds of the click or command that made it.
        self.trigger_ttl = 3.0
        self.download_delay = 0.0  # seconds a file download takes
        # Seconds each Web API answer takes (Slack is across the internet; benches set it, tests leave it 0).
        self.answer_delay = 0.0
        self.upload_faults: list[int] = []  # the statuses the next uploads to the upload URL get
        self._used_triggers: set[str] = set()
        self.opened: dict[str, str] = {}  # trigger_id -> the view it opened
        self.files: dict[str, StubFile] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, list[str]] = {}
        self.channels: dict[str, StubChannel] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self.holds = Holds()
        self._outage: Iterator[int] | None = None
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.base_url = ""
        self.changed = asyncio.Event()

    @property
    def api_url(self) -> str:
        """Return the Web API base URL (ends with /)."""
        return f"{self.base_url}api/"

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str = "ratelimited",
        count: int = 1,
        channel: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` (for `channel`, when given) fail: 429 with Retry-After by default."""
        self._faults.setdefault(method, []).append(_Fault(status, retry_after, error, count, channel))

    def hold_next(self, method: str, *, after: bool = False, channel: str | None = None) -> Hold:
        """Hold the next call of `method` open (see bot/sandbox/holds.py): before or after Slack acts on it."""
        return self.holds.add(method, after=after, channel=channel)

    def clear_faults(self) -> None:
        """Make Slack healthy again."""
        self._faults.clear()
        self._outage = None

    def start_outage(self, statuses: tuple[int, ...] = (500, 500, 500, 429)) -> None:
        """Fail every Web API call, cycling through `statuses` (a 429 says Retry-After: 0), until cleared."""
        self._outage = itertools.cycle(statuses)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_member: bool = True,
        joined: bool = True,
    ) -> None:
        """Declare a channel (unknown channels are treated as public ones the bot is in).

        `joined=False`: a public channel the bot may post in (chat:write.public) but has not joined."""
        self.channels[channel_id] = StubChannel(channel_id, name, is_private, is_member, joined=joined)

    def response_url(self, response_id: str | None = None) -> str:
        """Return a response_url that posts back into this stub."""
        return f"{self.base_url}response/{response_id or uuid.uuid4().hex[:10]}"

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Return the recorded calls of one method."""
        return [c for c in self.calls if c.method == method]

    def channel_messages(self, channel: str, *, thread_ts: str | None = None) -> list[StubMessage]:
        """Return top-level messages of a channel, or the replies of one thread."""
        if thread_ts is None:
            return [m for m in self.messages if m.channel == channel and m.thread_ts in (None, m.ts)]
        return [
            m
            for m in self.messages
            if m.channel == channel and m.thread_ts == thread_ts and m.ts != thread_ts
        ]

    def message(self, channel: str, ts: str) -> StubMessage | None:
        """Return one message."""
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def files_in(self, channel: str, thread_ts: str | None = None) -> list[StubFile]:
        """Return files shared into a channel (or a thread)."""
        return [
            f
            for f in self.files.values()
            if f.channel == channel and (thread_ts is None or f.thread_ts == thread_ts)
        ]

    def _file_object(self, stub: StubFile) -> dict[str, Any]:
        url = f"{self.base_url}files-pri/{stub.id}/{stub.filename}"
        return {
            "id": stub.id,
            "name": stub.filename,
            "title": stub.title,
            "filetype": stub.filetype,
            "mimetype": stub.mimetype,
            "size": len(stub.content),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    def last_view(self) -> dict[str, Any]:
        """Return the most recently opened or updated view."""
        return list(self.views.values())[-1]

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            args.update(body if isinstance(body, dict) else {})
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        return {k: _decode(v) for k, v in args.items()}

    def _check_channel(self, channel: str | None) -> dict[str, Any] | None:
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        known = self.channels.get(channel)
        if known is not None and not known.is_member:
            return {"ok": False, "error": "not_in_channel" if not known.is_private else "channel_not_found"}
        return None

    def _check_member(self, channel: str | None) -> dict[str, Any] | None:
        """Files and history need the bot in the channel, even a public one it may post in without joining."""
        problem = self._check_channel(channel)
        if problem:
            return problem
        known = self.channels.get(str(channel))
        if known is not None and not known.is_private and not known.joined:
            return {"ok": False, "error": "not_in_channel"}
        return None
