"""blandbot serve | simulate | demo | playground | check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import SecretStr

from bot import __version__
from bot.errors import ConfigError
from bot.logs import setup_logging
from bot.settings import Settings, load_settings

log = logging.getLogger("blandbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blandbot", description="A Slack operations console for Bland AI calls."
    )
    parser.add_argument("--version", action="version", version=f"blandbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)")
    serve.add_argument(
        "--simulate",
        action="store_true",
        help="run against an in-process Bland simulator instead of the real API (no key needed)",
    )
    serve.add_argument(
        "--speed", type=float, default=60.0, help="simulator speed with --simulate (default 60)"
    )
    simulate = sub.add_parser("simulate", help="run the Bland API simulator on its own")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=4010)
    simulate.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--api-key", default="sim-key", help="the authorization value it accepts")
    simulate.add_argument("--webhook-secret", default="sim-webhook-secret", help="signs its webhooks")
    simulate.add_argument(
        "--batch-api",
        choices=("v1", "v2", "both"),
        default="both",
        help="which batch API it speaks: v1 (/v1/batches), v2 (/v2/batches) or both (default)",
    )
    simulate.add_argument(
        "--plan",
        choices=("start", "build", "scale", "enterprise"),
        default="start",
        help="the account's Bland plan: its per-minute price and its caps (calls a day, an hour, at once)",
    )
    simulate.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ROUTE:KIND[:COUNT]",
        help="inject faults, e.g. calls.get:500:3 or '*:429:2' (kinds: 429 500 slow malformed timeout lost)",
    )
    demo = sub.add_parser(
        "demo", help="run the whole product offline: simulator, Slack stand-in, bot, script"
    )
    demo.add_argument("--quiet", action="store_true", help="print only the verdict")
    playground = sub.add_parser(
        "playground", help="try every part of the bot in a browser: no Slack workspace, no Bland account"
    )
    playground.add_argument("--host", default="127.0.0.1")
    playground.add_argument("--port", type=int, default=8080)
    playground.add_argument("--speed", type=float, default=20.0, help="simulated seconds per real second")
    playground.add_argument("--open", action="store_true", help="open the page in the default browser")
    sub.add_parser("check", help="print the configuration and check Slack and Bland")
    migrate = sub.add_parser(
        "migrate-db",
        help="copy every table of one database into another (e.g. SQLite to PostgreSQL), then verify",
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="sqlite:///path/to/blandbot.db"
    )
    migrate.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/name"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from bot.sandbox.demo import run_demo

            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
            return asyncio.run(run_demo(verbose=not args.quiet))
        if args.command == "playground":
            from bot.sandbox.playground import run_playground

            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
            return asyncio.run(
                run_playground(
                    host=args.host,
                    port=args.port,
                    speed=args.speed,
                    open_page=args.open,
                    until=_wait_for_signal,
                )
            )
        if args.command == "migrate-db":
            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
            return asyncio.run(_migrate_db(args.source, args.target))
        if args.command == "simulate":
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            return asyncio.run(_simulate(args))
        settings = load_settings()
        setup_logging(settings)
        if args.command == "check":
            from bot.check import run_check

            return asyncio.run(run_check(settings))
        return asyncio.run(_serve(settings, simulate=args.simulate, speed=args.speed))
    except ConfigError as exc:
        print(f"blandbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _migrate_db(source_url: str, target_url: str) -> int:
    """Copy, verify and say what was copied; 1 when a count differs."""
    from bot.store import open_database
    from bot.store.copy import copy_database

    source, target = open_database(source_url), open_database(target_url)
    try:
        await source.connect()
        await target.connect()
        copied = await copy_database(source, target)
    finally:
        await source.close()
        await target.close()
    for entry in copied:
        print(f"{entry.table:24} {entry.source:>10} → {entry.target:>10}{'' if entry.ok else '   MISMATCH'}")
    if all(entry.ok for entry in copied):
        print(f"copied {sum(e.source for e in copied)} rows in {len(copied)} tables; every count matches")
        return 0
    print("blandbot migrate-db: some counts differ; do not switch DATABASE_URL", file=sys.stderr)
    return 1


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _simulate(args: argparse.Namespace) -> int:
    from bot.sandbox.bland_sim import BlandSimulator
    from bot.sandbox.bland_sim.state import plan_config

    sim = BlandSimulator(
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        speed=args.speed,
        seed=args.seed,
        config=plan_config(args.plan, batch_api=args.batch_api),
    )
    for spec in args.fault:
        route, _, rest = spec.partition(":")
        kind, _, count = rest.partition(":")
        try:
            sim.inject(route, kind, int(count or 1))
        except ValueError as exc:
            print(f"blandbot simulate: bad --fault {spec!r}: {exc}", file=sys.stderr)
            return 2
    await sim.start(args.host, args.port)
    print(
        f"Bland simulator on {sim.url} (key {args.api_key!r}, speed ×{args.speed:g}, seed {args.seed}, "
        f"batch API {args.batch_api}); "
        f"state at {sim.url}/_sim/state",
        flush=True,
    )
    try:
        await _wait_for_signal()
    finally:
        await sim.stop()
    return 0


async def _serve(settings: Settings, *, simulate: bool, speed: float) -> int:
    from bot.runtime import Runtime

    sim = None
    if simulate:
        from bot.sandbox.bland_sim import BlandSimulator
        from bot.sandbox.bland_sim.state import plan_config

        secret = settings.bland_webhook_secret.get_secret_value() if settings.bland_webhook_secret else "sim"
        # The simulated account is on BLAND_PLAN: its prices and caps are the ones the bot assumes.
        sim = BlandSimulator(speed=speed, webhook_secret=secret, config=plan_config(settings.bland_plan))
        await sim.start()
        settings = settings.model_copy(
            update={"bland_api_url": sim.url, "bland_api_key": SecretStr(sim.api_key)}
        )
        log.info("using the in-process Bland simulator at %s", sim.url)
    runtime = await Runtime.build(settings)
    try:
        port = await runtime.start_http()
        if settings.socket_mode:
            await runtime.start_socket_mode()
            log.info("connected over Socket Mode; /healthz and /bland/webhook on port %s", port)
        else:
            log.info("listening for Slack on http://%s:%s/slack/events", settings.host, port)
        runtime.start_scheduler()
        await _wait_for_signal()
        log.info("shutting down: finishing the current tick")
    finally:
        await runtime.close()
        if sim is not None:
            await sim.stop()
    return 0
