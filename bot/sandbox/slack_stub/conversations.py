"""Conversations and people: history, replies, info, members, open and join; users.info; user groups; auth.test."""

from __future__ import annotations

from typing import Any

from bot.sandbox.slack_stub.state import StubChannel, StubMessage, StubState


class ConversationMethods(StubState):
    """Conversations and people."""

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
