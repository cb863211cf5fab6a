"""The real app on PostgreSQL: the flows whose guarantees live in the database, run unchanged against a
schema of the test database instead of a SQLite file (same signed requests, simulator and Slack stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.sandbox.harness import ALICE, BOB, Sandbox
from tests.conftest import postgres_schema
from tests.handlers import test_batches, test_calls

Case = Callable[[Sandbox], Awaitable[None]]

CASES: list[Case] = [
    test_calls.test_a_call_is_sent_carded_tracked_and_its_results_posted_once,
    test_calls.test_a_restart_mid_call_posts_the_result_exactly_once,
    test_calls.test_a_crash_after_posting_but_before_recording_does_not_post_twice,
    test_batches.test_a_valid_pasted_csv_freezes_the_payload_and_asks_for_approval,
    test_batches.test_an_approver_approves_and_the_batch_is_sent_once_and_tracked,
    test_batches.test_fifty_concurrent_approve_clicks_send_exactly_one_batch,
    test_batches.test_fifty_racing_approvals_past_the_pending_check_still_send_once,
    test_batches.test_a_lost_reply_is_reconciled_by_label_and_never_resent,
    test_batches.test_progress_then_summary_with_histogram_errors_cost_and_a_csv,
    test_batches.test_a_restart_mid_batch_loses_nothing_and_posts_nothing_twice,
    test_batches.test_a_crash_while_sending_is_reconciled_not_resent,
    test_batches.test_pending_requests_expire_and_their_cards_say_so,
    test_batches.test_approvers_are_reminded_once_and_the_requester_warned_before_expiry,
    test_batches.test_re_run_for_unanswered_requests_just_those_rows_through_approval,
]


@pytest.fixture
async def pg_box(batch_api: str) -> AsyncIterator[Sandbox]:
    """On PostgreSQL, against a Bland that speaks only one batch API (each in turn)."""
    async with (
        postgres_schema() as url,
        Sandbox(
            url,
            bland_speaks=batch_api,
            approver_users=(ALICE, BOB),
            approval_channel=test_batches.APPROVALS,
            batch_poll_seconds=15,
        ) as box,
    ):
        yield box


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__.removeprefix("test_"))
async def test_on_postgresql(case: Case, pg_box: Sandbox) -> None:
    await case(pg_box)
