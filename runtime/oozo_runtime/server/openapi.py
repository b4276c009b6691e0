"""The OpenAPI document: off by default (`OOZO_OPENAPI_ENABLED`), and behind the API key when
auth is on. FastAPI's own /docs and /redoc pages are never served: they load Swagger UI and
ReDoc from a CDN. docs/openapi.json in the repository is the same document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from oozo_runtime.server.deps import AuthDep


def document(app: FastAPI, auth_enabled: bool) -> dict[str, Any]:
    """The document of `app`, cached. With auth off the bearer requirement is left out: the
    server then really accepts requests without a key."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        if not auth_enabled:
            doc.get("components", {}).pop("securitySchemes", None)
            for operations in doc["paths"].values():
                for operation in operations.values():
                    operation.pop("security", None)
                    operation["responses"].pop("401", None)
        app.openapi_schema = doc
    return app.openapi_schema


def install(app: FastAPI, enabled: bool, auth_enabled: bool) -> None:
    app.openapi = lambda: document(app, auth_enabled)  # type: ignore[method-assign]
    if not enabled:
        return
    router = APIRouter(tags=["api"])

    @router.get("/openapi.json", include_in_schema=False)
    async def openapi_json(_: AuthDep) -> dict[str, Any]:
        return document(app, auth_enabled)

    app.include_router(router)
