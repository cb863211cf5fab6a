"""Slack-free operations: what the bot does, independent of how a person asked."""
