"""Batch requests: freeze, approve (at most once), send (never twice), reconcile, expire, re-run.

One module a responsibility: `state` (load, move, fingerprint, card), `plan` (calling hours, waves, start
time, do-not-call), `approval` (request, approve, reject, cancel, expire), `send` (dispatch, split, send,
mark sent, reconcile), `chores` (reminders, housekeeping) and `rerun`. Callers use the names below.
"""

from bot.flows.batches.approval import (
    approve,
    cancel,
    cancel_waves,
    check_can_decide,
    expire,
    reject,
    request_batch,
)
from bot.flows.batches.chores import housekeeping, remind
from bot.flows.batches.plan import (
    Plan,
    hours_note,
    leave_out_listed,
    plan_at,
    plan_for,
    plan_of,
    ready_to_freeze,
    start_time,
)
from bot.flows.batches.rerun import rerun, rerun_choices, rerun_rows
from bot.flows.batches.send import dispatch, mark_sent, reconcile, send, split
from bot.flows.batches.state import (
    Audit,
    card_channel,
    card_delivery,
    describe_state,
    load_request,
    move,
    request_card,
)

__all__ = [
    "Audit",
    "Plan",
    "approve",
    "cancel",
    "cancel_waves",
    "card_channel",
    "card_delivery",
    "check_can_decide",
    "describe_state",
    "dispatch",
    "expire",
    "hours_note",
    "housekeeping",
    "leave_out_listed",
    "load_request",
    "mark_sent",
    "move",
    "plan_at",
    "plan_for",
    "plan_of",
    "ready_to_freeze",
    "reconcile",
    "reject",
    "remind",
    "request_batch",
    "request_card",
    "rerun",
    "rerun_choices",
    "rerun_rows",
    "send",
    "split",
    "start_time",
]
