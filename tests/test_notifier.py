"""The notifier against the Slack stand-in: dedupe, 429 retries, uploads, DM fallback."""

from __future__ import annotations

from bot.sandbox.harness import Sandbox


async def test_an_event_is_posted_once_per_channel_even_after_a_restart(sandbox: Sandbox) -> None:
    notifier = sandbox.bot.deps.notifier
    first = await notifier.post("C1", "hello", event_key="evt:1")
    assert first is not None
    assert await notifier.post("C1", "hello again", event_key="evt:1") is None
    assert await notifier.post("C2", "hello", event_key="evt:1") is not None
    await sandbox.restart()
    assert await sandbox.bot.deps.notifier.post("C1", "hello", event_key="evt:1") is None
    assert [m.channel for m in sandbox.slack.messages] == ["C1", "C2"]


async def test_a_failed_post_releases_its_claim(sandbox: Sandbox) -> None:
    sandbox.slack.add_channel("C0PRIV", "secret", is_private=True, is_member=False)
    notifier = sandbox.bot.deps.notifier
    try:
        await notifier.post("C0PRIV", "x", event_key="evt:2")
    except Exception as exc:
        assert "channel_not_found" in str(exc)
    else:
        raise AssertionError("posting into a private channel the bot is not in must fail")
    sandbox.slack.channels["C0PRIV"].is_member = True
    assert await notifier.post("C0PRIV", "x", event_key="evt:2") is not None


async def test_rate_limited_posts_are_retried_after_retry_after(sandbox: Sandbox) -> None:
    sandbox.slack.fail_next("chat.postMessage", status=429, retry_after=0, count=2)
    ts = await sandbox.bot.deps.notifier.post("C1", "eventually")
    assert ts is not None
    assert len(sandbox.slack.calls_to("chat.postMessage")) == 3
    assert [m.text for m in sandbox.slack.messages] == ["eventually"]


async def test_upload_goes_into_the_thread(sandbox: Sandbox) -> None:
    notifier = sandbox.bot.deps.notifier
    parent = await notifier.post("C1", "card")
    assert parent is not None
    assert await notifier.upload(
        "C1", filename="t.txt", content="line 1\nline 2\n", title="T", thread_ts=parent, event_key="file:1"
    )
    assert not await notifier.upload(
        "C1", filename="t.txt", content="again", title="T", thread_ts=parent, event_key="file:1"
    )
    files = sandbox.slack.files_in("C1", parent)
    assert len(files) == 1 and files[0].content == b"line 1\nline 2\n" and files[0].title == "T"


async def test_ephemeral_falls_back_to_a_dm_where_the_bot_cannot_post(sandbox: Sandbox) -> None:
    sandbox.slack.add_channel("C0NOPE", "nope", is_member=False)
    await sandbox.bot.deps.notifier.ephemeral("C0NOPE", "U0ALICE", "psst")
    assert [m.channel for m in sandbox.slack.messages] == ["DU0ALICE"]


async def test_a_send_that_reached_slack_before_a_crash_is_found_by_its_key_not_sent_again(
    sandbox: Sandbox,
) -> None:
    from bot.notifier import DELIVERY_EVENT
    from bot.sandbox.slack_stub import StubMessage

    notifier = sandbox.bot.deps.notifier
    card = await notifier.post("C0OPS", "card")
    assert card is not None
    ledger = sandbox.bot.deps.store.notifications
    # A process now gone claimed the event and Slack took the message, but the ts was never recorded.
    await ledger.claim("call:x:result", "C0OPS", "a-process-now-gone")
    metadata = {"event_type": DELIVERY_EVENT, "event_payload": {"key": "call:x:result"}}
    sandbox.slack.messages.append(
        StubMessage(
            channel="C0OPS", ts="9.000009", text="result", blocks=[], thread_ts=card, metadata=metadata
        )
    )
    assert await notifier.post("C0OPS", "result", thread_ts=card, event_key="call:x:result") is None
    assert len(sandbox.slack.channel_messages("C0OPS", thread_ts=card)) == 1
    assert await ledger.ts_of("call:x:result", "C0OPS") == "9.000009"
    # And one that never reached Slack is sent now, once, carrying its key.
    await ledger.claim("call:y:result", "C0OPS", "a-process-now-gone")
    ts = await notifier.post("C0OPS", "result", thread_ts=card, event_key="call:y:result")
    assert ts is not None and len(sandbox.slack.channel_messages("C0OPS", thread_ts=card)) == 2
    posted = sandbox.slack.message("C0OPS", ts)
    assert posted is not None and (posted.metadata or {})["event_payload"]["key"] == "call:y:result"
    assert await notifier.post("C0OPS", "result", thread_ts=card, event_key="call:y:result") is None
