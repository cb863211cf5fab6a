"""The outbox through Slack's failures: order per thread, coalesced card updates, Retry-After, refusals, expiry."""

from __future__ import annotations

import asyncio
from pathlib import Path
from random import Random

from bot.clock import FakeClock
from bot.domain import Topic
from bot.notifier import Notifier, make_slack_client
from bot.outbox import Outbox, dm_gap
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack_stub import SlackStub
from bot.store import Store
from bot.store.outbox import Delivery, Op, OutboxState, card_update
from tests.conftest import postgres_schema

CARD = "call:c1:card"


def card(channel: str = "C1", text: str = "card v1") -> Delivery:
    return Delivery(key=CARD, channel=channel, text=text)


def update(text: str, channel: str = "C1") -> Delivery:
    return Delivery(key=f"{CARD}:update", channel=channel, text=text, op=Op.UPDATE, thread_of=CARD)


def reply(key: str, text: str, channel: str = "C1") -> Delivery:
    return Delivery(key=key, channel=channel, text=text, thread_of=CARD)


async def test_card_updates_queued_while_slack_fails_coalesce_to_the_latest(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    await outbox.add(card())
    await outbox.drain()
    posted = slack.channel_messages("C1")[0]
    slack.fail_next("chat.update", status=500, retry_after=None, error="internal_error", count=100)
    for version in ("v2", "v3", "v4"):
        await outbox.add(update(f"card {version}"))
        await outbox.drain()
    failed = len(slack.calls_to("chat.update"))
    slack.clear_faults()
    await sandbox.advance(60)
    await outbox.drain()
    assert len(slack.calls_to("chat.update")) == failed + 1  # one update, not one per queued state
    shown = slack.message("C1", posted.ts)
    assert shown is not None and shown.text == "card v4"
    assert await sandbox.bot.deps.store.outbox.count() == 0


async def test_a_reply_waits_for_its_card_and_goes_into_its_thread(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    slack.fail_next("chat.postMessage", status=503, retry_after=None, error="service_unavailable")
    await outbox.add(card(), reply("call:c1:result", "the result"), reply("call:c1:more", "and more"))
    await outbox.drain()
    assert slack.messages == []  # the card failed; its replies wait for it, never posted beside it
    await sandbox.advance(5)
    await outbox.drain()
    top = slack.channel_messages("C1")
    assert [m.text for m in top] == ["card v1"]
    assert [m.text for m in slack.channel_messages("C1", thread_ts=top[0].ts)] == ["the result", "and more"]


async def test_retry_after_holds_that_channel_only_and_is_honoured(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    slack.fail_next("chat.postMessage", status=429, retry_after=30, channel="C1")
    await outbox.add(Delivery(key="a", channel="C1", text="first in C1"))
    await outbox.drain()
    await outbox.add(
        Delivery(key="b", channel="C1", text="second in C1"), Delivery(key="c", channel="C2", text="in C2")
    )
    await outbox.drain()
    assert [m.text for m in slack.messages] == ["in C2"]
    tried = len(slack.calls_to("chat.postMessage"))
    await sandbox.advance(20)
    await outbox.drain()
    assert len(slack.calls_to("chat.postMessage")) == tried  # nothing sent to C1 inside Retry-After
    await sandbox.advance(15)
    await outbox.drain()
    assert sorted(m.text for m in slack.channel_messages("C1")) == ["first in C1", "second in C1"]


async def test_a_channel_the_bot_cannot_post_in_drops_the_line_and_tells_the_subscriber(
    sandbox: Sandbox,
) -> None:
    deps, slack = sandbox.bot.deps, sandbox.slack
    slack.add_channel("C0GONE", "gone", is_private=True, is_member=False)
    await deps.store.subscriptions.add("C0GONE", Topic.CALLS, "U0SUB")
    await deps.outbox.add(Delivery(key="notify:x", channel="C0GONE", text="a line", topic="calls"))
    await deps.outbox.drain()
    await deps.outbox.drain()  # the DM queued by the refusal
    assert await deps.store.outbox.state_of("notify:x", "C0GONE") == (
        OutboxState.DROPPED,
        "channel_not_found",
    )
    told = slack.channel_messages("DU0SUB")
    assert len(told) == 1 and "could not post a calls notification in <#C0GONE>" in told[0].text


async def test_replies_under_a_card_slack_refused_are_dropped_with_it(sandbox: Sandbox) -> None:
    deps, slack = sandbox.bot.deps, sandbox.slack
    slack.add_channel("C0GONE", "gone", is_member=False)
    await deps.outbox.add(card("C0GONE"), reply("call:c1:result", "the result", "C0GONE"))
    await deps.outbox.drain()
    assert slack.messages == []
    assert await deps.store.outbox.state_of("call:c1:result", "C0GONE") == (
        OutboxState.DROPPED,
        f"card {CARD} never posted",
    )


async def test_a_message_slack_keeps_failing_expires_instead_of_arriving_days_late(sandbox: Sandbox) -> None:
    deps, slack = sandbox.bot.deps, sandbox.slack
    slack.start_outage((500,))
    await deps.outbox.add(Delivery(key="late", channel="C1", text="stale news", ttl=600))
    for _ in range(5):
        await sandbox.advance(200)
        await deps.outbox.drain()
    slack.clear_faults()
    await sandbox.advance(60)
    await deps.outbox.drain()
    assert slack.messages == []
    assert await deps.store.outbox.state_of("late", "C1") == (OutboxState.DROPPED, "expired")


async def test_a_live_card_never_shows_states_that_pass_within_seconds(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    await outbox.add(card())
    await outbox.drain()

    def live(text: str) -> Delivery:
        return Delivery(
            key=f"{CARD}:update", channel="C1", text=text, op=Op.UPDATE, thread_of=CARD, min_interval=5
        )

    await outbox.add(live("ringing"))
    await outbox.drain()
    for text in ("allocated", "in progress"):
        await sandbox.advance(1)
        await outbox.add(live(text))
        await outbox.drain()
    assert [c.args.get("text") for c in slack.calls_to("chat.update")] == ["ringing"]
    await sandbox.advance(4)
    await outbox.drain()
    assert [c.args.get("text") for c in slack.calls_to("chat.update")] == ["ringing", "in progress"]


async def test_card_updates_stay_within_slacks_tier_3_budget(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    channels = [f"C{i:03d}" for i in range(80)]
    await outbox.add(*(card(channel) for channel in channels))
    await outbox.drain()
    assert len(slack.messages) == 80  # posts spread over 80 channels: each within its own channel's budget
    await outbox.add(*(update("new state", channel) for channel in channels))
    await outbox.drain()
    assert len(slack.calls_to("chat.update")) == 5  # the burst
    seconds = 0
    while len(slack.calls_to("chat.update")) < 80:
        await sandbox.advance(5)  # the running worker wakes about this often
        seconds += 5
        await outbox.drain()
    # Slack guarantees 50 a minute: never more in any rolling minute, so Slack never refused one.
    times = [c.at for c in slack.calls_to("chat.update")]
    assert max(sum(t <= u < t + 60 for u in times) for t in times) <= 50
    assert slack.rate_limited == []
    assert 100 <= seconds <= 120  # every card gets there, at Tier 3's pace (40 a minute after the burst)


async def test_final_card_states_spend_the_edit_budget_before_passing_ones(sandbox: Sandbox) -> None:
    """Thirty live cards show a passing state and thirty others end: every final state is edited before
    any passing one, and a card whose final state is known never spends an edit on a passing one."""
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    channels = [f"C{i:03d}" for i in range(60)]
    await outbox.add(*(card(channel) for channel in channels))
    await outbox.drain()
    assert len(slack.messages) == 60

    def state(text: str, channel: str, *, final: bool) -> Delivery:
        return card_update(CARD, channel, text, [], min_interval=5, final=final)

    # Card 0 ends before its passing state went out; card 1's final state is redrawn (a live figure
    # drawn after it) while it waits: it keeps its place among the final states.
    await outbox.add(
        *(state("in progress", channel, final=False) for channel in channels[:30]),
        *(state("ended", channel, final=True) for channel in channels[30:]),
        state("ended", channels[0], final=True),
        state("ended", channels[1], final=True),
        state("ended, redrawn", channels[1], final=False),
    )
    for _ in range(240):
        await outbox.drain()
        if len(slack.calls_to("chat.update")) >= 60:
            break
        await sandbox.advance(1)
    edits = [(c.args["channel"], c.args.get("text")) for c in slack.calls_to("chat.update")]
    assert len(edits) == 60  # one edit a card: none spent on a state already replaced
    first = {channel for channel, _ in edits[:32]}
    assert first == set(channels[30:]) | {channels[0], channels[1]}  # the final states, all of them first
    assert dict(edits)[channels[0]] == "ended" and dict(edits)[channels[1]] == "ended, redrawn"
    assert {text for _, text in edits[32:]} == {"in progress"}
    assert slack.rate_limited == []


async def test_posts_across_many_channels_keep_under_the_workspace_ceiling(tmp_path: Path) -> None:
    """Slack holds chat.postMessage to a workspace-wide ceiling too (the stand-in models it): 200 results
    in 100 channels go out within it, half of it at once, none refused."""
    async with Sandbox(tmp_path / "w.db", slack_workspace_posts_per_minute=120) as box:
        box.slack.tiers.workspace_posts = 120
        outbox, slack = box.bot.deps.outbox, box.slack
        await outbox.add(
            *(Delivery(key=f"r{i}", channel=f"C{i % 100:03d}", text=f"r{i}") for i in range(200))
        )
        await outbox.drain()
        assert 50 <= len(slack.messages) <= 60  # half the ceiling (less a few) at once: a burst
        for _ in range(180):
            if len(slack.messages) == 200:
                break
            await box.advance(1)
            await outbox.drain()
        times = [c.at for c in slack.calls_to("chat.postMessage")]
        assert len(slack.messages) == 200 and len(times) == 200  # every one, each tried once
        assert max(sum(t <= u < t + 60 for u in times) for t in times) <= 120
        assert slack.rate_limited == []


def dm_texts(slack: SlackStub, user: str) -> list[str]:
    return [m.text for m in slack.channel_messages("D" + user)]


async def test_what_queues_for_a_person_goes_as_one_message_listing_each(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    await outbox.add(Delivery(key="dm:ada:first", channel="@U0ADA", text="ada first"))
    await outbox.drain()
    assert dm_texts(slack, "U0ADA") == ["ada first"]  # a lone message goes at once, as it is
    await outbox.add(*(Delivery(key=f"dm:ada:{i}", channel="@U0ADA", text=f"ada {i}") for i in range(8)))
    await outbox.add(*(Delivery(key=f"dm:bo:{i}", channel="@U0BO", text=f"bo {i}") for i in range(2)))
    await outbox.drain()
    ada = dm_texts(slack, "U0ADA")
    assert len(ada) == 2 and ada[1].splitlines() == ["*8 updates*", *(f"• ada {i}" for i in range(8))]
    assert dm_texts(slack, "U0BO") == ["*2 updates*\n• bo 0\n• bo 1"]  # not held up behind Ada's
    assert await sandbox.bot.deps.store.outbox.count() == 0  # each one is delivered (inside the list)


async def test_a_message_with_blocks_keeps_its_place_and_goes_alone(sandbox: Sandbox) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a card"}}]
    await outbox.add(
        Delivery(key="dm:1", channel="@U0ADA", text="one"),
        Delivery(key="dm:2", channel="@U0ADA", text="two"),
        Delivery(key="dm:3", channel="@U0ADA", text="with blocks", blocks=blocks),
        Delivery(key="dm:4", channel="@U0ADA", text="four"),
    )
    await outbox.drain()
    assert dm_texts(slack, "U0ADA") == ["*2 updates*\n• one\n• two"]
    await sandbox.advance(dm_gap(2))  # two went as one: the next waits a little for more to join it
    await outbox.drain()
    assert dm_texts(slack, "U0ADA") == ["*2 updates*\n• one\n• two", "with blocks", "four"]


async def test_a_thousand_results_reach_their_person_in_a_handful_of_messages(sandbox: Sandbox) -> None:
    """1,000 calls of one person finish within a minute: at most 10 direct messages in the first five
    minutes, and every call is reachable from them (its line and thread link, in a message or its file)."""
    deps, outbox, slack = sandbox.bot.deps, sandbox.bot.deps.outbox, sandbox.slack
    cards = [Delivery(key=f"call:c{i}:card", channel="C1", text=f"card {i}") for i in range(1000)]
    await deps.store.outbox.add(cards)
    for i in range(1000):  # the cards are posted already (at Slack's pace, long before)
        await deps.store.notifications.claim(cards[i].key, "C1")
        await deps.store.notifications.record(cards[i].key, "C1", f"1700000000.{i:06d}")
    await deps.store.db.execute("UPDATE outbox SET state = 'sent' WHERE op = 'post'")
    for second in range(300):
        if second < 50:  # 20 a second for 50 seconds
            await outbox.add(
                *(
                    Delivery(
                        key=f"dm:call:c{i}",
                        channel="@U0ADA",
                        text=f"Your call c{i} completed.",
                        link_to=(f"call:c{i}:card", "C1"),
                    )
                    for i in range(second * 20, second * 20 + 20)
                )
            )
        await outbox.drain()
        await sandbox.advance(1)
    messages = slack.channel_messages("DU0ADA")
    assert 1 < len(messages) <= 10
    reachable = "\n".join(m.text for m in messages) + "\n".join(
        f.content.decode() for f in slack.files_in("DU0ADA")
    )
    for i in range(1000):
        assert f"Your call c{i} completed. · <https://" in reachable
        assert f"/archives/C1/p1700000000{i:06d}|open thread>" in reachable
    assert await deps.store.outbox.count() == 0


async def test_a_direct_message_slack_failed_holds_that_persons_later_ones_behind_it(
    sandbox: Sandbox,
) -> None:
    outbox, slack = sandbox.bot.deps.outbox, sandbox.slack
    slack.fail_next(
        "chat.postMessage", status=503, retry_after=None, error="service_unavailable", channel="DU0ADA"
    )
    await outbox.add(Delivery(key="dm:ada:approved", channel="@U0ADA", text="approved"))
    await outbox.add(Delivery(key="dm:ada:finished", channel="@U0ADA", text="finished"))
    await outbox.add(Delivery(key="dm:bo:hello", channel="@U0BO", text="hello"))
    await outbox.drain()
    assert dm_texts(slack, "U0ADA") == []  # "finished" never overtakes "approved"
    assert dm_texts(slack, "U0BO") == ["hello"]
    await outbox.add(Delivery(key="dm:ada:later", channel="@U0ADA", text="later"))
    await sandbox.advance(10)
    await outbox.drain()
    # The retry sends what the failed message held, no more (what came since goes next, on its own).
    assert dm_texts(slack, "U0ADA") == ["*2 updates*\n• approved\n• finished"]
    await sandbox.advance(dm_gap(2))
    await outbox.drain()
    assert dm_texts(slack, "U0ADA") == ["*2 updates*\n• approved\n• finished", "later"]


async def test_three_replicas_keep_to_one_slack_budget_together() -> None:
    """Slack counts the workspace's chat.update calls, not each process's: three outboxes on one PostgreSQL
    database share Slack's Tier 3 budget, so Slack never sees more than 50 in a minute nor refuses one."""
    async with postgres_schema() as url:
        await share_one_budget(url)


async def share_one_budget(url: str) -> None:
    clock = FakeClock()
    slack = SlackStub(clock=clock)
    await slack.start()
    stores = [await Store.open(url, clock) for _ in range(3)]
    try:
        outboxes = [
            Outbox(
                store,
                Notifier(make_slack_client(slack.bot_token, slack.api_url, retries=False), store, clock),
                clock,
                Random(n),
                owner=f"replica{n}",
            )
            for n, store in enumerate(stores)
        ]
        channels = [f"C{i:03d}" for i in range(90)]
        await outboxes[0].add(*(card(channel) for channel in channels))
        await asyncio.gather(*(outbox.drain() for outbox in outboxes))
        assert len(slack.messages) == 90
        await outboxes[1].add(*(update("new state", channel) for channel in channels))
        for _ in range(300):  # at most five minutes of the fake clock
            await asyncio.gather(*(outbox.drain() for outbox in outboxes))
            if len(slack.calls_to("chat.update")) == 90:
                break
            clock.advance(1)
        times = [c.at for c in slack.calls_to("chat.update")]
        assert len(times) == 90  # every card got there
        assert max(sum(t <= u < t + 60 for u in times) for t in times) <= 50
        assert slack.rate_limited == []
        assert {m.text for m in slack.messages} == {"new state"}
    finally:
        for store in stores:
            await store.close()
        await slack.stop()
