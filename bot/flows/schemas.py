"""Citation schemas: parse and validate definitions, create, list (with a fallback) and fetch."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.bland.errors import BlandError, BlandNotFoundError
from bot.bland.models import CitationSchema
from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome
from bot.errors import FormErrors
from bot.flows.audit import audited
from bot.ids import BlockId
from bot.limits import SCHEMA_NAME_MAX_CHARS
from bot.permissions import Role

log = logging.getLogger(__name__)

# The documented types (docs/bland.md, "Citation schemas and backfills"), in any case: the original
# documents write them in lower case, today's capitalised, with Array and Category added.
VARIABLE_TYPES = ("string", "number", "boolean", "array", "category")
OPERATORS = ("===",)  # the one documented condition operator
SHOWN_PROBLEMS = 5


def _variable(raw: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected an object with name, type and description.")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: every variable needs a name.")
        return None
    kind = raw.get("type", "string")
    if not isinstance(kind, str) or kind.lower() not in VARIABLE_TYPES:
        problems.append(f"{where} `{name}`: unknown type `{kind}`; use {', '.join(VARIABLE_TYPES)}.")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        problems.append(f"{where} `{name}`: the description must be text.")
        description = ""
    return {"name": name.strip(), "type": kind, "description": description.strip()}


def _lines(text: str, problems: list[str]) -> list[dict[str, Any]]:
    variables = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3 or not parts[0]:
            problems.append(f"Line {number}: expected `name | type | description`, got {line.strip()!r}.")
            continue
        raw = {"name": parts[0], "type": (parts[1] if len(parts) > 1 and parts[1] else "string").lower()}
        if len(parts) > 2:
            raw["description"] = parts[2]
        variable = _variable(raw, f"Line {number}", problems)
        if variable:
            variables.append(variable)
    return variables


def parse_definition(text: str, *, allow_structure: bool = True) -> dict[str, Any]:
    """Parse variables as `name | type | description` lines or a JSON schema object; raise ValueError.

    Checks duplicate names, unknown types, conditions on unknown variables and operators other than ===.
    """
    stripped = text.strip()
    problems: list[str] = []
    if not stripped:
        raise ValueError("Give at least one variable: `name | type | description`, one per line.")
    groupings: list[dict[str, Any]] = []
    conditions: list[dict[str, Any]] = []
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
        if isinstance(data.get("schema"), dict):
            data = data["schema"]
        raw_variables = data.get("variables")
        if not isinstance(raw_variables, list) or not raw_variables:
            raise ValueError('The JSON needs a non-empty "variables" list.')
        variables = [
            v for i, raw in enumerate(raw_variables) if (v := _variable(raw, f"variables[{i}]", problems))
        ]
        if not allow_structure and (data.get("groupings") or data.get("conditions")):
            problems.append(
                "An inline schema takes variables only; save a schema for groupings and conditions."
            )
        groupings = _groupings(data.get("groupings") or [], problems)
        conditions = _conditions(data.get("conditions") or [], problems)
    else:
        variables = _lines(stripped, problems)
    top = {v["name"] for v in variables}
    nested = [v for c in conditions for v in c["variables"]]
    seen: set[str] = set()
    for variable in [*variables, *nested]:
        key = variable["name"].lower()
        if key in seen:
            problems.append(f"`{variable['name']}` is defined twice; variable names must be unique.")
        seen.add(key)
    for condition in conditions:
        target = condition["condition"].get("variable")
        if target not in top:
            problems.append(f"A condition refers to `{target}`, which is not a variable of this schema.")
    every = top | {v["name"] for v in nested}
    for grouping in groupings:
        unknown = [name for name in grouping["variables"] if name not in every]
        if unknown:
            problems.append(f"Grouping `{grouping['name']}` lists unknown variables: {', '.join(unknown)}.")
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        raise ValueError(" ".join(problems[:SHOWN_PROBLEMS]) + (f" (and {more} more)" if more > 0 else ""))
    return {"variables": variables, "groupings": groupings, "conditions": conditions}


def _groupings(raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        problems.append('"groupings" must be a list.')
        return []
    groupings = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("variables"), list)
        ):
            problems.append(f"groupings[{i}]: expected {{name, variables: [names]}}.")
            continue
        grouping = {"name": item["name"], "variables": [str(v) for v in item["variables"]]}
        if item.get("description"):
            grouping["description"] = str(item["description"])
        groupings.append(grouping)
    return groupings


def _conditions(raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        problems.append('"conditions" must be a list.')
        return []
    conditions = []
    for i, item in enumerate(raw):
        condition = item.get("condition") if isinstance(item, dict) else None
        if not isinstance(condition, dict) or not isinstance(item.get("variables"), list):
            problems.append(
                f"conditions[{i}]: expected {{condition: {{variable, operator, value}}, variables: [...]}}."
            )
            continue
        operator = condition.get("operator")
        if operator not in OPERATORS:
            problems.append(
                f"conditions[{i}]: operator `{operator}` is not supported; the documented one is `===`."
            )
        if "value" not in condition:
            problems.append(f"conditions[{i}]: the condition needs a value.")
        nested = [
            v
            for j, r in enumerate(item["variables"])
            if (v := _variable(r, f"conditions[{i}].variables[{j}]", problems))
        ]
        conditions.append(
            {
                "condition": {
                    "variable": condition.get("variable"),
                    "operator": operator,
                    "value": str(condition.get("value")).lower()
                    if isinstance(condition.get("value"), bool)
                    else condition.get("value"),
                },
                "variables": nested,
            }
        )
    return conditions


@dataclass(frozen=True)
class SchemaForm:
    name: str
    description: str | None
    schema: dict[str, Any]


def parse_schema_form(values: dict[str, Any]) -> SchemaForm:
    """Validate the New citation schema modal; raise FormErrors keyed by block."""
    errors: dict[str, str] = {}
    name = str(values.get(BlockId.SCHEMA_NAME) or "").strip()
    if not name:
        errors[BlockId.SCHEMA_NAME] = "Give the schema a name."
    elif len(name) > SCHEMA_NAME_MAX_CHARS:
        errors[BlockId.SCHEMA_NAME] = f"At most {SCHEMA_NAME_MAX_CHARS} characters."
    schema: dict[str, Any] = {}
    try:
        schema = parse_definition(str(values.get(BlockId.SCHEMA_VARIABLES) or ""))
    except ValueError as exc:
        errors[BlockId.SCHEMA_VARIABLES] = str(exc)
    if errors:
        raise FormErrors(errors)
    description = str(values.get(BlockId.SCHEMA_DESCRIPTION) or "").strip() or None
    return SchemaForm(name=name, description=description, schema=schema)


async def create_schema(deps: Deps, form: SchemaForm, *, user: str, channel: str | None) -> CitationSchema:
    """Create the schema in Bland, remember it, and record it in the audit log."""
    await deps.permissions.require(user, Role.OPERATOR, "create citation schemas")
    created = await audited(
        deps,
        deps.bland.create_schema(form.name, description=form.description, schema=form.schema),
        actor=user,
        action=AuditAction.SCHEMA_CREATE,
        channel=channel,
        target=form.name,
    )
    if created.id:
        await deps.store.schemas.remember(
            created.id, name=created.name or form.name, description=form.description, user=user
        )
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.SCHEMA_CREATE,
        outcome=AuditOutcome.CREATED,
        channel=channel,
        target=created.id,
        detail=form.name,
    )
    return created


async def update_schema(
    deps: Deps, schema_id: str, form: SchemaForm, *, user: str, channel: str | None
) -> CitationSchema:
    """Replace a schema in Bland (PATCH: the whole configuration), and record it in the audit log."""
    await deps.permissions.require(user, Role.OPERATOR, "edit citation schemas")
    updated = await audited(
        deps,
        deps.bland.update_schema(schema_id, name=form.name, description=form.description, schema=form.schema),
        actor=user,
        action=AuditAction.SCHEMA_UPDATE,
        channel=channel,
        target=schema_id,
    )
    await deps.store.schemas.remember(schema_id, name=form.name, description=form.description, user=user)
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.SCHEMA_UPDATE,
        outcome=AuditOutcome.UPDATED,
        channel=channel,
        target=schema_id,
        detail=f"{form.name}: {len(form.schema['variables'])} variables",
    )
    return updated


def definition_text(schema: CitationSchema) -> str:
    """A schema's configuration as the modal takes it back: `name | type | description` lines when it has
    only variables, else the JSON object (groupings and conditions included)."""
    body = schema.body
    if body is None:
        return ""
    if (
        not body.groupings
        and not body.conditions
        and all("|" not in (v.description or "") for v in body.variables)
    ):
        return "\n".join(
            f"{v.name} | {v.type or 'string'}" + (f" | {v.description}" if v.description else "")
            for v in body.variables
        )
    return json.dumps(body.model_dump(exclude_none=True), indent=1, ensure_ascii=False)


async def get_schema(deps: Deps, schema_id: str) -> CitationSchema:
    """Fetch one schema for `/bland schema <id>`."""
    return await deps.bland.get_schema(schema_id)


CHOICES_SECONDS = 8.0  # the modal shows "loading" meanwhile; past this the IDs are typed instead
# The call and batch modals open straight away (a trigger_id lives 3 seconds): Bland gets this long.
QUICK_CHOICES_SECONDS = 1.2


async def schema_choices(deps: Deps, *, seconds: float = CHOICES_SECONDS) -> list[tuple[str, str]]:
    """Return (id, name) of the schemas a modal offers; none when Bland cannot list them in time (IDs are typed)."""
    try:
        known, _ = await asyncio.wait_for(list_schemas(deps), seconds)
    except (BlandError, TimeoutError):
        return []
    return [(s.id, s.name or s.id) for s in known if s.id]


async def list_schemas(deps: Deps) -> tuple[list[CitationSchema], bool]:
    """List schemas; when Bland has no list endpoint (404), the ones this bot created or used, flagged."""
    try:
        return await deps.bland.list_schemas(), False
    except BlandNotFoundError:
        known = await deps.store.schemas.all()
        return [
            CitationSchema.model_validate({"id": k.id, "name": k.name, "description": k.description})
            for k in known
        ], True
