"""Block Kit builders over slack_sdk.models, and Slack's limits (`limits.py`): text in, messages and views
out, every text fitted with `bot.mrkdwn.fit`. Builders do no I/O; the batch result file is written by
`bot/blocks/batches.py`'s `BatchResults` to a temporary file (it streams 10,000 rows in flat memory)."""
