"""The simulator answers with the fields of Bland's own examples (tests/fixtures/bland/), no more.

Keys are compared recursively (over every item of each list); free-form objects (a call's variables and
metadata, request data, call parameters, counts keyed by status or endpoint) are not. Fields that only a
document's table names (not its example) are allowed where the table names them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.sandbox.bland_sim import BlandSimulator, SimClock
from tests.bland_fixtures import load

FREE_FORM = (
    "variables.",
    "metadata.",
    "request_data.",
    "call_data.[].request_data.",
    "batch_params.call_params.",
    "batches.[].call_params.",
    "analysis.queue_statuses.",
    "analysis.endpoints.",
    "analysis.call_lengths.summary.",
)
# In the documents' tables but not in their examples.
TABLE_ONLY = {"call_details.jsonc": {"transferred_to"}, "list_calls.jsonc": {"total_count"}}


def keys(value: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(prefix + key)
            found |= keys(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        for item in value:
            found |= keys(item, f"{prefix}[].")
    return {k for k in found if not k.startswith(FREE_FORM)}


@pytest.fixture
async def answers() -> AsyncIterator[dict[str, Any]]:
    sim = BlandSimulator(clock=SimClock(manual=True))
    sim.config.answered_by_mix = {"voicemail": 1.0}
    sim.config.error_rate = 0.5
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.url, headers={"authorization": sim.api_key}) as http:
            call = {"phone_number": "+14155550123", "task": "t", "record": True}
            call_id = (await http.post("/v1/calls", json=call)).json()["call_id"]
            rows = [{"phone_number": f"+1415555{i:04d}"} for i in range(8)]
            batch_id = (await http.post("/v1/batches", json={"base_prompt": "x", "call_data": rows})).json()[
                "batch_id"
            ]
            await sim.advance(3600)
            yield {
                "call_details.jsonc": (await http.get(f"/v1/calls/{call_id}")).json(),
                "list_calls.jsonc": (await http.get("/v1/calls")).json(),
                "batch_details.jsonc": (await http.get(f"/v1/batches/{batch_id}")).json(),
                "list_batches.jsonc": (await http.get("/v1/batches")).json(),
                "recording.jsonc": (await http.get(f"/v1/calls/{call_id}/recording")).json(),
            }
    finally:
        await sim.stop()


@pytest.mark.parametrize(
    "example",
    [
        "call_details.jsonc",
        "list_calls.jsonc",
        "batch_details.jsonc",
        "list_batches.jsonc",
        "recording.jsonc",
    ],
)
def test_the_simulator_answers_with_the_documented_fields_only(answers: dict[str, Any], example: str) -> None:
    documented = keys(load(example))
    simulated = keys(answers[example])
    assert simulated - documented - TABLE_ONLY.get(example, set()) == set()  # nothing invented
    assert documented - simulated == set()  # nothing missing
