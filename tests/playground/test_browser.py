"""The playground in a real browser (Debian's chromium driven by Playwright): what a new user does, end to end.

Each test starts the playground in-process (the simulator, the Slack stand-in, the bot and the page's server on
127.0.0.1:0) and drives the page the way a person does, by roles and names: the composer is "Message", the
persona picker "Acting as", a modal a dialog named by its title, inputs by their Block Kit labels. Waits are on
what the page shows, never on time. Set PLAYGROUND_SCREENSHOTS=docs to refresh the README's screenshots.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.sandbox.harness import Sandbox
from bot.sandbox.playground import playground_box, start_playground

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
# Chromium on a machine with no network: no first-run, sync or update traffic to be refused.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("PLAYGROUND_SCREENSHOTS")
WAIT = 20_000  # ms: how long the page may take to show what the simulated world does (seconds of it)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert HAS_CHROMIUM, "chromium is needed for the browser tests (apt-get install chromium)"
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    """The world behind the page (a test may make its Bland slower)."""
    return playground_box(str(tmp_path), speed=60.0)


@pytest.fixture
async def page(browser: Browser, box: Sandbox) -> AsyncIterator[Page]:
    playground, runner, url = await start_playground(box, "127.0.0.1", 0)
    watcher = asyncio.create_task(playground.watch())
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    await opened.goto(url)
    try:
        yield opened
    finally:
        await context.close()
        watcher.cancel()
        await playground.close()
        await runner.cleanup()
        await box.stop()
    assert errors == [], errors  # the page's own script never failed


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"playground-{name}.png"))


async def command(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("textbox", name="Message").press("Enter")


async def act_as(page: Page, person: str) -> None:
    await page.get_by_role("combobox", name="Acting as").select_option(label=person)


async def test_a_call_from_the_modal_to_its_transcript_in_the_thread(page: Page) -> None:
    await command(page, "/bland call")
    modal = page.get_by_role("dialog", name="Send a call")
    await expect(modal).to_be_visible()
    await modal.get_by_label("Phone number").fill("+1 (415) 555-0123")
    await modal.get_by_label("Task").fill(
        "Confirm tomorrow's 10:00 appointment and ask which insurer they use."
    )
    await shot(page, "call-modal")
    await modal.get_by_role("button", name="Send call").click()
    # The form says it is placing the call, then where its card is.
    await expect(modal).to_contain_text("Placed: the call's card is in #ops", timeout=WAIT)
    await modal.get_by_role("button", name="Done").click()
    await expect(modal).to_be_hidden()
    card = page.locator("#stream article").filter(has_text="Call to")
    await expect(card).to_contain_text("Completed", timeout=WAIT)
    await expect(card).to_contain_text("Answered by")
    await expect(card).not_to_contain_text("4155550123")  # masked
    await card.locator(".replies-link").click()
    thread = page.get_by_role("complementary", name="Thread")
    await expect(thread).to_contain_text("Callee:", timeout=WAIT)
    await expect(thread).to_contain_text("Summary")
    await shot(page, "call-thread")


async def test_a_bad_number_is_shown_on_its_field_and_the_form_stays_open(page: Page) -> None:
    await command(page, "/bland call")
    modal = page.get_by_role("dialog", name="Send a call")
    await modal.get_by_label("Phone number").fill("12")
    await modal.get_by_role("button", name="Send call").click()
    field = modal.get_by_label("Phone number")
    await expect(field).to_have_attribute("aria-invalid", "true", timeout=WAIT)
    await expect(modal.get_by_role("alert").filter(has_text="number")).to_be_visible()
    await expect(field).to_have_value("12")  # what was typed is kept
    await shot(page, "modal-error")
    await modal.get_by_role("button", name="Cancel").click()
    await expect(modal).to_be_hidden()


async def test_a_batch_requested_by_alice_and_approved_by_bob_runs_to_its_summary_and_file(
    page: Page, tmp_path: Path
) -> None:
    listing = tmp_path / "renewals.csv"
    rows = "phone,name,plan\n+14155550100,Ada,gold\n+14155550101,Grace,silver\n+14155550102,Alan,gold\n"
    await asyncio.to_thread(listing.write_text, rows)
    await command(page, "/bland batch")
    modal = page.get_by_role("dialog", name="Request a batch")
    await expect(modal).to_be_visible()
    await modal.get_by_label("Label", exact=True).fill("Renewals")
    await modal.get_by_label("Prompt", exact=True).fill(
        "Hi {{name}}, your {{plan}} plan renews next week: may we renew it?"
    )
    # The list comes from the computer, through the form's file input, as a person picks a file.
    upload = modal.get_by_label("Recipients (CSV file)")
    await upload.set_input_files(str(listing))
    await expect(upload).to_have_attribute("data-uploaded", "1")
    await modal.get_by_role("button", name="Ask for approval").click()
    await expect(modal).to_be_hidden(timeout=WAIT)
    await page.get_by_role("button", name="# call-approvals").click()
    card = page.locator("#stream article").filter(has_text="asks to send")
    await expect(card).to_contain_text("Renewals")
    await expect(card.get_by_role("button", name="Approve")).to_be_visible()
    await shot(page, "approval-card")
    # Alice cannot approve her own request; Bob can.
    await act_as(page, "Bob (approver)")
    await card.get_by_role("button", name="Approve").click()
    confirm = page.get_by_role("alertdialog", name="Approve this batch?")
    await expect(confirm).to_contain_text("3 calls to real numbers")
    await confirm.get_by_role("button", name="Approve and send").click()
    await expect(card).to_contain_text("Approved by", timeout=WAIT)
    await expect(card).to_contain_text("Completed", timeout=WAIT)
    await expect(card).to_contain_text("3 calls:")
    await shot(page, "batch-card")
    await card.locator(".replies-link").click()
    thread = page.get_by_role("complementary", name="Thread")
    await expect(thread).to_contain_text("Batch finished")
    download = thread.get_by_role("link", name="Download batch-")
    await expect(download).to_be_visible()
    async with page.expect_download() as waiting:
        await download.click()
    saved = await (await waiting.value).path()
    lines = (await asyncio.to_thread(Path(str(saved)).read_text)).splitlines()
    assert lines[0].startswith("phone,name,plan,call_id") and len(lines) == 4
    assert "Ada" in lines[1] and "4155550100" not in "".join(lines)


async def test_the_home_tab_shows_the_dashboard_for_the_person_acting(page: Page) -> None:
    await act_as(page, "Bob (approver)")
    await page.get_by_role("button", name="Home").click()
    stream = page.get_by_role("log", name="Messages")
    await expect(stream).to_contain_text("Bland operations console", timeout=WAIT)
    await expect(stream).to_contain_text("Waiting for your approval")
    await expect(stream).to_contain_text("Today")
    await expect(stream.get_by_role("button", name="Send a call")).to_be_visible()
    await shot(page, "home")
    await stream.get_by_role("button", name="Send a call").click()
    await expect(page.get_by_role("dialog", name="Send a call")).to_be_visible()


async def test_a_running_batch_is_stopped_from_its_card_by_its_requester(page: Page, box: Sandbox) -> None:
    box.sim.config.talk_seconds = 3000  # every call lasts fifty minutes of Bland's time: the batch runs on
    await command(page, "/bland batch")
    modal = page.get_by_role("dialog", name="Request a batch")
    await modal.get_by_label("Label", exact=True).fill("Slow list")
    await modal.get_by_label("Prompt", exact=True).fill("Hi {{name}}.")
    await modal.get_by_label("…or paste the recipients as CSV").fill(
        "phone,name\n" + "\n".join(f"+1415555{i:04d},Person {i}" for i in range(100, 106))
    )
    await modal.get_by_role("button", name="Ask for approval").click()
    await expect(modal).to_be_hidden(timeout=WAIT)
    await page.get_by_role("button", name="# call-approvals").click()
    card = page.locator("#stream article").filter(has_text="asks to send")
    await act_as(page, "Bob (approver)")
    box.sim.clock.set_speed(
        1
    )  # Bland in real time now: its calls take minutes, so the batch is still running
    await card.get_by_role("button", name="Approve").click()
    await (
        page.get_by_role("alertdialog", name="Approve this batch?")
        .get_by_role("button", name="Approve and send")
        .click()
    )
    await expect(card.get_by_role("button", name="Stop batch")).to_be_visible(timeout=WAIT)
    await act_as(page, "Alice (operator)")  # operators stop batches (an approver alone may not)
    await card.get_by_role("button", name="Stop batch").click()
    confirm = page.get_by_role("alertdialog", name="Stop this batch?")
    await confirm.get_by_role("button", name="Stop batch").click()
    await expect(page.locator("#stream")).to_contain_text("Stopping batch", timeout=WAIT)  # her answer
    await expect(card).to_contain_text("Stopped", timeout=WAIT)
    await expect(card).to_contain_text("stopped by @Alice")
    await expect(card.get_by_role("button", name="Stop batch")).to_have_count(0)
