"""Messages: chat.postMessage, chat.update, chat.postEphemeral, chat.getPermalink and response URLs, refused as Slack refuses them (Block Kit limits)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.slack_stub.state import StubMessage, StubState, refuse_blocks


class MessageMethods(StubState):
    """Messages."""

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        problem = self._check_channel(channel)
        if problem:
            return problem
        if channel and channel.startswith("U"):
            channel = "D" + channel
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        refused = refuse_blocks(args.get("blocks"))
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
        refused = refuse_blocks(args.get("blocks"))
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
        refused = refuse_blocks(args.get("blocks"))
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

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refuse_blocks(body.get("blocks")):
            return web.Response(status=400, text="invalid_blocks")
        body["_response_id"] = request.match_info["response_id"]
        self.responses.append(body)
        self.changed.set()
        return web.Response(text="ok")
