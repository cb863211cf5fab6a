"""Ack latency of the real app vs a bare AsyncApp that only acks, under the same signed HTTP load.

Usage: python bench/ack_latency.py [-n 500] [-c 20]
Sends N requests (a mix of /bland help commands, button clicks and view submissions) at concurrency C
to each app, in the same run, and prints p50/p99 for both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ids import ActionId
from bot.notifier import make_slack_client
from bot.sandbox import slack_requests as sr
from bot.sandbox.harness import ALICE, OPS_CHANNEL, SIGNING_SECRET, Sandbox


async def bare_app(slack_api_url: str, token: str) -> tuple[web.AppRunner, str]:
    """Serve an AsyncApp whose listeners only ack, through the same aiohttp route shape."""
    app = AsyncApp(client=make_slack_client(token, slack_api_url), signing_secret=SIGNING_SECRET)

    async def just_ack(ack: Any) -> None:
        await ack()

    app.command("/bland")(just_ack)
    app.action(ActionId.REFRESH_CALL)(just_ack)
    app.view("send_call")(just_ack)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def bodies(n: int, view: dict[str, Any], response_url: str) -> list[str]:
    """Build n signed-able bodies: commands, clicks and modal submissions in turn."""
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(sr.command_body("help", user=ALICE, channel=OPS_CHANNEL, response_url=response_url))
        elif kind == 1:
            payload = sr.action_payload(
                ActionId.REFRESH_CALL,
                "no-such-call",
                user=ALICE,
                channel=OPS_CHANNEL,
                message_ts="1.000001",
                response_url=response_url,
            )
            out.append(sr.interactive_body(payload))
        else:
            payload = sr.view_submission_payload(
                view, {"phone": "+14155550123", "task": "Benchmark"}, user=ALICE
            )
            out.append(sr.interactive_body(payload))
    return out


async def load(http: httpx.AsyncClient, url: str, payloads: list[str], concurrency: int) -> list[float]:
    """Send every payload, `concurrency` at a time; return latencies in ms."""
    latencies: list[float] = []
    queue = list(payloads)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            response = await http.post(
                f"{url}/slack/events", content=body, headers=sr.sign_headers(SIGNING_SECRET, body)
            )
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise SystemExit(f"{failures} requests were not acked with 200")
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(n: int, concurrency: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        async with Sandbox(Path(folder) / "bench.db", scheduler=True) as box:
            await box.command("call")
            view = await box.until(lambda: box.slack.views and box.view(), what="modal")
            runner, bare_url = await bare_app(box.slack.api_url, box.slack.bot_token)
            payloads = bodies(n, view, box.slack.response_url())
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(timeout=30, limits=limits) as http:
                await load(http, bare_url, payloads[:30], concurrency)  # warm both up
                await load(http, box.base_url, payloads[:30], concurrency)
                results = {"bare": [], "app": []}  # type: dict[str, list[float]]
                for _ in range(2):  # alternate so neither side gets the quieter machine
                    results["bare"] += await load(http, bare_url, payloads[: n // 2], concurrency)
                    results["app"] += await load(http, box.base_url, payloads[: n // 2], concurrency)
            await runner.cleanup()
    bare_p50, bare_p99 = pct(results["bare"], 50), pct(results["bare"], 99)
    app_p50, app_p99 = pct(results["app"], 50), pct(results["app"], 99)
    print(f"requests per side: {len(results['app'])}, concurrency {concurrency}")
    print(
        f"bare AsyncApp   p50 {bare_p50:7.2f} ms   p99 {bare_p99:7.2f} ms   mean {statistics.mean(results['bare']):.2f}"
    )
    print(
        f"blandbot app    p50 {app_p50:7.2f} ms   p99 {app_p99:7.2f} ms   mean {statistics.mean(results['app']):.2f}"
    )
    print(f"ratio app/bare  p50 {app_p50 / bare_p50:5.2f}x     p99 {app_p99 / bare_p99:5.2f}x")
    print(
        json.dumps(
            {
                "bare_p50": bare_p50,
                "bare_p99": bare_p99,
                "app_p50": app_p50,
                "app_p99": app_p99,
                "p99_ratio": app_p99 / bare_p99,
            }
        )
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("-c", type=int, default=20)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.n, args.c)))
