"""`blandbot check`: the effective configuration, and whether Slack and Bland answer."""

from __future__ import annotations

import time

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot.bland.client import BlandClient
from bot.bland.errors import BlandError
from bot.flows.batch_api import probe
from bot.flows.usage import count_usage
from bot.notifier import make_slack_client
from bot.settings import Settings


def _mask(value: object) -> str:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return f"set (…{secret[-4:]})" if len(secret) >= 12 else "set"
    if value is None or value == ():
        return "unset"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def describe(settings: Settings) -> list[str]:
    """Return `NAME = value` lines for every setting, secrets masked."""
    return [f"  {name.upper():<24} {_mask(getattr(settings, name))}" for name in Settings.model_fields]


async def batch_api_line(settings: Settings, bland: BlandClient) -> str:
    """Which batch API the bot uses and why; with BLAND_BATCH_API=auto Bland is asked (a read)."""
    if settings.bland_batch_api != "auto":
        return f"{settings.bland_batch_api} (BLAND_BATCH_API={settings.bland_batch_api})"
    api, why = await probe(bland, time.time())
    return f"{api.value} ({why})"


def warnings(settings: Settings) -> list[str]:
    """Return configuration problems that do not stop the bot but matter to people."""
    found = []
    if not settings.approver_users and not settings.admin_users:
        found.append(
            "no approvers configured: batch approvals are impossible (set APPROVER_USERS or ADMIN_USERS)"
        )
    if not settings.admin_users:
        found.append("no admins configured: `/bland audit` is unavailable (set ADMIN_USERS)")
    if settings.public_url and settings.bland_webhook_secret is None:
        found.append("PUBLIC_URL is set but BLAND_WEBHOOK_SECRET is not: every webhook will be refused (401)")
    if not settings.public_url:
        found.append("PUBLIC_URL unset: no Bland webhooks, results arrive by polling only")
    elif not settings.public_url.startswith("https://"):
        found.append(
            "PUBLIC_URL is not https: Bland refuses a call webhook that does not start with https://"
        )
    return found


async def run_check(settings: Settings) -> int:
    """Print the configuration and check both services; return 0 only if everything required works."""
    print("Configuration:")
    print("\n".join(describe(settings)))
    print(
        f"  transport: {'Socket Mode' if settings.socket_mode else f'HTTP on {settings.host}:{settings.port}'}"
    )
    failures = 0
    if settings.slack_bot_token is None:
        print("✗ Slack: SLACK_BOT_TOKEN is not set")
        failures += 1
    else:
        client = make_slack_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        try:
            auth = await client.auth_test()
            print(
                f"✓ Slack: auth.test ok as {auth.get('user')} in team {auth.get('team')} ({auth.get('team_id')})"
            )
        except SlackApiError as exc:
            print(f"✗ Slack: auth.test failed: {exc.response.get('error')}")
            failures += 1
        except Exception as exc:
            print(f"✗ Slack: cannot reach {settings.slack_api_url}: {type(exc).__name__}")
            failures += 1
    if not settings.socket_mode and settings.slack_signing_secret is None:
        print("✗ Slack: SLACK_SIGNING_SECRET is required in HTTP mode")
        failures += 1
    if settings.bland_api_key is None:
        print("✗ Bland: BLAND_API_KEY is not set")
        failures += 1
    else:
        bland = BlandClient(
            settings.bland_api_url, settings.bland_api_key.get_secret_value(), retry_attempts=1
        )
        try:
            listing = await bland.list_calls(limit=1)
            # total_count is in the documents' table but not in their example: say it only when sent.
            counted = (
                f" ({listing.total_count} calls on the account)" if listing.total_count is not None else ""
            )
            print(f"✓ Bland: GET /v1/calls ok{counted}")
            print(f"✓ Bland: batch API {await batch_api_line(settings, bland)}")
            me = await bland.account()
            balance = f"${me.balance:,.2f}" if me.balance is not None else "not given"
            print(f"✓ Bland: balance {balance}; estimates assume {settings.pricing.label}")
            caps = settings.caps
            if caps.any or caps.concurrent is not None:
                usage = await count_usage(bland, caps, time.time())
                used = f"; today {usage.today:,} calls, the last hour {usage.hour:,}, unfinished {usage.active:,}"
                print(f"✓ Bland: caps {caps.describe()}{used}")
        except BlandError as exc:
            print(f"✗ Bland: {exc.user_message}")
            failures += 1
        finally:
            await bland.aclose()
    for warning in warnings(settings):
        print(f"! {warning}")
    print("All required checks passed." if not failures else f"{failures} required check(s) failed.")
    return 0 if not failures else 1
