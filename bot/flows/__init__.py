"""What the bot does, whoever asked: each flow takes `Deps`, changes state through a unit of work, and
returns what to tell the person (listeners in `handlers/` decide where: modal, ephemeral, thread)."""
