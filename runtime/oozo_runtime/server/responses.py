"""The non-200 responses of each route, for the OpenAPI document: the statuses the server really
sends, with the bodies errors.py, middleware.py and the routes really write. The schemathesis
run of the runtime tier (tests/runtime/test_openapi_conformance.py) holds the server to them."""

from __future__ import annotations

from typing import Any

from oozo_runtime.server.schemas import ErrorBody, NotReady, QueryResponse, ValidationErrorBody

Responses = dict[int | str, dict[str, Any]]

UNAUTHORIZED: Responses = {
    401: {
        "model": ErrorBody,
        "description": "Missing or wrong API key (auth on).",
        "headers": {"WWW-Authenticate": {"description": 'Bearer realm="oozo"', "schema": {"type": "string"}}},
    }
}
NOT_LOADED: Responses = {
    503: {
        "model": ErrorBody,
        "description": "No index version loaded yet; `error` says why.",
        "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}},
    }
}
QUERY: Responses = {
    400: {"model": ErrorBody, "description": "Malformed JSON, or a Content-Length that is not a number."},
    **UNAUTHORIZED,
    413: {"model": ErrorBody, "description": "Body larger than OOZO_MAX_BODY_BYTES."},
    422: {"model": ValidationErrorBody, "description": "Well-formed JSON with wrong fields."},
    500: {
        "model": ErrorBody,
        "description": "The question could not be encoded; `reason` is `QueryEncodeFailed`.",
    },
    502: {
        "model": QueryResponse,
        "description": "The generation backend failed: the sources and an extractive answer, with `error`.",
    },
    **NOT_LOADED,
    504: {
        "model": QueryResponse,
        "description": "The generation backend timed out: sources and an extractive answer, with `error`.",
    },
}
INFO: Responses = {**UNAUTHORIZED, **NOT_LOADED}
READY: Responses = {503: {"model": NotReady, "description": "Not ready; `error` says why, without paths."}}
