"""Pure Block Kit builders over slack_sdk.models (they validate Slack's limits)."""
