"""GET /metrics: what the bot did, in Prometheus' text format, from a real call through the real app."""

from __future__ import annotations

from bot.metrics import route_of
from bot.sandbox.harness import Sandbox
from tests.handlers.test_calls import send


def sample(text: str, name: str, **labels: str) -> float | None:
    """Return one sample's value from the exposition text (None when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_routes_carry_no_ids() -> None:
    assert route_of("GET", "/v1/calls/7f1c-22") == "GET /v1/calls/{id}"
    assert route_of("POST", "/v1/batches/b1/stop") == "POST /v1/batches/{id}/stop"
    assert (
        route_of("GET", "/v1/citation_schemas/backfill/status/wf_1")
        == "GET /v1/citation_schemas/backfill/status/{id}"
    )


async def test_metrics_count_what_a_call_took(sandbox: Sandbox) -> None:
    await send(sandbox)
    during = (await sandbox.http.get(f"{sandbox.base_url}/metrics")).text
    assert sample(during, "blandbot_tracked_items", kind="call") == 1
    await sandbox.run_until_done()
    response = await sandbox.http.get(f"{sandbox.base_url}/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert sample(text, "blandbot_bland_requests_total", route="POST /v1/calls", status="200") == 1
    assert (sample(text, "blandbot_bland_requests_total", route="GET /v1/calls/{id}", status="200") or 0) >= 1
    assert sample(text, "blandbot_tracked_items", kind="call") == 0
    assert sample(text, "blandbot_outbox_pending") == 0
    assert (sample(text, "blandbot_slack_writes_total", op="post", outcome="sent") or 0) >= 2  # card, result
    assert (sample(text, "blandbot_polls_total", kind="call", outcome="ok") or 0) >= 1
    assert (sample(text, "blandbot_tick_seconds_count") or 0) >= 1
