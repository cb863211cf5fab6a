"""One typed async client for the Bland endpoints the bot uses (docs/bland.md)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import ijson
import stamina

from bot.bland.budget import NoBudget, Priority
from bot.bland.errors import (
    BlandAuthError,
    BlandBadResponseError,
    BlandConnectionError,
    BlandError,
    BlandForbiddenError,
    BlandNotFoundError,
    BlandOutcomeUnknownError,
    BlandRateLimitedError,
    BlandRequest,
    BlandResponse,
    BlandServerError,
    BlandValidationError,
    RecordingNotFoundError,
)
from bot.bland.models import (
    Account,
    BackfillStarted,
    BackfillStatus,
    Batch,
    BatchCreated,
    BatchList,
    BatchLog,
    BatchMeta,
    Call,
    CallList,
    CitationSchema,
    Recording,
    RecordingAudio,
    SendCallResult,
    StopResult,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_RETRY_AFTER = 30.0
# The most of a recording the bot reads (a 30-minute MP3 is about 15 MB; Slack takes files far larger).
RECORDING_MAX_BYTES = 100_000_000
# Rows per page when calls must be counted by listing them (Bland's maximum `limit`).
COUNT_PAGE = 1000
# What is read beside the event loop, not on it: answers longer than this, lists of more calls than this.
OFF_LOOP_BYTES = 100_000
OFF_LOOP_CALLS = 200


def _path(value: str) -> str:
    # Keeps ':' (workflow ids) and '$' (batch ids) as the docs show them; protects against / ? #.
    return quote(str(value), safe=":$")


def _priority(method: str, path: str) -> Priority:
    """Sends and stops first, then a call's own read (done once it ended), then lists and progress reads."""
    if method != "GET":
        return Priority.SEND
    parts = path.strip("/").split("/")
    return Priority.RESULT if len(parts) == 3 and parts[:2] == ["v1", "calls"] else Priority.SAFETY


def _data(body: Any, where: BlandRequest) -> Any:
    """The `data` of a `{data, errors}` reply (v2 batches): errors in a 2xx body are a refusal."""
    if not isinstance(body, dict) or "data" not in body:
        raise BlandBadResponseError(f"{where}: reply has no data", request=where)
    if body.get("errors"):
        raise BlandValidationError(
            "; ".join(_messages(body)) or "refused", messages=_messages(body), request=where
        )
    return body["data"]


