"""Views: views.open, push, update and publish, with trigger ids that expire and are used once."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bot.blocks.limits import view_problems
from bot.sandbox.slack_stub.state import StubState


class ViewMethods(StubState):
    """Views."""

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
