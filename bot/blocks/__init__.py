"""Block Kit builders over slack_sdk.models, and Slack's limits (`limits.py`): values in, messages and views
out, every text fitted with `bot.mrkdwn.fit`. Builders do no I/O (a batch's result file is written by
`bot/tracking/batch_results.py`)."""
