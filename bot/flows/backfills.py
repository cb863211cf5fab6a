"""Backfills: validate and expand what to extract from, confirm the billable count, start, report.

More than 100 calls are split into several requests (docs/bland.md, "Citation schemas and backfills") and tracked together under one
card. SMS conversations are answered synchronously and posted at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.bland.errors import (
    BlandError,
    BlandForbiddenError,
    BlandNotFoundError,
    BlandOutcomeUnknownError,
    BlandServerError,
)
from bot.blocks.backfills import INLINE_CALLS, BackfillCardInfo, backfill_card, results_json, sms_results
from bot.blocks.backfills import workflow_status as workflow_status_blocks
from bot.blocks.format import escape, plural
from bot.blocks.messages import notice
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, BatchApi, Kind, WorkflowState, card_key
from bot.errors import FormErrors, UserError
from bot.flows.batch_api import api_of
from bot.flows.cards import CARD_WAIT_SECONDS
from bot.flows.schemas import parse_definition
from bot.ids import BlockId
from bot.limits import FREE_TEXT_MAX_CHARS
from bot.permissions import Role
from bot.store.backfills import Backfill
from bot.store.outbox import Delivery, Op, OutboxState, card_update

log = logging.getLogger(__name__)

CALLS_PER_REQUEST = 100
MAX_CONVERSATIONS = 50
EXPANSION_SECONDS = 2.0  # a modal must be answered within 3 s
INLINE_SCHEMA_NAME = "Inline schema from Slack"
_SPLIT = re.compile(r"[\s,;]+")


def split_ids(text: str | None) -> list[str]:
    """Split ids pasted one per line or comma-separated; duplicates dropped, order kept."""
    return list(dict.fromkeys(part for part in _SPLIT.split(text or "") if part))


@dataclass(frozen=True)
class BackfillPlan:
    """What will be sent once confirmed."""

    schema_ids: list[str] = field(default_factory=list)
    schema_names: dict[str, str] = field(default_factory=dict)
    inline_schema: dict[str, Any] | None = None
    call_ids: list[str] = field(default_factory=list)
    batch_ids: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)

    @property
    def schema_count(self) -> int:
        """Return how many schemas each call runs through."""
        return 1 if self.inline_schema else len(self.schema_ids)

    @property
    def extractions(self) -> int:
        """Return calls × schemas: the billable unit."""
        return len(self.call_ids) * self.schema_count

    @property
    def labels(self) -> list[str]:
        """Return the schemas' names for people."""
        if self.inline_schema:
            return [str(self.inline_schema.get("name") or INLINE_SCHEMA_NAME)]
        return [self.schema_names.get(i) or i for i in self.schema_ids]

    def selector(self) -> dict[str, Any]:
        """Return the one schema selector Bland accepts (never schema with schema_ids)."""
        if self.inline_schema:
            return {"schema": self.inline_schema}
        if len(self.schema_ids) == 1:
            return {"schema_id": self.schema_ids[0]}
        return {"schema_ids": list(self.schema_ids)}

    def call_requests(self) -> list[dict[str, Any]]:
        """Return one request per 100 calls."""
        chunks = [
            self.call_ids[i : i + CALLS_PER_REQUEST] for i in range(0, len(self.call_ids), CALLS_PER_REQUEST)
        ]
        return [{**self.selector(), "call_ids": chunk} for chunk in chunks]

    def sms_request(self) -> dict[str, Any] | None:
        """Return the synchronous SMS request, if there are conversations."""
        return (
            {**self.selector(), "conversation_ids": list(self.conversation_ids)}
            if self.conversation_ids
            else None
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackfillPlan:
        """Rebuild a stored plan."""
        return cls(**data)


def _inline_schema(text: str) -> dict[str, Any]:
    """Parse an inline schema; its name goes inside the object, as Bland's inline form has it."""
    parsed = parse_definition(text, allow_structure=False)
    name = json.loads(text).get("name") if text.startswith("{") else None
    return {
        "name": name if isinstance(name, str) and name.strip() else INLINE_SCHEMA_NAME,
        "variables": parsed["variables"],
    }


async def _expand_batches(deps: Deps, batch_ids: list[str]) -> tuple[list[str], list[str]]:
    """Return the call ids of these batches, and the batch ids Bland did not know."""
    calls: list[str] = []
    unknown: list[str] = []
    for batch_id in batch_ids:
        if await api_of(deps, batch_id) is BatchApi.V2:
            found = [call.id async for call in deps.bland.list_pages(batch_id=batch_id) if call.id]
            if not found:
                unknown.append(batch_id)
            calls += found
            continue
        try:
            batch = await deps.bland.get_batch(batch_id, include_calls=False)
        except BlandNotFoundError:
            unknown.append(batch_id)
            continue
        ids = list(batch.analysis.call_ids) if batch.analysis else []
        calls += ids or [c.id for c in batch.call_data if c.id]
    return calls, unknown


async def prepare(deps: Deps, values: dict[str, Any], *, user: str, channel: str) -> tuple[str, BackfillPlan]:
    """Validate the modal (mirroring Bland's documented 400s), expand batches, and keep a draft plan."""
    errors: dict[str, str] = {}
    for block in (BlockId.INLINE_SCHEMA, BlockId.CALL_IDS, BlockId.CONVERSATION_IDS):
        typed = str(values.get(block) or "")
        if (
            len(typed) > FREE_TEXT_MAX_CHARS
        ):  # Slack's client stops there; a submission may come from anywhere
            errors[block] = f"{len(typed):,} characters; this field takes at most {FREE_TEXT_MAX_CHARS:,}."
    if errors:
        raise FormErrors(errors)
    raw_selected = values.get(BlockId.BACKFILL_SCHEMAS)
    selected = list(raw_selected) if isinstance(raw_selected, list) else split_ids(raw_selected)
    inline_text = str(values.get(BlockId.INLINE_SCHEMA) or "").strip()
    inline: dict[str, Any] | None = None
    if selected and inline_text:
        errors[BlockId.INLINE_SCHEMA] = "Choose saved schemas or paste an inline schema, not both."
    elif not selected and not inline_text:
        errors[BlockId.BACKFILL_SCHEMAS] = "Choose at least one schema, or paste an inline schema below."
    elif inline_text:
        try:
            inline = _inline_schema(inline_text)
        except ValueError as exc:
            errors[BlockId.INLINE_SCHEMA] = str(exc)
    call_ids = split_ids(values.get(BlockId.CALL_IDS))
    batch_ids = split_ids(values.get(BlockId.BACKFILL_BATCH))
    conversations = split_ids(values.get(BlockId.CONVERSATION_IDS))
    if not (call_ids or batch_ids or conversations):
        errors[BlockId.CALL_IDS] = "Give call IDs, a batch ID, or SMS conversation IDs."
    if len(conversations) > MAX_CONVERSATIONS:
        errors[BlockId.CONVERSATION_IDS] = (
            f"{len(conversations)} conversations; Bland takes at most {MAX_CONVERSATIONS} per backfill."
        )
    if batch_ids and not errors:
        try:
            expanded, unknown = await asyncio.wait_for(_expand_batches(deps, batch_ids), EXPANSION_SECONDS)
        except TimeoutError:
            raise FormErrors(
                {BlockId.BACKFILL_BATCH: "Bland was too slow to list the batch's calls. Try again."}
            ) from None
        except BlandError as exc:
            raise FormErrors({BlockId.BACKFILL_BATCH: exc.user_message}) from None
        if unknown:
            errors[BlockId.BACKFILL_BATCH] = (
                f"Bland does not know batch {', '.join(f'`{b}`' for b in unknown)}."
            )
        elif not expanded:
            errors[BlockId.BACKFILL_BATCH] = "That batch has no calls yet."
        call_ids = list(dict.fromkeys(call_ids + expanded))
    if errors:
        raise FormErrors(errors)
    known = {s.id: s.name for s in await deps.store.schemas.all() if s.name}
    plan = BackfillPlan(
        schema_ids=selected,
        schema_names={i: known[i] for i in selected if i in known},
        inline_schema=inline,
        call_ids=call_ids,
        batch_ids=batch_ids,
        conversation_ids=conversations,
    )
    backfill_id = uuid.uuid4().hex[:10]
    await deps.store.backfills.create_draft(backfill_id, requester=user, channel=channel, plan=asdict(plan))
    return backfill_id, plan


def card_info(deps: Deps, backfill: Backfill) -> BackfillCardInfo:
    """Assemble a backfill's card from its row."""
    plan = BackfillPlan.from_dict(backfill.plan)
    running = any(status == WorkflowState.RUNNING for status in backfill.workflows.values())
    end = deps.clock.now() if running or not backfill.workflows else backfill.updated_at
    return BackfillCardInfo(
        backfill_id=backfill.id,
        requester=backfill.requester,
        calls=len(plan.call_ids),
        conversations=len(plan.conversation_ids),
        schemas=plan.labels,
        workflows=backfill.workflows,
        elapsed=end - backfill.created_at,
    )


def backfill_card_key(backfill_id: str) -> str:
    """Return the key of a backfill's card."""
    return card_key("backfill", backfill_id)


async def card_now(deps: Deps, backfill_id: str, *, min_interval: float = 0.0) -> tuple[Delivery, ...]:
    """The card re-rendered from the stored state, as an update to queue (none for an unknown backfill)."""
    backfill = await deps.store.backfills.get(backfill_id)
    if backfill is None:
        return ()
    key = backfill_card_key(backfill_id)
    text, blocks = backfill_card(card_info(deps, backfill))
    return (card_update(key, backfill.channel, text, blocks, min_interval=min_interval),)


async def workflow_status(deps: Deps, workflow_id: str) -> tuple[str, list[Any]]:
    """Render a backfill workflow's current state for `/bland status`."""
    return workflow_status_blocks(await deps.bland.backfill_status(workflow_id))


def describe_failure(error: BlandError, plan: BackfillPlan, request: dict[str, Any]) -> str:
    """Explain a refused backfill: 403, 404 (naming ids), NO_RESOLVABLE_SCHEMAS, 500, or Bland's message."""
    text = " ".join([error.message, *error.messages])
    if isinstance(error, BlandForbiddenError):
        return (
            "Bland refused the backfill with 403: citation backfill is an enterprise feature, and this Bland "
            "account does not have it (or the calls belong to another organisation)."
        )
    if isinstance(error, BlandNotFoundError):
        if "NO_RESOLVABLE_SCHEMAS" in text:
            return (
                f"Bland could resolve none of the schemas (NO_RESOLVABLE_SCHEMAS): {escape(', '.join(plan.labels))}. "
                "Check the schema IDs with `/bland schemas`."
            )
        asked = [*request.get("call_ids", []), *request.get("conversation_ids", []), *plan.schema_ids]
        named = [i for i in asked if i in text] or asked[:10]
        more = "" if len(named) < len(asked) or len(asked) <= 10 else f" (and {len(asked) - 10} more)"
        return f"Bland could not find: {', '.join(f'`{escape(i)}`' for i in named)}{more}."
    if isinstance(error, BlandOutcomeUnknownError):
        return (
            f"Bland failed while starting the backfill ({escape(error.message)}). It may or may not have started; "
            "it was not retried, so nothing is billed twice. Check the calls' variables before running it again."
        )
    if isinstance(error, BlandServerError):
        return (
            f"Bland failed with {error.status_code} while starting the backfill. Try again in a few minutes."
        )
    return escape(error.user_message)


async def start(deps: Deps, backfill_id: str, *, user: str) -> str:
    """Send a confirmed plan once: SMS results at once, call workflows tracked under one card."""
    await deps.permissions.require(user, Role.OPERATOR, "start backfills")
    backfill = await deps.store.backfills.get(backfill_id)
    if backfill is None:
        raise UserError(f"There is no backfill `{backfill_id}`.")
    if backfill.requester != user:
        raise UserError("Only the person who prepared this backfill can start it.")
    if not await deps.store.backfills.claim(backfill_id):
        raise UserError("This backfill was already started.")
    plan = BackfillPlan.from_dict(backfill.plan)
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.BACKFILL_START,
        outcome=AuditOutcome.SUBMITTED,
        channel=backfill.channel,
        target=backfill_id,
        detail=f"{len(plan.call_ids)} calls, {len(plan.conversation_ids)} conversations, schemas {', '.join(plan.labels)}",
    )
    for schema_id in plan.schema_ids:
        await deps.store.schemas.remember(
            schema_id, name=plan.schema_names.get(schema_id), description=None, user=user, used=True
        )
    key = backfill_card_key(backfill_id)
    text, blocks = backfill_card(card_info(deps, backfill))
    await deps.outbox.add(Delivery(key=key, channel=backfill.channel, text=text, blocks=blocks))
    # Nothing billable before the card: a channel the bot cannot post in stops here.
    if await deps.outbox.wait_for(key, backfill.channel, timeout=CARD_WAIT_SECONDS) is OutboxState.DROPPED:
        found = await deps.store.outbox.state_of(key, backfill.channel)
        raise UserError(
            f"Nothing was sent: the bot cannot post in <#{backfill.channel}> ({found[1] if found else 'refused'}). "
            "Invite it with `/invite @bland`, then start the backfill again."
        )
    sms = plan.sms_request()
    if sms is not None:
        await _run_sms(deps, backfill, plan, sms)
    requests = plan.call_requests()
    for index, request in enumerate(requests, start=1):
        await _start_workflow(deps, backfill, plan, request, part=(index, len(requests)))
    async with deps.unit() as u:
        await u.deliver(*await card_now(deps, backfill_id))
        u.wake()
    parts = f" in {len(requests)} requests" if len(requests) > 1 else ""
    return f"Backfill `{backfill_id}` started{parts}: {plural(plan.extractions, 'extraction')}. Results arrive in its thread."


