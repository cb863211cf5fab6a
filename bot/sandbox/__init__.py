"""Local stand-ins for Slack and Bland: they power `blandbot demo`, the tests and trying the bot for free."""
