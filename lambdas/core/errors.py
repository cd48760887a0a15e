"""Errors with an HTTP status and a fixed, safe message.

Messages are constants written here, never built from submitted content, so an error body can
never echo what an agent sent.
"""

from __future__ import annotations


class IngestError(Exception):
    status = 500
    code = "internal_error"
    message = "internal error; nothing was stored"

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.detail = detail  # a field path from our own schema, never a submitted value

    def body(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.detail:
            body["field"] = self.detail
        return body


class MalformedBatch(IngestError):
    status, code, message = 400, "malformed_batch", "the body is not a valid interaction batch"


class UnsupportedSchema(IngestError):
    status, code, message = 400, "unsupported_schema", "unsupported schema version"


class Unauthorized(IngestError):
    status, code, message = 401, "unauthorized", "missing or invalid token"


class Forbidden(IngestError):
    status, code, message = 403, "forbidden", "the token is not valid for this program"


class UnknownProgram(IngestError):
    status, code, message = 404, "unknown_program", "no such program"


class BatchConflict(IngestError):
    status, code, message = 409, "batch_conflict", "this batch id was used with a different payload"


class TooLarge(IngestError):
    status, code, message = 413, "too_large", "the batch exceeds the size or event limit"


class UnsupportedMedia(IngestError):
    status, code, message = (
        415,
        "unsupported_media_type",
        "send Content-Type: application/json, optionally with Content-Encoding: gzip",
    )


class ProgramNotCollecting(IngestError):
    status, code, message = 423, "not_collecting", "the program is not collecting"

    def __init__(self, state: str) -> None:
        super().__init__()
        self.state = state.lower()

    def body(self) -> dict[str, str]:
        return {"status": self.state, "collect": False, "error": self.code}  # type: ignore[dict-item]


class BatchInProgress(IngestError):
    status, code, message = 429, "batch_in_progress", "this batch is being stored; retry shortly"


class ServiceFault(IngestError):
    """Our side failed (missing key or secret, storage error): nothing was written."""

    status, code, message = 500, "internal_error", "internal error; nothing was stored"
