"""The composition root: the bolt AsyncApp, its error handler, and the aiohttp web app.

This is the one module in `bot` that knows the `handlers` package exists.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

import handlers
from bot import __version__
from bot.bland.webhooks import (
    VerifiedWebhook,
    request_of_status_token,
    signed_message,
    verified_webhook,
)
from bot.deps import Deps
from bot.error_replies import handle_error
from bot.inbound import event_type, is_ssl_check, shape_refusal, signature_refusal
from bot.metrics import CONTENT_TYPE
from bot.safe_json import MAX_BYTES, parse_json
from bot.tracking.scheduler import Scheduler
from bot.tracking.webhooks import handle_batch_status

log = logging.getLogger(__name__)

DEPS_KEY = web.AppKey("deps", Deps)
BOLT_KEY = web.AppKey("bolt", AsyncApp)
SCHEDULER_KEY = web.AppKey("scheduler", Scheduler)
WEBHOOK_KEY = web.AppKey("webhook_handler", object)

WebhookHandler = Callable[[Deps, VerifiedWebhook], Awaitable[str]]


def create_app(deps: Deps) -> AsyncApp:
    """Build the bolt app with deps in every listener's context and one error handler."""
    settings = deps.settings
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    with _single_workspace():
        app = AsyncApp(
            client=deps.notifier.client,
            signing_secret=signing or "socket-mode-does-not-sign",
            request_verification_enabled=not settings.socket_mode,
            raise_error_for_unhandled_request=False,
            logger=logging.getLogger("slack_bolt"),
        )

    @app.middleware
    async def inject_deps(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["deps"] = deps
        await next()

    @app.middleware
    async def once_per_event(
        body: dict[str, Any], next: Callable[[], Awaitable[BoltResponse | None]]
    ) -> BoltResponse | None:
        """Slack retries an event it thinks went unacknowledged (X-Slack-Retry-Num, or a Socket Mode
        envelope's retry_attempt); one handled before is acknowledged and left alone."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not await deps.store.chores.claim(f"slack-event:{event_id[:100]}"):
            log.info("Slack event %s was handled before; acknowledged, not handled again", event_id[:100])
            return BoltResponse(status=200, body="")
        return await next()

    app.error(handle_error)
    handlers.register_all(app)
    return app


OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


@contextlib.contextmanager
def _single_workspace() -> Iterator[None]:
    """Keep bolt from silently switching to OAuth mode when SLACK_CLIENT_ID/SECRET are in the environment."""
    saved = {name: os.environ.pop(name) for name in OAUTH_ENV if name in os.environ}
    if len(saved) == len(OAUTH_ENV):
        log.warning("SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are ignored: blandbot runs on SLACK_BOT_TOKEN alone")
    try:
        yield
    finally:
        os.environ.update(saved)


async def _slack_events(request: web.Request) -> web.Response:
    """Check the signature and the body's shape at the door; only then let bolt dispatch it."""
    deps = request.app[DEPS_KEY]
    settings = deps.settings
    if settings.socket_mode or settings.slack_signing_secret is None:
        # In Socket Mode Slack's requests arrive over the socket; an HTTP one is not from Slack.
        return web.json_response({"error": "this app runs in Socket Mode"}, status=404)
    raw = await request.read()
    content_type = request.headers.get("Content-Type", "")
    if is_ssl_check(raw, content_type):  # Slack checking the URL's certificate: nothing to verify or do
        return web.Response(status=200)
    refusal = signature_refusal(
        settings.slack_signing_secret.get_secret_value(),
        raw,
        request.headers.get("X-Slack-Request-Timestamp"),
        request.headers.get("X-Slack-Signature"),
        time.time(),
    ) or shape_refusal(raw, content_type)
    if refusal is not None:
        log.info("refused a Slack request (%s): %s", refusal.status, refusal.reason)
        return web.json_response({"error": refusal.reason}, status=refusal.status)
    kind = event_type(raw) if content_type.startswith("application/json") else None
    if kind == "app_rate_limited":
        log.warning("Slack is holding back this app's events: over 30,000 in an hour (app_rate_limited)")
        return web.Response(status=200)
    if kind is not None and kind not in ("url_verification", "event_callback"):
        log.info("Slack sent an Events API envelope of type %s, which this app does not use", kind[:40])
        return web.Response(status=200)
    bolt = request.app[BOLT_KEY]
    bolt_request = await to_bolt_request(request)
    response = await bolt.async_dispatch(bolt_request)
    if kind == "event_callback" and response.status == 404:
        return web.Response(status=200)  # an event no listener takes: acknowledged, or Slack retries it
    return await to_aiohttp_response(response)


async def _healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    scheduler = request.app.get(SCHEDULER_KEY)
    database_ok = await deps.store.db.ok()
    tracked = outbox = leases = None
    reason: str | None = None if database_ok else "the database does not answer"
    if database_ok:
        try:  # a database that answers but cannot be read (damaged pages) is said so: 503, never a 500
            tracked = await deps.store.tracked.count_active()
            outbox = await deps.store.outbox.count()
            leases = await deps.store.tracked.leases(deps.replica)
        except Exception as exc:
            database_ok, reason = False, f"the database cannot be read: {str(exc)[:200]}"
            log.warning("/healthz: %s", reason)
    running = bool(scheduler and scheduler.running)
    body = {
        "version": __version__,
        "database": "ok" if database_ok else "error",
        **({"reason": reason} if reason else {}),
        "scheduler_running": running,
        "replica": deps.replica,
        "leases": leases,  # tracked items this replica is polling now (none claimed without the database)
        "tracked": tracked,
        "outbox": outbox,
    }
    return web.json_response(body, status=200 if database_ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus metrics; the gauges of stored state are read now."""
    deps = request.app[DEPS_KEY]
    try:
        for kind, count in (await deps.store.tracked.count_by_kind()).items():
            deps.metrics.tracked.labels(kind=kind).set(count)
        deps.metrics.outbox_depth.set(await deps.store.outbox.count())
    except Exception as exc:  # the gauges of stored state cannot be read: said, never a 500
        return web.Response(status=503, text=f"the database cannot be read: {str(exc)[:200]}\n")
    return web.Response(body=deps.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def _too_large(raw: bytes) -> web.Response | None:
    """A webhook past the size the bot parses is said to be too large (413), not to be badly signed: its
    signature was never checked."""
    if len(raw) <= MAX_BYTES:
        return None
    return web.json_response({"error": f"body too large (at most {MAX_BYTES:,} bytes)"}, status=413)


async def _bland_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    secret = deps.settings.bland_webhook_secret
    raw = await request.read()  # aiohttp answers 413 past client_max_size
    if (refused := _too_large(raw)) is not None:
        return refused
    try:
        webhook = verified_webhook(
            secret.get_secret_value() if secret else "", raw, request.headers.get("X-Webhook-Signature")
        )
    except ValueError as exc:  # signed, but not a JSON object we take
        return web.json_response({"error": str(exc)}, status=400)
    if webhook is None:
        log.warning("rejected a Bland webhook with a missing or wrong signature")
        return web.json_response({"error": "invalid signature"}, status=401)
    handler = request.app.get(WEBHOOK_KEY)
    try:
        result = await handler(deps, webhook) if callable(handler) else "accepted"
    except Exception:
        # Bland retries nothing we know of, and polling catches the call up: say so, do not answer 500.
        log.exception("a verified Bland webhook could not be handled; polling will catch the call up")
        return web.json_response({"status": "deferred"}, status=503)
    return web.json_response({"status": result})


async def _batch_status(request: web.Request) -> web.Response:
    """A v2 batch's lifecycle event (`status_webhook`): its URL's token proves the bot made it for the
    request it names; a body Bland signed is taken too. Kept, then the batch is read at once."""
    deps = request.app[DEPS_KEY]
    raw = await request.read()
    if (refused := _too_large(raw)) is not None:
        return refused
    request_id = request_of_status_token(deps.settings.erasure_secret, request.match_info["token"])
    secret = deps.settings.bland_webhook_secret
    signed = signed_message(
        secret.get_secret_value() if secret else "", raw, request.headers.get("X-Webhook-Signature")
    )
    if request_id is None and signed is None:
        log.warning("rejected a batch status webhook whose URL the bot did not make")
        return web.json_response({"error": "unknown status webhook"}, status=401)
    try:
        event = parse_json(raw)
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    if not isinstance(event, dict) or not isinstance(event.get("batch_id"), str):
        return web.json_response({"error": "no batch_id"}, status=400)
    result = await handle_batch_status(deps, event, request_id=request_id)
    return web.json_response({"status": result})


def create_web_app(
    deps: Deps,
    bolt: AsyncApp,
    *,
    scheduler: Scheduler | None = None,
    webhook_handler: WebhookHandler | None = None,
) -> web.Application:
    """Build the aiohttp app: POST /slack/events, POST /bland/webhook, GET /healthz."""
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[DEPS_KEY] = deps
    web_app[BOLT_KEY] = bolt
    if scheduler is not None:
        web_app[SCHEDULER_KEY] = scheduler
    if webhook_handler is not None:
        web_app[WEBHOOK_KEY] = webhook_handler
    web_app.router.add_post("/slack/events", _slack_events)
    web_app.router.add_post("/bland/webhook", _bland_webhook)
    web_app.router.add_post("/bland/batch-status/{token}", _batch_status)
    web_app.router.add_get("/healthz", _healthz)
    web_app.router.add_get("/metrics", _metrics)
    return web_app