def _retry_backoff(exc: Exception) -> bool | float:
    """Decide whether a read is retried, and honour Retry-After when Bland sends it."""
    if isinstance(exc, BlandRateLimitedError):
        return min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after is not None else True
    return isinstance(exc, BlandError) and exc.retryable


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _messages(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        found += [e if isinstance(e, str) else json.dumps(e) for e in errors]
    elif isinstance(errors, (str, dict)):
        found.append(errors if isinstance(errors, str) else json.dumps(errors))
    for key in ("message", "error", "code"):
        value = body.get(key)
        if isinstance(value, str) and value and value.lower() != "success" and value not in found:
            found.insert(0, value)
    return found


def _body_says_error(body: Any) -> bool:
    """Detect failure reported in a 2xx body (docs/bland.md, "Transport" and "Call statuses")."""
    if not isinstance(body, dict):
        return False
    status = body.get("status")
    # Only "error" marks a failed request: "FAILED" is also a backfill workflow's state (§15).
    if isinstance(status, str) and status.lower() == "error":
        return True
    return isinstance(status, int) and status >= 400


class Budget(Protocol):
    """What the client spends before each request (bot/bland/budget.py)."""

    async def spend(self, priority: Priority) -> float: ...

    async def hold(self, seconds: float | None) -> None: ...


class BlandClient:
    """Async client over httpx. Reads and stops are retried by policy; dialling requests never."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_attempts: int = 4,
        on_response: Callable[[str, str, int | str], None] | None = None,
        budget: Budget | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None
        self._headers = {"authorization": api_key, "content-type": "application/json"}
        self._retry_attempts = retry_attempts
        # Told of every answer (method, path, HTTP status, or "error" when none came): metrics.
        self._on_response = on_response or (lambda method, path, status: None)
        # Every request spends Bland's shared request budget first (bot/bland/budget.py).
        self.budget: Budget = budget or NoBudget()

    async def aclose(self) -> None:
        """Close the underlying HTTP client if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    # -- transport -----------------------------------------------------------------------------

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        body: Any,
        dials: bool,
        headers: dict[str, str] | None = None,
        spent: bool = False,
    ) -> Any:
        url = f"{self._base_url}{path}"
        sent = {**self._headers, **headers} if headers else self._headers
        if not spent:
            await self.budget.spend(_priority(method, path))
        try:
            response = await self._http.request(method, url, params=params, json=body, headers=sent)
        except httpx.TransportError:
            self._on_response(method, path, "error")
            raise
        self._on_response(method, path, response.status_code)
        if response.status_code == 429:
            await self.budget.hold(_retry_after(response))
        if len(response.content) > OFF_LOOP_BYTES:  # a page of a thousand calls: parsed beside the loop
            return await asyncio.to_thread(self._parse, method, path, response, dials=dials)
        return self._parse(method, path, response, dials=dials)

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        body: Any,
        dials: bool,
        headers: dict[str, str] | None = None,
        spent: bool = False,
    ) -> Any:
        try:
            return await self._exchange(
                method, path, params=params, body=body, dials=dials, headers=headers, spent=spent
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached Bland, so nothing was dialled.
            raise BlandConnectionError(
                f"cannot reach Bland: {type(exc).__name__}", request=BlandRequest(method, path)
            ) from None
        except httpx.TransportError as exc:
            if dials:
                raise BlandOutcomeUnknownError(
                    f"{method} {path}: {type(exc).__name__}", request=BlandRequest(method, path)
                ) from None
            raise BlandConnectionError(
                f"{method} {path}: {type(exc).__name__}", request=BlandRequest(method, path)
            ) from None

    def _parse(self, method: str, path: str, response: httpx.Response, *, dials: bool) -> Any:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        messages = _messages(body)
        summary = messages[0] if messages else f"HTTP {status}"
        where = BlandRequest(method, path)
        answered = BlandResponse.of(status, response.text)
        if status == 401:
            raise BlandAuthError(f"{where}: {summary}", response=answered, messages=messages, request=where)
        if status == 403:
            raise BlandForbiddenError(summary, response=answered, messages=messages, request=where)
        if status == 404:
            raise BlandNotFoundError(summary, response=answered, messages=messages, request=where)
        if status == 429:
            raise BlandRateLimitedError(
                f"{where}: rate limited",
                retry_after=_retry_after(response),
                request=where,
                response=answered,
                messages=messages,
            )
        if status >= 500:
            if dials:
                raise BlandOutcomeUnknownError(f"{where}: HTTP {status}", response=answered, request=where)
            raise BlandServerError(
                f"{where}: HTTP {status}", response=answered, messages=messages, request=where
            )
        if status >= 400:
            raise BlandValidationError(summary, response=answered, messages=messages, request=where)
        if body is None or not isinstance(body, (dict, list)):
            if dials:
                raise BlandOutcomeUnknownError(
                    f"{where}: unreadable reply (HTTP {status})", response=answered, request=where
                )
            raise BlandBadResponseError(
                f"{where}: reply is not JSON (HTTP {status})", response=answered, request=where
            )
        if _body_says_error(body):
            raise BlandValidationError(summary, response=answered, messages=messages, request=where)
        return body

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        dials: bool = False,
        headers: dict[str, str] | None = None,
        spent: bool = False,
    ) -> Any:
        if dials:
            return await self._send_once(method, path, params=params, body=body, dials=True, spent=spent)
        async for attempt in stamina.retry_context(
            on=_retry_backoff, attempts=self._retry_attempts, timeout=60.0, wait_initial=0.5, wait_max=8.0
        ):
            with attempt:
                return await self._send_once(
                    method, path, params=params, body=body, dials=False, headers=headers
                )
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    @staticmethod
    def _bools(params: dict[str, Any]) -> dict[str, Any]:
        return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}

    # -- calls ---------------------------------------------------------------------------------

    async def send_call(self, payload: dict[str, Any]) -> SendCallResult:
        """Send one call. Never retried: an ambiguous failure raises BlandOutcomeUnknownError."""
        body = await self._request("POST", "/v1/calls", body=payload, dials=True)
        result = SendCallResult.model_validate(body)
        if not result.call_id:
            raise BlandOutcomeUnknownError("POST /v1/calls: accepted without a call_id")
        return result

    async def get_call(self, call_id: str) -> Call:
        """Fetch one call with its transcript, summary and analysis."""
        return Call.model_validate(await self._request("GET", f"/v1/calls/{_path(call_id)}"))

    async def list_calls(self, **filters: Any) -> CallList:
        """List calls; filters are GET /v1/calls query parameters (booleans sent lowercase).

        A long page is read into models beside the event loop, which keeps answering Slack meanwhile."""
        body = await self._request("GET", "/v1/calls", params=self._bools(filters))
        calls = body.get("calls") if isinstance(body, dict) else None
        if isinstance(calls, list) and len(calls) > OFF_LOOP_CALLS:
            return await asyncio.to_thread(CallList.model_validate, body)
        return CallList.model_validate(body)

    async def count_calls(self, *, cap: int, **filters: Any) -> int:
        """Count the calls matching `filters`, up to `cap`.

        `total_count` answers at once where Bland sends it; the documents' own example omits it (only
        `count`, the rows of this page), so without it the light list is paged, 1,000 rows at a time, until
        a short page or `cap` rows.
        """
        counted = 0
        while counted < cap:
            page = await self.list_calls(
                **filters, limit=COUNT_PAGE, **{"from": counted, "to": counted + COUNT_PAGE}
            )
            if page.total_count is not None:
                return min(page.total_count, cap)
            rows = page.count if page.count is not None else len(page.calls)
            counted += rows
            if rows < COUNT_PAGE:
                break
        return min(counted, cap)

    async def list_pages(self, **filters: Any) -> AsyncIterator[Call]:
        """Yield every call matching `filters` (light rows, no transcripts), a page of 1,000 at a time."""
        start = 0
        while True:
            page = await self.list_calls(
                **filters, ascending=True, limit=COUNT_PAGE, **{"from": start, "to": start + COUNT_PAGE}
            )
            for call in page.calls:
                yield call
            start += len(page.calls)
            if len(page.calls) < COUNT_PAGE:
                return

    async def get_recording(self, call_id: str) -> Recording:
        """Ask for a call's recording as a link (`accept: application/json`); 404 when there is none."""
        path = f"/v1/calls/{_path(call_id)}/recording"
        return Recording.model_validate(
            await self._request("GET", path, headers={"accept": "application/json"})
        )

    async def recording_audio(self, call_id: str, *, max_bytes: int = RECORDING_MAX_BYTES) -> RecordingAudio:
        """A call's recording as MP3 (`GET /v1/recordings/{id}`, asked with `content-type: audio/mpeg`; WAV
        is its default). A missing one answers `{data: null, errors: [{error: "CALL_RECORDING_NOT_FOUND"}]}`
        with a status the documents do not give: raised as RecordingNotFoundError, whatever the status.
        Read as a stream, never more than `max_bytes`."""
        path = f"/v1/recordings/{_path(call_id)}"
        where = BlandRequest("GET", path)
        headers = {**self._headers, "content-type": "audio/mpeg", "accept": "audio/mpeg"}
        await self.budget.spend(Priority.RESULT)
        try:
            async with self._http.stream("GET", f"{self._base_url}{path}", headers=headers) as response:
                self._on_response("GET", path, response.status_code)
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if 200 <= response.status_code < 300 and kind.startswith("audio/"):
                    content = b""
                    async for chunk in response.aiter_bytes():
                        content += chunk
                        if len(content) > max_bytes:
                            raise BlandBadResponseError(
                                f"{where}: the recording is over {max_bytes // 1_000_000} MB", request=where
                            )
                    return RecordingAudio(content=content, content_type=kind)
                await response.aread()
                try:
                    body = response.json()
                except ValueError:
                    body = None
                codes = [e.get("error") for e in (body or {}).get("errors") or [] if isinstance(e, dict)]
                if "CALL_RECORDING_NOT_FOUND" in codes:
                    raise RecordingNotFoundError(
                        "Call recording not found",
                        request=where,
                        response=BlandResponse.of(response.status_code, response.text),
                    )
                if response.status_code == 429:
                    await self.budget.hold(_retry_after(response))
                self._parse("GET", path, response, dials=False)
                raise BlandBadResponseError(
                    f"{where}: the answer is not audio ({kind or 'no content type'})", request=where
                )
        except httpx.TransportError as exc:
            self._on_response("GET", path, "error")
            raise BlandConnectionError(f"{where}: {type(exc).__name__}", request=where) from None

    async def account(self) -> Account:
        """`GET /v1/me`: the account's status, balance and refill setting."""
        return Account.model_validate(await self._request("GET", "/v1/me"))

    async def stop_call(self, call_id: str) -> StopResult:
        """Stop one live call (idempotent, so retried like a read)."""
        return StopResult.model_validate(await self._request("POST", f"/v1/calls/{_path(call_id)}/stop"))

    async def stop_all_calls(self) -> StopResult:
        """Stop every active call on the account."""
        return StopResult.model_validate(await self._request("POST", "/v1/calls/active/stop"))

    # -- batches -------------------------------------------------------------------------------

    async def send_batch(self, payload: dict[str, Any], *, spent: bool = False) -> BatchCreated:
        """Send a batch. Never retried; only `message == "success"` counts as accepted.

        `spent`: the caller took the request's share of the budget already (before the state that says
        "sending", so that no wait falls between that state and the request)."""
        body = await self._request("POST", "/v1/batches", body=payload, dials=True, spent=spent)
        result = BatchCreated.model_validate(body)
        if (result.message or "").lower() != "success":
            raise BlandValidationError(result.message or "batch refused", messages=_messages(body))
        if not result.batch_id:
            raise BlandOutcomeUnknownError("POST /v1/batches: accepted without a batch_id")
        return result

    async def list_batches(self, **filters: Any) -> BatchList:
        """List batches (no progress per batch: fetch details for that)."""
        return BatchList.model_validate(
            await self._request("GET", "/v1/batches", params=self._bools(filters))
        )

    async def get_batch(
        self,
        batch_id: str,
        *,
        include_calls: bool = False,
        include_transcripts: bool = False,
        include_analysis: bool = True,
    ) -> Batch:
        """Fetch one batch; calls and transcripts only when asked."""
        params = self._bools(
            {
                "include_calls": include_calls,
                "include_transcripts": include_transcripts and include_calls,
                "include_analysis": include_analysis,
            }
        )
        return Batch.model_validate(
            await self._request("GET", f"/v1/batches/{_path(batch_id)}", params=params)
        )

    async def batch_calls(self, batch_id: str) -> AsyncIterator[Call]:
        """Yield a batch's calls, with transcripts, one at a time as the reply arrives.

        A 10,000-call batch read is tens of megabytes of JSON; parsing it as a stream keeps one call in
        memory at a time. Not retried here: a reply cut short raises, and the caller reads it again later.
        """
        path = f"/v1/batches/{_path(batch_id)}"
        where = BlandRequest("GET", path)
        params = self._bools({"include_calls": True, "include_transcripts": True, "include_analysis": False})
        calls = ijson.sendable_list()
        status = ijson.sendable_list()
        await self.budget.spend(Priority.RESULT)
        parse_calls = ijson.items_coro(calls, "call_data.item", use_float=True)
        parse_status = ijson.items_coro(status, "status", use_float=True)
        try:
            async with self._http.stream(
                "GET", f"{self._base_url}{path}", params=params, headers=self._headers
            ) as response:
                self._on_response("GET", path, response.status_code)
                if not 200 <= response.status_code < 300:
                    await response.aread()
                    self._parse("GET", path, response, dials=False)
                    raise BlandBadResponseError(
                        f"{where}: HTTP {response.status_code}",
                        request=where,
                        response=BlandResponse(response.status_code, ""),
                    )
                async for chunk in response.aiter_bytes():
                    parse_calls.send(chunk)
                    parse_status.send(chunk)
                    if status and str(status[0]).lower() == "error":
                        raise BlandValidationError(f"{where}: the reply says error", request=where)
                    for item in calls:
                        yield Call.model_validate(item)
                    del calls[:]
                parse_calls.close()
                parse_status.close()
                for item in calls:
                    yield Call.model_validate(item)
        except ijson.JSONError:
            raise BlandBadResponseError(f"{where}: reply is not JSON", request=where) from None
        except httpx.TransportError as exc:
            self._on_response("GET", path, "error")
            raise BlandConnectionError(f"{where}: {type(exc).__name__}", request=where) from None

    async def stop_batch(self, batch_id: str) -> StopResult:
        """Stop a batch's pending calls. A non-success status may mean it had already finished."""
        path = f"/v1/batches/{_path(batch_id)}/stop"
        try:
            return StopResult.model_validate(await self._request("POST", path))
        except BlandValidationError as exc:
            return StopResult(status="error", message=exc.message)

    # -- batches, v2 (what Bland documents today) -------------------------------------------------

    async def probe_batches_v2(self) -> bool:
        """Whether Bland answers the v2 batch list (a read that cannot dial): True for an answer, False for
        a 404. Other failures raise: they say nothing about which API Bland speaks."""
        try:
            await self._request("GET", "/v2/batches/list", params={"take": 1, "skip": 0})
        except BlandNotFoundError:
            return False
        return True

    async def create_batch_v2(self, payload: dict[str, Any], *, spent: bool = False) -> str:
        """`POST /v2/batches/create`, never retried; returns the batch id (a UUID).

        Errors in the reply's body are a refusal (nothing dialled); an answer with neither errors nor a
        batch id is an unknown outcome, as for any send. `spent` as for `send_batch`."""
        where = BlandRequest("POST", "/v2/batches/create")
        body = await self._request("POST", where.path, body=payload, dials=True, spent=spent)
        if isinstance(body, dict) and body.get("errors"):
            raise BlandValidationError(
                "; ".join(_messages(body)) or "batch refused", messages=_messages(body), request=where
            )
        data = body.get("data") if isinstance(body, dict) else None
        batch_id = data.get("batch_id") if isinstance(data, dict) else None
        if not isinstance(batch_id, str) or not batch_id:
            raise BlandOutcomeUnknownError(f"{where}: accepted without a batch_id", request=where)
        return batch_id

    async def list_batches_v2(self, *, take: int, skip: int = 0) -> list[BatchMeta]:
        """One page of `GET /v2/batches/list` (metadata only: no status, no counts)."""
        where = BlandRequest("GET", "/v2/batches/list")
        data = _data(await self._request("GET", where.path, params={"take": take, "skip": skip}), where)
        return [BatchMeta.model_validate(item) for item in data or [] if isinstance(item, dict)]

    async def get_batch_v2(self, batch_id: str) -> BatchMeta:
        """`GET /v2/batches/{id}`: the batch's metadata (404 when Bland does not know it)."""
        where = BlandRequest("GET", f"/v2/batches/{_path(batch_id)}")
        data = _data(await self._request("GET", where.path), where)
        return BatchMeta.model_validate(data if isinstance(data, dict) else {})

    async def batch_logs(self, batch_id: str, *, take: int = 20) -> list[BatchLog]:
        """The newest lifecycle events of a v2 batch (`GET /v2/batches/{id}/logs`, newest first)."""
        where = BlandRequest("GET", f"/v2/batches/{_path(batch_id)}/logs")
        params = {"take": take, "skip": 0, "direction": "desc"}
        data = _data(await self._request("GET", where.path, params=params), where)
        return [BatchLog.model_validate(item) for item in data or [] if isinstance(item, dict)]

    async def stop_batch_v2(self, batch_id: str) -> None:
        """`POST /v2/batches/{id}/stop` (answers `{data: null, errors: null}`); errors in the body raise."""
        where = BlandRequest("POST", f"/v2/batches/{_path(batch_id)}/stop")
        body = await self._request("POST", where.path)
        if isinstance(body, dict) and body.get("errors"):
            raise BlandValidationError(
                "; ".join(_messages(body)) or "stop refused", messages=_messages(body), request=where
            )

    # -- citation schemas and backfills ----------------------------------------------------------

    async def create_schema(
        self, name: str, *, description: str | None = None, schema: dict[str, Any] | None = None
    ) -> CitationSchema:
        """Create a citation schema."""
        payload: dict[str, Any] = {"name": name}
        if description:
            payload["description"] = description
        if schema is not None:
            payload["schema"] = schema
        body = await self._request("POST", "/v1/citation_schemas/", body=payload)
        return CitationSchema.model_validate(body.get("data") or {})

    async def get_schema(self, schema_id: str) -> CitationSchema:
        """Fetch one citation schema with its variables, groupings and conditions."""
        body = await self._request("GET", "/v1/citation_schemas/", params={"id": schema_id})
        return CitationSchema.model_validate(body.get("data") or {})

    async def update_schema(
        self, schema_id: str, *, name: str, description: str | None, schema: dict[str, Any]
    ) -> CitationSchema:
        """Replace a citation schema's name, description and whole configuration (`PATCH`, documented now:
        the `schema` given replaces the old one entirely). Sending the same body twice changes nothing."""
        payload: dict[str, Any] = {"name": name, "description": description or "", "schema": schema}
        body = await self._request("PATCH", "/v1/citation_schemas/", params={"id": schema_id}, body=payload)
        return CitationSchema.model_validate(body.get("data") or {})

    async def list_schemas(self) -> list[CitationSchema]:
        """List citation schemas (not in the original documents: may answer 404)."""
        body = await self._request("GET", "/v1/citation_schemas/list")
        data = body.get("data") if isinstance(body, dict) else body
        return [CitationSchema.model_validate(item) for item in data or []]

    async def start_backfill(self, payload: dict[str, Any]) -> BackfillStarted:
        """Start a backfill: 202 with a workflow for calls, 200 with results for SMS only.

        Billed but not dialling: a timeout is reported as outcome unknown rather than retried.
        """
        body = await self._request("POST", "/v1/citation_schemas/backfill", body=payload, dials=True)
        return BackfillStarted.model_validate(body)

    async def backfill_status(self, workflow_id: str) -> BackfillStatus:
        """Fetch a backfill workflow's state, and its results once COMPLETED."""
        path = f"/v1/citation_schemas/backfill/status/{_path(workflow_id)}"
        return BackfillStatus.model_validate(await self._request("GET", path))
