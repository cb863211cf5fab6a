"""A local Slack Web API stand-in: records every call and answers the methods the bot uses.

It also speaks Socket Mode (apps.connections.open plus a websocket), takes response_url posts and
file uploads, and can be told to answer 429 with Retry-After. It keeps Slack's rate tiers
(bot/sandbox/rate_tiers.py): a call over its method's limit is answered 429 with Retry-After, as Slack does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.blocks.limits import message_problems, too_long, view_problems
from bot.clock import Clock, SystemClock
from bot.sandbox.holds import Hold, Holds
from bot.sandbox.rate_tiers import RateTiers


def _refuse_blocks(blocks: Any) -> dict[str, Any] | None:
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


class SlackStub:
    """Run with `await stub.start()`; point the bot's SLACK_API_URL at `stub.api_url`."""

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

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Return the Web API base URL (ends with /)."""
        return f"{self.base_url}api/"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on an ephemeral port."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/response/{response_id}", self._response_url)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}/"

    async def stop(self) -> None:
        """Close sockets and the server."""
        self.holds.release_all()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scripting -----------------------------------------------------------------------------

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

    def add_file(
        self, filename: str, content: bytes, *, filetype: str = "csv", mimetype: str = "text/csv"
    ) -> dict[str, Any]:
        """Store a file as if a person uploaded it; returns the file object a file_input submits."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = StubFile(
            id=file_id,
            filename=filename,
            title=filename,
            content=content,
            filetype=filetype,
            mimetype=mimetype,
        )
        return self._file_object(self.files[file_id])

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

    # -- Web API -------------------------------------------------------------------------------

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

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or args.get("token")
        self.calls.append(RecordedCall(method, args, token, self.clock.now()))
        self.changed.set()  # tests may wait for a call to arrive, answered or not
        if self._outage and method != "apps.connections.open":
            status = next(self._outage)
            headers = {"Retry-After": "0"} if status == 429 else {}
            error = "ratelimited" if status == 429 else "internal_error"
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        faults = self._faults.get(method)
        fault = next((f for f in faults or [] if f.channel in (None, args.get("channel"))), None)
        if faults and fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": fault.error}, status=fault.status, headers=headers
            )
        retry = self.tiers.admit(method, args.get("channel"), self.clock.now())
        if retry:
            self.rate_limited.append(self.calls[-1])
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(int(retry))}
            )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        hold = self.holds.take(method, args.get("channel"))
        if hold is not None and not hold.after:
            await self.holds.hold(hold)
            return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
        result = handler(args)
        self.changed.set()
        if hold is not None:
            await self.holds.hold(hold)
        return web.json_response(result)

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

    def _m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.is_private:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        channel.joined = True
        return {"ok": True, "channel": {"id": channel.id, "name": channel.name, "is_member": True}}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://sandbox.slack.local/",
            "team": "Sandbox",
            "user": "blandbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0BOT",
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        problem = self._check_channel(channel)
        if problem:
            return problem
        if channel and channel.startswith("U"):
            channel = "D" + channel
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        refused = _refuse_blocks(args.get("blocks"))
        if refused:
            return refused
        thread_ts = args.get("thread_ts")
        if thread_ts and not self.message(str(channel), str(thread_ts)):
            return {"ok": False, "error": "thread_not_found"}
        message = StubMessage(
            channel=str(channel),
            ts=self._next_ts(),
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
            thread_ts=thread_ts,
            metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
        )
        self.messages.append(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": {"text": message.text, "ts": message.ts, "blocks": message.blocks},
        }

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.message(str(args.get("channel")), str(args.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        refused = _refuse_blocks(args.get("blocks"))
        if refused:
            return refused
        message.text = str(args.get("text") or message.text)
        if "blocks" in args:
            message.blocks = list(args.get("blocks") or [])
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_channel(args.get("channel"))
        if problem:
            return problem
        refused = _refuse_blocks(args.get("blocks"))
        if refused:
            return refused
        self.ephemerals.append(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args.get("message_ts", "")).replace(".", "")
        return {
            "ok": True,
            "channel": args.get("channel"),
            "permalink": f"https://sandbox.slack.local/archives/{args.get('channel')}/p{ts}",
        }

    def _view(self, args: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        problems = view_problems(args.get("view"))
        if problems:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}
        view = dict(args.get("view") or {})
        view_id = view_id or "V" + uuid.uuid4().hex[:10].upper()
        view.update({"id": view_id, "team_id": self.team_id, "hash": uuid.uuid4().hex[:8]})
        self.views[view_id] = view
        return {"ok": True, "view": view}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        if not trigger:
            return {"ok": False, "error": "invalid_trigger_id"}
        issued = trigger.split(".", 1)[0]
        if issued.isdigit() and len(issued) >= 13 and time.time() - int(issued) / 1000 > self.trigger_ttl:
            return {"ok": False, "error": "expired_trigger_id"}
        if trigger in self._used_triggers:
            return {"ok": False, "error": "exchanged_trigger_id"}
        result = self._view(args)
        if result.get("ok"):
            self._used_triggers.add(trigger)
            self.opened[trigger] = result["view"]["id"]
        return result

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._m_views_open(args)

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if view_id and view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        return self._view(args, view_id)

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        result = self._view(args, f"HOME-{args.get('user_id')}")
        result["view"]["user_id"] = args.get("user_id")
        return result

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = StubFile(id=file_id, filename=str(args.get("filename")), title=None)
        return {"ok": True, "upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_member(args.get("channel_id")) if args.get("channel_id") else None
        if problem:
            return problem
        done = []
        for entry in args.get("files") or []:
            stub = self.files.get(entry.get("id"))
            if stub is None:
                return {"ok": False, "error": "file_not_found"}
            stub.title = entry.get("title")
            stub.channel = args.get("channel_id")
            stub.thread_ts = args.get("thread_ts")
            stub.initial_comment = args.get("initial_comment")
            done.append({"id": stub.id, "name": stub.filename, "title": stub.title})
        return {"ok": True, "files": done}

    def _history_item(self, message: StubMessage, with_metadata: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "text": message.text,
            "user": message.user,
        }
        if message.thread_ts:
            item["thread_ts"] = message.thread_ts
        if with_metadata and message.metadata:
            item["metadata"] = message.metadata
        return item

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_member(args.get("channel"))
        if problem:
            return problem
        limit = int(args.get("limit") or 100)
        found = [m for m in self.messages if m.channel == args.get("channel") and m.thread_ts in (None, m.ts)]
        newest_first = list(reversed(found))[:limit]
        wanted = str(args.get("include_all_metadata")).lower() in {"true", "1"}
        return {
            "ok": True,
            "messages": [self._history_item(m, wanted) for m in newest_first],
            "has_more": False,
        }

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        problem = self._check_member(channel)
        if problem:
            return problem
        parent = self.message(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        wanted = str(args.get("include_all_metadata")).lower() in {"true", "1"}
        thread = [parent, *self.channel_messages(channel, thread_ts=ts)][: int(args.get("limit") or 1000)]
        return {"ok": True, "messages": [self._history_item(m, wanted) for m in thread], "has_more": False}

    def _m_files_list(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_member(args.get("channel")) if args.get("channel") else None
        if problem:
            return problem
        found = [f for f in self.files.values() if f.channel == args.get("channel")]
        return {"ok": True, "files": [self._file_object(f) for f in found][: int(args.get("count") or 100)]}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        stub = self.files.get(str(args.get("file")))
        if stub is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": self._file_object(stub)}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel"))
        channel = self.channels.get(channel_id, StubChannel(channel_id, channel_id.lower()))
        if channel.is_private and not channel.is_member:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "is_private": channel.is_private,
                "is_member": channel.is_member,
            },
        }

    def _m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel")))
        return {
            "ok": True,
            "members": channel.members if channel else [],
            "response_metadata": {"next_cursor": ""},
        }

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user"))
        user = self.users.get(user_id, {"id": user_id, "name": user_id.lower(), "real_name": user_id})
        return {"ok": True, "user": user}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup"))
        if group not in self.groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.groups[group]}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ws_url = self.base_url.replace("http://", "ws://") + f"link?ticket={uuid.uuid4().hex[:8]}"
        return {"ok": True, "url": ws_url}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        stub = self.files.get(file_id)
        if stub is None:
            return web.Response(status=404, text="unknown file")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            stub.content = await part.read() if part is not None else b""  # type: ignore[union-attr]
        else:
            stub.content = await request.read()
        return web.Response(text=f"OK - {len(stub.content)}")

    async def _download(self, request: web.Request) -> web.Response:
        stub = self.files.get(request.match_info["file_id"])
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=302, headers={"Location": f"{self.base_url}login"})
        if stub is None:
            return web.Response(status=404, text="unknown file")
        if self.download_delay:
            await asyncio.sleep(self.download_delay)  # a big file on a slow link
        return web.Response(body=stub.content, content_type="application/octet-stream")

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        if _refuse_blocks(body.get("blocks")):
            return web.Response(status=400, text="invalid_blocks")
        body["_response_id"] = request.match_info["response_id"]
        self.responses.append(body)
        self.changed.set()
        return web.Response(text="ok")

    # -- Socket Mode ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "A0SANDBOX"},
            }
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                future = self._pending_acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            with contextlib.suppress(ValueError):
                self._sockets.remove(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        """Return whether a Socket Mode client is connected."""
        return any(not ws.closed for ws in self._sockets)

    @property
    def open_sockets(self) -> int:
        """How many Socket Mode connections are open (Slack spreads envelopes over up to 10 of them)."""
        return sum(not ws.closed for ws in self._sockets)

    async def send_envelope(
        self, envelope_type: str, payload: dict[str, Any], timeout: float = 5.0, *, connection: int = 0
    ) -> dict[str, Any]:
        """Send a Socket Mode envelope over one open connection (the first, or the `connection`-th, round
        robin) and return its ack."""
        open_ones = [ws for ws in self._sockets if not ws.closed]
        if not open_ones:
            raise RuntimeError("no Socket Mode connection")
        ws = open_ones[connection % len(open_ones)]
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = future
        await ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": envelope_type != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return await asyncio.wait_for(future, timeout)


def parse_qs_body(body: str) -> dict[str, str]:
    """Decode a form-encoded body (what Slack sends for commands and interactivity)."""
    return dict(parse_qsl(body, keep_blank_values=True))
