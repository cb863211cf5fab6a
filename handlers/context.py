"""What every listener shares: the routing table that wraps it once, and the arguments it is handed.

`Routes` registers each listener wrapped with error reporting and in-flight tracking, so no listener
wraps itself. `listener_arguments` (a bolt middleware) puts the acting user, the clicked value, the
submitted form and the channel it concerns into bolt's context, and bolt hands them to any listener
that names them: `user`, `value`, `values`, `meta`, `origin`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.modals import metadata, read_values
from bot.deps import Deps
from bot.error_replies import report_error
from bot.errors import UserError
from bot.ids import BlockId


@dataclass(frozen=True)
class CommandContext:
    deps: Deps
    client: AsyncWebClient
    respond: AsyncRespond
    args: str
    user: str
    channel: str
    trigger_id: str
    command: dict[str, Any]

    async def reply(self, text: str, blocks: list[Block] | None = None) -> None:
        """Answer only the person who typed the command."""
        await self.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    async def open_view(self, view: Any) -> None:
        """Open a modal for the person who typed the command."""
        await self.client.views_open(trigger_id=self.trigger_id, view=view)


async def answer(
    deps: Deps,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    text: str,
    blocks: list[Any] | None = None,
    *,
    replace: bool = False,
) -> None:
    """Tell the person who clicked: ephemerally under the message (in its place with `replace`), or by DM
    from the Home tab (no response_url)."""
    if respond is not None and body.get("response_url"):
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)
    else:
        await deps.notifier.dm(body["user"]["id"], text, blocks)


def require_args(ctx: CommandContext, usage: str) -> str:
    """Return the argument text, or raise the usage line."""
    if not ctx.args:
        raise UserError(f"Usage: `/bland {usage}`")
    return ctx.args


Listener = Callable[..., Awaitable[None]]


def reports_errors(listener: Listener) -> Listener:
    """Report errors raised after ack() ourselves, and count the listener as in-flight work.

    Errors before ack() go to bolt's global error handler, which answers in the ack (modal errors,
    ephemeral text). After ack() bolt would overwrite the ack response with its 500 when the error is
    quick, so those are reported here, where the person acted.
    """
    wanted = inspect.signature(listener)

    async def wrapper(**kwargs: Any) -> None:
        ack: AsyncAck = kwargs["ack"]
        deps: Deps = kwargs["deps"]
        task = asyncio.current_task()
        if task is not None:
            deps.inflight.add(task)
        try:
            await listener(**{name: kwargs[name] for name in wanted.parameters})
        except Exception as error:
            if ack.response is None:
                raise
            await report_error(error, kwargs["body"], deps, kwargs.get("respond"))
        finally:
            if task is not None:
                deps.inflight.discard(task)

    # bolt hands a listener the arguments its signature names; the wrapper needs its own four as well.
    # Not functools.wraps: bolt follows __wrapped__ to the listener and would hand the wrapper only its names.
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(wrapper, attribute, getattr(listener, attribute))
    own = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for name in WRAPPER_ARGUMENTS
        if name not in wanted.parameters
    ]
    wrapper.__signature__ = wanted.replace(  # type: ignore[attr-defined]
        parameters=[*own, *wanted.parameters.values()]
    )
    return wrapper


WRAPPER_ARGUMENTS = ("ack", "body", "deps", "respond")


class Routes:
    """A listener module's routing table: each listener is registered once, wrapped by reports_errors."""

    def __init__(self, app: AsyncApp) -> None:
        self.app = app

    def command(self, name: str, listener: Listener) -> None:
        """Route a slash command."""
        self.app.command(name)(reports_errors(listener))

    def view(self, callback_id: str, listener: Listener) -> None:
        """Route a modal submission."""
        self.app.view(callback_id)(reports_errors(listener))

    def action(self, action_id: str, listener: Listener) -> None:
        """Route a button click."""
        self.app.action(action_id)(reports_errors(listener))

    def event(self, name: str, listener: Callable[..., Awaitable[None]]) -> None:
        """Route an Events API event (nobody waits on its answer; errors go to the global handler)."""
        self.app.event(name)(listener)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def listener_arguments(
    body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
) -> None:
    """Put the acting user, the clicked value, the form's values and metadata, and the channel into context."""
    body = _dict(body)
    user = _dict(body.get("user")).get("id") or body.get("user_id") or _dict(body.get("event")).get("user")
    context["user"] = str(user or "")
    actions = body.get("actions")
    first = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    context["value"] = str(first.get("value") or "")
    view = _dict(body.get("view")) if body.get("type") == "view_submission" else {}
    values = read_values(view) if view else {}
    meta = metadata(view) if view else {}
    context["values"] = values
    context["meta"] = meta
    # The channel a listener acts for: where the click happened, or the channel the modal was opened
    # from (its metadata), or the channel picked in the modal (opened from the Home tab there is none).
    origin = (
        _dict(body.get("channel")).get("id")
        or body.get("channel_id")
        or meta.get("origin_channel")
        or values.get(BlockId.CHANNEL)
    )
    context["origin"] = str(origin or "")
    await next()
