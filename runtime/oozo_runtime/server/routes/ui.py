"""`GET /`: one self-contained HTML page (no build step) to ask questions and read sources."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from oozo_runtime.server.headers import page_policy

router = APIRouter(tags=["ui"])
PAGE = resources.files("oozo_runtime.server").joinpath("index.html").read_text(encoding="utf-8")
PAGE_POLICY = page_policy(PAGE)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": PAGE_POLICY})
