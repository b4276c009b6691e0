"""Every error is JSON with an `error` field and, for validation, the field and the reason.
Malformed JSON is a 400, a well-formed body with wrong fields a 422, and nothing ends up as a
bare 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


def _field(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        reason = next(e.get("ctx", {}).get("error", "") for e in errors if e.get("type") == "json_invalid")
        return JSONResponse(status_code=400, content={"error": f"invalid JSON body: {reason}".rstrip(": ")})
    detail = [{"field": _field(e.get("loc", ())), "reason": e.get("msg", "invalid")} for e in errors]
    summary = "; ".join(f"{d['field']}: {d['reason']}" for d in detail)
    return JSONResponse(status_code=422, content={"error": f"invalid request: {summary}", "detail": detail})


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code, content={"error": exc.detail}, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return JSONResponse(status_code=500, content={"error": f"internal error ({type(exc).__name__})"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)
