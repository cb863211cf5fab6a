"""Citation schemas and backfills: /v1/citation_schemas and its backfill workflows."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from bot.sandbox import sim_content
from bot.sandbox.bland_sim.state import SimState, iso

log = logging.getLogger(__name__)


class CitationRoutes(SimState):
    """Citation schemas and backfills: /v1/citation_schemas and its backfill workflows."""

    async def _create_schema(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            return self._envelope(None, 400, ["name is required"])
        schema = body.get("schema") or {"variables": [], "groupings": [], "conditions": []}
        if not isinstance(schema, dict):
            return self._envelope(None, 400, ["schema must be an object"])
        schema_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        record = {
            "id": schema_id,
            "name": body["name"],
            "description": body.get("description"),
            "org_id": "org-sandbox",
            "created_at": iso(self.clock.now()),
            "schema": {
                "variables": schema.get("variables", []),
                "groupings": schema.get("groupings", []),
                "conditions": schema.get("conditions", []),
            },
        }
        self.schemas[schema_id] = record
        return self._envelope(record)

    def _schema_of(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The schema `?id=` names, or the documented 400 (no id) or 404 (not this org's, or none)."""
        schema_id = request.query.get("id")
        if not schema_id:
            return self._envelope(None, 400, ["id is required"])
        record = self.schemas.get(schema_id)
        return self._envelope(None, 404, ["Citation schema not found"]) if record is None else record

    async def _get_schema(self, request: web.Request) -> web.Response:
        record = self._schema_of(request)
        return record if isinstance(record, web.Response) else self._envelope(record)

    async def _update_schema(self, request: web.Request) -> web.Response:
        """`PATCH /v1/citation_schemas/?id=`: any of name, description and schema; schema replaces the
        whole configuration; at least one is needed."""
        record = self._schema_of(request)
        if isinstance(record, web.Response):
            return record
        body = await self._json(request)
        given: dict[str, Any] = {k: body[k] for k in ("name", "description", "schema") if k in body}
        if not given:
            return self._envelope(None, 400, ["Provide at least one of name, description or schema"])
        if "name" in given and (not isinstance(given["name"], str) or not given["name"].strip()):
            return self._envelope(None, 400, ["name must be a non-empty string"])
        if "schema" in given:
            if not isinstance(given["schema"], dict):
                return self._envelope(None, 400, ["schema must be an object"])
            given["schema"] = {
                key: given["schema"].get(key, []) for key in ("variables", "groupings", "conditions")
            }
        record.update(dict(given))
        return self._envelope(record)

    async def _list_schemas(self, request: web.Request) -> web.Response:
        """The list, each schema with its configuration inline (returned since 2026-06-15)."""
        if not self.config.list_schemas_endpoint:
            return web.json_response({"status": "error", "message": "Not found"}, status=404)
        items = [
            {k: s[k] for k in ("id", "name", "description", "created_at", "schema")}
            for s in self.schemas.values()
        ]
        return self._envelope(items)

    def _resolve_schemas(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(body.get("schema"), dict):
            inline = body["schema"]
            return [
                {
                    "id": "inline",
                    "name": inline.get("name"),
                    "schema": {"variables": inline.get("variables", []), "conditions": []},
                }
            ]
        ids = body.get("schema_ids") or ([body["schema_id"]] if body.get("schema_id") else [])
        return [self.schemas[i] for i in ids if i in self.schemas]

    def _validate_backfill(self, body: dict[str, Any]) -> list[str]:
        errors = []
        selectors = [k for k in ("schema_id", "schema_ids", "schema") if k in body]
        if not selectors:
            errors.append("One of schema_id, schema_ids or schema is required.")
        elif "schema_ids" in body and "schema" in body:
            errors.append("schema_ids cannot be combined with schema.")
        elif len(selectors) > 1:
            errors.append("Provide exactly one of schema_id, schema_ids or schema.")
        identifiers = [
            k
            for k in ("call_id", "call_ids", "conversation_id", "conversation_ids", "recording_url")
            if k in body
        ]
        if not identifiers:
            errors.append(
                "At least one identifier is required: call_id, call_ids, conversation_id, "
                "conversation_ids or recording_url."
            )
        for key in ("schema_ids", "call_ids", "conversation_ids"):
            if key in body and (not isinstance(body[key], list) or not body[key]):
                errors.append(f"{key} must be a non-empty array.")
        if isinstance(body.get("conversation_ids"), list) and len(body["conversation_ids"]) > 50:
            errors.append("conversation_ids accepts at most 50 conversations.")
        if "schema" in body and (not isinstance(body["schema"], dict) or not body["schema"].get("variables")):
            errors.append("schema must be an object with name and variables.")
        return errors

    def _extract(self, previous: dict[str, Any], schemas: list[dict[str, Any]]) -> dict[str, Any]:
        """Extract variables for each schema; a configured share fails (partial or failed)."""
        processed = []
        new: dict[str, Any] = {}
        for schema in schemas:
            if self.rng.random() < self.config.extraction_failure_rate:
                processed.append(
                    {
                        "schema_id": schema["id"],
                        "status": "failed",
                        "variables_extracted": 0,
                        "error": "Extraction failed: the model returned no usable output.",
                    }
                )
                continue
            variables = (schema.get("schema") or {}).get("variables", [])
            values = {
                v["name"]: sim_content.typed_value(self.rng, v["name"], v.get("type"))
                for v in variables
                if isinstance(v, dict) and v.get("name")
            }
            new.update(values)
            processed.append(
                {"schema_id": schema["id"], "status": "success", "variables_extracted": len(values)}
            )
        ok = sum(1 for p in processed if p["status"] == "success")
        status = "success" if ok == len(processed) else "failed" if ok == 0 else "partial"
        return {
            "status": status,
            "schemas_processed": processed,
            "variables_extracted_count": len(new),
            "previous_variables": dict(previous),
            "newly_extracted_variables": new,
            "final_variables": {**previous, **new},
        }

    async def _start_backfill(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        errors = self._validate_backfill(body)
        if errors:
            return web.json_response({"status": "error", "message": errors[0], "errors": errors}, status=400)
        if not self.config.enterprise:
            return web.json_response(
                {
                    "status": "error",
                    "message": "Citation backfill requires enterprise features on this account.",
                },
                status=403,
            )
        schemas = self._resolve_schemas(body)
        if not schemas:
            return web.json_response(
                {
                    "status": "error",
                    "code": "NO_RESOLVABLE_SCHEMAS",
                    "message": "NO_RESOLVABLE_SCHEMAS: none of the schema IDs could be resolved.",
                },
                status=404,
            )
        call_ids = list(body.get("call_ids") or ([body["call_id"]] if body.get("call_id") else []))
        missing = [cid for cid in call_ids if cid not in self.calls]
        if missing:
            return web.json_response(
                {
                    "status": "error",
                    "message": f"Calls not found: {', '.join(missing)}",
                    "missing_call_ids": missing,
                },
                status=404,
            )
        conversations = list(
            body.get("conversation_ids") or ([body["conversation_id"]] if body.get("conversation_id") else [])
        )
        conv_results = []
        for conv_id in conversations:
            previous = {"customer_name": "Jane"}
            result = self._extract(previous, schemas)
            status = {"success": "success", "partial": "success", "failed": "error"}[result["status"]]
            conv_results.append(
                {
                    "conversation_id": conv_id,
                    "status": status,
                    "variables_extracted": result["variables_extracted_count"],
                    "previous_variables": result["previous_variables"],
                    "newly_extracted_variables": result["newly_extracted_variables"],
                    "final_variables": result["final_variables"],
                    "error": None if status == "success" else "Extraction failed",
                }
            )
        if not call_ids:
            return web.json_response(
                {
                    "status": "complete",
                    "call_count": 0,
                    "conversation_count": len(conversations),
                    "schema_count": len(schemas),
                    "conversations": conv_results,
                }
            )
        now = self.clock.now()
        label = f"call-{call_ids[0]}" if len(call_ids) == 1 else f"batch:{uuid.uuid4()}"
        workflow_id = f"backfill:{label}:{int(now * 1000)}"
        self.workflows[workflow_id] = {
            "workflow_id": workflow_id,
            "run_id": str(uuid.uuid4()),
            "start": now,
            "call_ids": call_ids,
            "schemas": schemas,
            "outcome": self.config.next_workflow_outcome or "COMPLETED",
            "result": None,
        }
        self.config.next_workflow_outcome = None
        body_out: dict[str, Any] = {
            "status": "processing",
            "workflow_id": workflow_id,
            "call_count": len(call_ids),
            "schema_count": len(schemas),
            "total_combinations": len(call_ids) * len(schemas),
            "message": f"Citation backfill workflow started for {len(call_ids)} call(s) with {len(schemas)} "
            "schema(s)...",
        }
        if conv_results:
            body_out["conversations"] = conv_results
        return web.json_response(body_out, status=202)

    async def _backfill_status(self, request: web.Request) -> web.Response:
        workflow = self.workflows.get(request.match_info["workflow_id"])
        if workflow is None:
            return web.json_response({"status": "error", "message": "Workflow not found."}, status=404)
        now = self.clock.now()
        body: dict[str, Any] = {
            "workflow_id": workflow["workflow_id"],
            "run_id": workflow["run_id"],
            "start_time": iso(workflow["start"]),
        }
        close = workflow["start"] + self.config.backfill_seconds
        if now < close:
            body["status"] = "RUNNING"
            return web.json_response(body)
        body["status"] = workflow["outcome"]
        body["close_time"] = iso(close)
        if workflow["outcome"] == "COMPLETED":
            if workflow["result"] is None:
                workflow["result"] = self._run_workflow(workflow)
            body["result"] = workflow["result"]
        return web.json_response(body)

    def _run_workflow(self, workflow: dict[str, Any]) -> dict[str, Any]:
        results = []
        for call_id in workflow["call_ids"]:
            call = self.calls[call_id]
            result = self._extract(call.citation_variables, workflow["schemas"])
            call.citation_variables = result["final_variables"]
            results.append({"call_id": call_id, **result})
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("success", "partial", "failed")}
        extractions = [p for r in results for p in r["schemas_processed"]]
        status = (
            "success"
            if counts["success"] == len(results)
            else "failed"
            if counts["failed"] == len(results)
            else "partial"
        )
        return {
            "status": status,
            "calls": results,
            "summary": {
                "total_calls": len(results),
                "successful_calls": counts["success"],
                "partial_calls": counts["partial"],
                "failed_calls": counts["failed"],
                "total_schemas_processed": len(extractions),
                "successful_schema_extractions": sum(1 for p in extractions if p["status"] == "success"),
                "failed_schema_extractions": sum(1 for p in extractions if p["status"] != "success"),
            },
        }
