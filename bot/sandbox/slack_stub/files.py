"""Files: uploads (files.getUploadURLExternal, the upload URL, files.completeUploadExternal), files.list and files.info, and downloads with the bot token."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from bot.sandbox.slack_stub.state import RecordedCall, StubFile, StubState


class FileMethods(StubState):
    """Files."""

    def add_file(
        self, filename: str, content: bytes, *, filetype: str = "csv", mimetype: str = "text/csv"
    ) -> dict[str, Any]:
        """Store a file as if a person uploaded it; returns the file object a file_input submits."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = StubFile(
            id=file_id,
            filename=filename,
            title=filename,
            content=content,
            filetype=filetype,
            mimetype=mimetype,
        )
        return self._file_object(self.files[file_id])

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = StubFile(id=file_id, filename=str(args.get("filename")), title=None)
        return {"ok": True, "upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_member(args.get("channel_id")) if args.get("channel_id") else None
        if problem:
            return problem
        done = []
        for entry in args.get("files") or []:
            stub = self.files.get(entry.get("id"))
            if stub is None:
                return {"ok": False, "error": "file_not_found"}
            stub.title = entry.get("title")
            stub.channel = args.get("channel_id")
            stub.thread_ts = args.get("thread_ts")
            stub.initial_comment = args.get("initial_comment")
            done.append({"id": stub.id, "name": stub.filename, "title": stub.title})
        return {"ok": True, "files": done}

    def _m_files_list(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_member(args.get("channel")) if args.get("channel") else None
        if problem:
            return problem
        found = [f for f in self.files.values() if f.channel == args.get("channel")]
        return {"ok": True, "files": [self._file_object(f) for f in found][: int(args.get("count") or 100)]}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        stub = self.files.get(str(args.get("file")))
        if stub is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": self._file_object(stub)}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        stub = self.files.get(file_id)
        if stub is None:
            return web.Response(status=404, text="unknown file")
        self.calls.append(RecordedCall("upload", {"file_id": file_id}, None, self.clock.now()))
        if self.upload_faults:  # the upload host fails, as Slack's does in an incident
            return web.Response(status=self.upload_faults.pop(0), text="upstream error")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            stub.content = await part.read() if part is not None else b""  # type: ignore[union-attr]
        else:
            stub.content = await request.read()
        return web.Response(text=f"OK - {len(stub.content)}")

    async def _download(self, request: web.Request) -> web.Response:
        stub = self.files.get(request.match_info["file_id"])
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=302, headers={"Location": f"{self.base_url}login"})
        if stub is None:
            return web.Response(status=404, text="unknown file")
        if self.download_delay:
            await asyncio.sleep(self.download_delay)  # a big file on a slow link
        return web.Response(body=stub.content, content_type="application/octet-stream")
