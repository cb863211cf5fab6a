"""`blandbot playground`: the whole product in a browser, with no Slack workspace and no Bland account.

The Bland simulator, the Slack stand-in and the real bot (HTTP mode) run as in `blandbot demo`; this module
serves a page that shows what Slack would show, drawn from the same Block Kit JSON the stand-in received,
and turns what a person does on the page (a command, a click, a submitted form, an uploaded file) into the
signed requests Slack would send the bot. The page is plain HTML, CSS and JavaScript (playground_static/).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import os
import tempfile
import uuid
import webbrowser
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web

from bot.sandbox import slack_requests as sr
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox
from bot.sandbox.slack_stub import StubFile, StubMessage

STATIC = Path(__file__).with_name("playground_static")
APPROVALS_CHANNEL = "C0APPROVALS"
NEWS_CHANNEL = "C0NEWS"
CHANNELS = [(OPS_CHANNEL, "ops"), (APPROVALS_CHANNEL, "call-approvals"), (NEWS_CHANNEL, "notifications")]
PEOPLE = [
    (ALICE, "Alice", "operator"),
    (BOB, "Bob", "approver"),
    (CAROL, "Carol", "admin"),
]
# A file picked in a form is stored as Slack stores an upload; at most this big (Slack's own limit is far
# higher; the bot refuses CSVs past its own limit, which is lower).
UPLOAD_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class _Shown:
    """Something shown to one person, or in a channel, placed after the message that was last when it came."""

    seq: int
    after: str  # ts of the channel's (or thread's) last message when it arrived; "" before any
    item: dict[str, Any]


@dataclass
class Playground:
    """The page's server: what each person sees, and what they do turned into Slack's requests."""

    box: Sandbox
    triggers: dict[str, str] = field(default_factory=dict)  # trigger_id -> the person who caused it
    stacks: dict[str, list[str]] = field(default_factory=dict)  # person -> open modal view ids, top last
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # view id -> inline errors by block
    replies: dict[str, tuple[str, str]] = field(default_factory=dict)  # response id -> (person, channel)
    version: int = 0
    closing: bool = False  # set when it stops: open event streams end
    _seen_ephemerals: int = 0
    _seen_responses: int = 0
    _seen_files: set[str] = field(default_factory=set)
    _private: dict[str, list[_Shown]] = field(default_factory=dict)  # person -> ephemerals
    _files: list[tuple[str, str | None, _Shown]] = field(default_factory=list)  # (channel, thread, shown)
    _seq: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    # -- the web app ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=UPLOAD_MAX_BYTES + 1024 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/state", self._state)
        app.router.add_get("/events", self._events)
        app.router.add_get("/files/{file_id}", self._file)
        app.router.add_post("/act/command", self._command)
        app.router.add_post("/act/click", self._click)
        app.router.add_post("/act/submit", self._submit)
        app.router.add_post("/act/close", self._close)
        app.router.add_post("/act/home", self._home)
        app.router.add_post("/act/upload", self._upload)
        return app

    async def watch(self) -> None:
        """Tell open pages whenever the stand-in changed (a post, an edit, a view), at most every 50 ms."""
        stub = self.box.slack
        while True:
            await stub.changed.wait()
            stub.changed.clear()
            await asyncio.sleep(0.05)
            await self._bump()

    async def close(self) -> None:
        """End the open event streams (before the server stops, which waits for them)."""
        self.closing = True
        await self._bump()

    async def _bump(self) -> None:
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: `changed` with the state's version, so the page redraws without a reload."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        seen = -1
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            while not self.closing:
                async with self._changed:
                    if self.version == seen:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._changed.wait(), timeout=15)
                    seen = self.version
                await response.write(f"event: changed\ndata: {seen}\n\n".encode())
        return response

    # -- what a person sees -------------------------------------------------------------------------

    def _collect(self) -> None:
        """Place ephemerals, response_url answers and shared files that arrived since the last look."""
        stub = self.box.slack
        for posted in stub.ephemerals[self._seen_ephemerals :]:
            channel, user = str(posted.get("channel")), str(posted.get("user"))
            self._keep_private(user, channel, posted)
        self._seen_ephemerals = len(stub.ephemerals)
        for answer in stub.responses[self._seen_responses :]:
            user, channel = self.replies.get(str(answer.get("_response_id")), ("", ""))
            if user:
                self._keep_private(user, channel, answer)
        self._seen_responses = len(stub.responses)
        for shared in stub.files.values():
            if shared.id in self._seen_files or not shared.channel:
                continue
            self._seen_files.add(shared.id)
            self._seq += 1
            after = self._last_ts(shared.channel, shared.thread_ts)
            self._files.append(
                (shared.channel, shared.thread_ts, _Shown(self._seq, after, _file_item(shared)))
            )

    def _keep_private(self, user: str, channel: str, body: dict[str, Any]) -> None:
        self._seq += 1
        item = {"channel": channel, "text": body.get("text") or "", "blocks": _blocks(body.get("blocks"))}
        self._private.setdefault(user, []).append(_Shown(self._seq, self._last_ts(channel, None), item))

    def _last_ts(self, channel: str, thread: str | None) -> str:
        stub = self.box.slack
        shown = stub.channel_messages(channel, thread_ts=thread) if thread else stub.channel_messages(channel)
        return shown[-1].ts if shown else ""

    def _open_modals(self, user: str) -> list[str]:
        """The person's modal stack: views opened with a trigger they caused join it, once."""
        stack = self.stacks.setdefault(user, [])
        for trigger, view_id in list(self.box.slack.opened.items()):
            if self.triggers.get(trigger) == user:
                self.triggers.pop(trigger)
                stack.append(view_id)
        return stack

    async def _state(self, request: web.Request) -> web.Response:
        user = request.query.get("as") or ALICE
        self._collect()
        stub = self.box.slack
        channels = [{"id": cid, "name": name} for cid, name in CHANNELS]
        dm = "D" + user
        conversations: dict[str, Any] = {}
        for cid in [c["id"] for c in channels] + [dm]:
            conversations[cid] = self._conversation(cid, user)
        stack = self._open_modals(user)
        top = stub.views.get(stack[-1]) if stack else None
        home = stub.views.get(f"HOME-{user}")
        return web.json_response(
            {
                "version": self.version,
                "me": user,
                "people": [{"id": pid, "name": name, "role": role} for pid, name, role in PEOPLE],
                "channels": channels,
                "dm": dm,
                "conversations": conversations,
                "modal": {**top, "errors": self.errors.get(str(top.get("id")), {}), "depth": len(stack)}
                if top
                else None,
                "home": home,
            }
        )

    def _conversation(self, channel: str, user: str) -> list[dict[str, Any]]:
        """A channel's messages, each with its thread; the person's ephemerals and the shared files placed
        where they arrived."""
        stub = self.box.slack
        top = stub.channel_messages(channel)
        out: list[dict[str, Any]] = []
        privates = [s for s in self._private.get(user, []) if s.item["channel"] == channel]
        files = [(thread, s) for ch, thread, s in self._files if ch == channel]

        def extras(after: str, thread: str | None) -> list[dict[str, Any]]:
            shown = [s for t, s in files if t == thread and s.after == after]
            if thread is None:
                shown += [s for s in privates if s.after == after]
            return [{**s.item, "seq": s.seq} for s in sorted(shown, key=lambda s: s.seq)]

        out += extras("", None)
        for message in top:
            replies: list[dict[str, Any]] = []
            for reply in stub.channel_messages(channel, thread_ts=message.ts):
                replies.append(_message_item(reply))
                replies += extras(reply.ts, message.ts)
            replies = extras("", message.ts) + replies
            out.append({**_message_item(message), "replies": replies})
            out += extras(message.ts, None)
        return out

    async def _file(self, request: web.Request) -> web.StreamResponse:
        shared = self.box.slack.files.get(request.match_info["file_id"])
        if shared is None:
            raise web.HTTPNotFound()
        headers = {}
        if request.query.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="{shared.filename}"'
        return web.Response(body=shared.content, content_type=_content_type(shared), headers=headers)

    # -- what a person does -------------------------------------------------------------------------

    async def _form(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON object is expected")
        user = str(body.get("as") or "")
        if user not in {pid for pid, _, _ in PEOPLE}:
            raise web.HTTPBadRequest(text="unknown person")
        return body

    def _respond_to(self, user: str, channel: str) -> str:
        response_id = uuid.uuid4().hex[:10]
        self.replies[response_id] = (user, channel)
        return self.box.slack.response_url(response_id)

    async def _signed(self, body: str, *, json_body: bool = False) -> web.Response:
        answer = await self.box.post_signed(
            body, content_type="application/json" if json_body else "application/x-www-form-urlencoded"
        )
        await self._bump()
        return web.json_response({"status": answer.status_code, "body": _json_or_text(answer.text)})

    async def _command(self, request: web.Request) -> web.Response:
        """A line typed in the composer: `/bland …` goes to the bot exactly as Slack sends a slash command."""
        body = await self._form(request)
        user, channel, text = body["as"], str(body.get("channel") or OPS_CHANNEL), str(body.get("text") or "")
        command, _, rest = text.strip().partition(" ")
        if command != "/bland":
            self._keep_private(
                user,
                channel,
                {"text": f"Only `/bland …` commands reach the bot here; `{command[:40]}` is not one."},
            )
            await self._bump()
            return web.json_response({"status": 200, "body": None})
        form = sr.command_body(rest, user=user, channel=channel, response_url=self._respond_to(user, channel))
        self.triggers[dict(parse_qsl(form))["trigger_id"]] = user
        answer = await self.box.post_signed(form)
        # What the bot puts in its acknowledgement is what Slack shows the person alone.
        shown = _json_or_text(answer.text) if answer.text else None
        if isinstance(shown, dict) and (shown.get("text") or shown.get("blocks")):
            self._keep_private(user, channel, shown)
        elif isinstance(shown, str):
            self._keep_private(user, channel, {"text": shown})
        await self._bump()
        return web.json_response({"status": answer.status_code, "body": shown})

    async def _click(self, request: web.Request) -> web.Response:
        """A button (or a choice in a message's menu) pressed, on a message, in a modal or on the Home tab."""
        body = await self._form(request)
        user = body["as"]
        view = self.box.slack.views.get(str(body.get("view_id") or "")) if body.get("view_id") else None
        channel = str(body.get("channel") or "")
        payload = sr.action_payload(
            str(body.get("action_id") or ""),
            str(body.get("value") or ""),
            user=user,
            channel=channel,
            message_ts=body.get("message_ts"),
            response_url=self._respond_to(user, channel),
            block_id=str(body.get("block_id") or "actions"),
            view=view,
        )
        if view is not None:
            payload.pop("response_url", None)
            if body.get("values"):
                payload["view"] = {**view, "state": {"values": body["values"]}}
        action = payload["actions"][0]
        if body.get("selected"):  # a select in a message or view: Slack sends the choice, not a value
            action.pop("value", None)
            action["type"] = "static_select"
            action["selected_option"] = {
                "value": body["selected"],
                "text": {"type": "plain_text", "text": ""},
            }
        self.triggers[payload["trigger_id"]] = user
        return await self._signed(sr.interactive_body(payload))

    async def _submit(self, request: web.Request) -> web.Response:
        """A modal submitted with what was typed (Slack's view.state.values); the bot's answer is applied as
        Slack applies it: inline errors, an updated or pushed view, or the modal closed."""
        body = await self._form(request)
        user = body["as"]
        stack = self._open_modals(user)
        view_id = str(body.get("view_id") or "")
        view = self.box.slack.views.get(view_id)
        if view is None or view_id not in stack:
            raise web.HTTPConflict(text="that modal is not open")
        payload = sr.view_submission_payload(view, {}, user=user, values=body.get("values") or {})
        self.triggers[payload["trigger_id"]] = user
        answer = await self.box.post_signed(sr.interactive_body(payload))
        reply = _json_or_text(answer.text) if answer.text else None
        action = reply.get("response_action") if isinstance(reply, dict) else None
        self.errors.pop(view_id, None)
        if action == "errors":
            self.errors[view_id] = dict(reply.get("errors") or {})  # type: ignore[union-attr]
        elif action == "update":
            self.box.slack.views[view_id] = {**reply["view"], "id": view_id, "hash": uuid.uuid4().hex[:8]}  # type: ignore[index]
        elif action == "push":
            pushed = "V" + uuid.uuid4().hex[:10].upper()
            self.box.slack.views[pushed] = {**reply["view"], "id": pushed, "hash": uuid.uuid4().hex[:8]}  # type: ignore[index]
            stack.append(pushed)
        elif action == "clear":
            stack.clear()
        elif answer.status_code == 200:
            stack.remove(view_id)
        await self._bump()
        return web.json_response({"status": answer.status_code, "body": reply})

    async def _close(self, request: web.Request) -> web.Response:
        body = await self._form(request)
        stack = self._open_modals(body["as"])
        view_id = str(body.get("view_id") or "")
        if view_id in stack:
            stack.remove(view_id)
        self.errors.pop(view_id, None)
        await self._bump()
        return web.json_response({"closed": view_id})

    async def _home(self, request: web.Request) -> web.Response:
        body = await self._form(request)
        event = {"type": "app_home_opened", "user": body["as"], "channel": "D" + body["as"], "tab": "home"}
        return await self._signed(sr.event_body(event), json_body=True)

    async def _upload(self, request: web.Request) -> web.Response:
        """A file picked in a form's file input, stored as Slack stores an upload."""
        reader = await request.multipart()
        part = await reader.next()
        if not isinstance(part, BodyPartReader) or not part.filename:
            raise web.HTTPBadRequest(text="no file")
        content = await part.read(decode=False)
        name = part.filename
        kind = name.rsplit(".", 1)[-1].lower() if "." in name else "text"
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.json_response(self.box.slack.add_file(name, bytes(content), filetype=kind, mimetype=mime))


def _blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value if isinstance(value, list) else []


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text or None


def _message_item(message: StubMessage) -> dict[str, Any]:
    return {
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks or [],
        "edited": message.edits > 0,
    }


def _content_type(shared: StubFile) -> str:
    guessed = mimetypes.guess_type(shared.filename)[0]
    return guessed or shared.mimetype or "application/octet-stream"


def _file_item(shared: StubFile) -> dict[str, Any]:
    return {
        "file": {
            "id": shared.id,
            "name": shared.filename,
            "title": shared.title or shared.filename,
            "size": len(shared.content),
            "type": shared.filetype,
            "mimetype": _content_type(shared),
        },
        "text": shared.initial_comment or "",
        "blocks": [],
    }


def playground_box(folder: str, *, speed: float) -> Sandbox:
    """The sandbox behind the page: real time at `speed`, the scheduler and webhooks on, Alice an operator,
    Bob an approver, Carol an admin; SQLite in `folder` unless DATABASE_URL is set."""
    database = os.environ.get("DATABASE_URL") or str(Path(folder) / "playground.db")
    return Sandbox(
        database,
        manual=False,
        speed=speed,
        scheduler=True,
        public_webhooks=True,
        operator_users=(ALICE,),
        approver_users=(BOB,),
        admin_users=(CAROL,),
        approval_channel=APPROVALS_CHANNEL,
        # Progress a person can watch: batches and backfills are read every couple of seconds (calls come by
        # webhook), and Bland's request budget is in its own time, which runs `speed` times faster.
        batch_poll_seconds=2,
        backfill_poll_seconds=2,
        bland_max_rps=5 * speed,
    )


async def start_playground(box: Sandbox, host: str, port: int) -> tuple[Playground, web.AppRunner, str]:
    """Start the sandbox and the page's server; return them with the page's URL."""
    await box.start()
    for cid, name in CHANNELS:
        box.slack.add_channel(cid, name)
    for pid, name, role in PEOPLE:
        box.slack.users[pid] = {"id": pid, "name": name.lower(), "real_name": f"{name} ({role})"}
    playground = Playground(box)
    runner = web.AppRunner(playground.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return playground, runner, f"http://{host}:{bound}/"


async def run_playground(
    *, host: str, port: int, speed: float, open_page: bool, until: Callable[[], Awaitable[None]]
) -> int:
    """`blandbot playground`: serve the page until `until()` returns (Ctrl-C), then stop everything it
    started."""
    with tempfile.TemporaryDirectory(prefix="blandbot-playground-") as folder:
        box = playground_box(folder, speed=speed)
        playground, runner, url = await start_playground(box, host, port)
        watcher = asyncio.create_task(playground.watch())
        print(
            f"blandbot playground: open {url}  (Ctrl-C stops it; nothing reaches Slack or Bland)", flush=True
        )
        if host not in {"127.0.0.1", "localhost", "::1"}:
            print(
                f"blandbot playground: listening on {host}: anyone who can reach it can act as any person here",
                flush=True,
            )
        if open_page:
            webbrowser.open(url)
        try:
            await until()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await playground.close()
            await runner.cleanup()
            await box.stop()
    return 0