def _in_thread(backfill: Backfill, key: str, text: str, blocks: list[Any]) -> Delivery:
    return Delivery(
        key=f"backfill:{backfill.id}:{key}",
        channel=backfill.channel,
        text=text,
        blocks=blocks,
        thread_of=backfill_card_key(backfill.id),
    )


async def _refused(deps: Deps, backfill: Backfill, *, name: str, key: str, text: str) -> None:
    """Record a part Bland refused (or answered without a workflow id) as failed, and say why in the thread."""
    await deps.store.backfills.set_workflow(backfill.id, name, WorkflowState.FAILED)
    await deps.outbox.add(_in_thread(backfill, key, *notice(text, ":x:")))


async def _run_sms(deps: Deps, backfill: Backfill, plan: BackfillPlan, request: dict[str, Any]) -> None:
    try:
        result = await deps.bland.start_backfill(request)
    except BlandError as exc:
        why = f"SMS backfill refused. {describe_failure(exc, plan, request)}"
        await _refused(deps, backfill, name="sms", key="sms", text=why)
        return
    rows = [_in_thread(backfill, "sms", *sms_results(result.conversations))]
    if len(result.conversations) > INLINE_CALLS:  # the message shows only the first few
        rows.append(
            Delivery(
                key=f"backfill:{backfill.id}:sms-file",
                channel=backfill.channel,
                text="",
                op=Op.UPLOAD,
                thread_of=backfill_card_key(backfill.id),
                file={
                    "filename": f"backfill-{backfill.id}-sms.json",
                    "content": results_json(result.conversations),
                    "title": "SMS backfill results",
                },
            )
        )
    async with deps.unit() as u:
        await deps.store.backfills.set_workflow(backfill.id, "sms", WorkflowState.SMS_DONE)
        await u.deliver(*rows)


async def _start_workflow(
    deps: Deps,
    backfill: Backfill,
    plan: BackfillPlan,
    request: dict[str, Any],
    *,
    part: tuple[int, int],
) -> None:
    index, total = part
    name = f"part {index}/{total}" if total > 1 else "calls"
    try:
        started = await deps.bland.start_backfill(request)
    except BlandError as exc:
        why = f"Backfill {name} refused. {describe_failure(exc, plan, request)}"
        await _refused(deps, backfill, name=name, key=f"refused:{index}", text=why)
        return
    if not started.workflow_id:
        why = f"Backfill {name}: Bland answered without a workflow id."
        await _refused(deps, backfill, name=name, key=f"refused:{index}", text=why)
        return
    async with deps.unit():
        await deps.store.backfills.set_workflow(backfill.id, started.workflow_id, WorkflowState.RUNNING)
        # It reports under the backfill's card (its kind has no card of its own).
        await deps.tracker.track(
            deps,
            Kind.BACKFILL,
            started.workflow_id,
            backfill.channel,
            created_by=backfill.requester,
            data={
                "backfill_id": backfill.id,
                "part": index,
                "parts": total,
                "calls": len(request.get("call_ids") or []),
                "schema_names": plan.schema_names,
            },
        )
