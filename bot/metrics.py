"""Prometheus metrics, one registry per bot (so several bots in one test process never collide).

Served at GET /metrics. Counters are bumped where the work happens; gauges of stored state (items tracked,
the outbox's backlog) are read from the database when scraped.
"""

from __future__ import annotations

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

    def bland_response(self, method: str, path: str, status: int | str) -> None:
        """Count one answer (or a transport failure, as status `error`) from Bland."""
        self.bland_requests.labels(route=route_of(method, path), status=str(status)).inc()

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)
