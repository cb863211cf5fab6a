"""Prometheus metrics, one registry per bot (so several bots in one test process never collide).

Served at GET /metrics. Counters are bumped where the work happens; gauges of stored state (items tracked,
the outbox's backlog) are read from the database when scraped.
"""

from __future__ import annotations

import asyncio
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Path segments that name a resource rather than an instance: everything else becomes {id}.
_ROUTE_WORDS = frozenset(
    {"v1", "calls", "active", "stop", "batches", "citation_schemas", "backfill", "status", "list", "analyze"}
)


def route_of(method: str, path: str) -> str:
    """Return a request's route without ids: `GET /v1/calls/{id}` (bounded label values)."""
    segments = [s if s in _ROUTE_WORDS else "{id}" for s in path.split("?")[0].split("/") if s]
    return f"{method} /" + "/".join(segments)


# The loop-lag watch: how often it looks, and the histogram's buckets (seconds).
LAG_INTERVAL = 0.05
LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))


class Metrics:
    """Everything /metrics shows."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tracked = Gauge("blandbot_tracked_items", "Items being followed, by kind", ["kind"], registry=r)
        self.outbox_depth = Gauge("blandbot_outbox_pending", "Slack writes waiting in the outbox", registry=r)
        self.polls = Counter(
            "blandbot_polls_total",
            "Polls of tracked items, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "blandbot_poll_seconds", "Time one poll of an item took", ["kind"], registry=r
        )
        self.tick_seconds = Histogram("blandbot_tick_seconds", "Time one tick took", registry=r)
        self.bland_requests = Counter(
            "blandbot_bland_requests_total",
            "Requests to Bland, by route and HTTP status",
            ["route", "status"],
            registry=r,
        )
        self.slack_writes = Counter(
            "blandbot_slack_writes_total",
            "Outbox deliveries, by operation and outcome",
            ["op", "outcome"],
            registry=r,
        )
        self.slack_rate_limited = Counter(
            "blandbot_slack_rate_limited_total",
            "Slack 429 answers to outbox deliveries, by operation",
            ["op"],
            registry=r,
        )
        self.budget_waits = Counter(
            "blandbot_slack_budget_waits_total",
            "Deliveries put off to stay within Slack's rate tiers",
            ["op"],
            registry=r,
        )

        self.loop_lag = Histogram(
            "blandbot_loop_lag_seconds",
            "How late the event loop woke a task that asked to sleep (work hogging the loop meanwhile)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self._recent_lags: deque[tuple[float, float]] = deque()
        self.loop_lag_worst = Gauge(
            "blandbot_loop_lag_worst_seconds", "The worst loop lag seen in the last minute", registry=r
        )
        self.loop_lag_worst.set_function(self._worst_lag)

    async def watch_loop(self, interval: float = LAG_INTERVAL) -> None:
        """Measure the event loop's lag until cancelled: sleep `interval`, see how much later it woke.

        Slack's 3-second acknowledgement, webhooks and /healthz share this loop: a lag is how long any of
        them could have waited behind other work."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(interval)
            now = loop.time()
            lag = max(0.0, now - asked - interval)
            self.loop_lag.observe(lag)
            self._recent_lags.append((now, lag))
            while self._recent_lags and self._recent_lags[0][0] < now - 60.0:
                self._recent_lags.popleft()

    def _worst_lag(self) -> float:
        return max((lag for _, lag in self._recent_lags), default=0.0)

    def bland_response(self, method: str, path: str, status: int | str) -> None:
        """Count one answer (or a transport failure, as status `error`) from Bland."""
        self.bland_requests.labels(route=route_of(method, path), status=str(status)).inc()

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)
