"""`GET /`: one self-contained HTML page (no build step) to ask questions and read sources."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["ui"])
PAGE = resources.files("oozo_runtime.server").joinpath("index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home() -> HTMLResponse:
    return HTMLResponse(PAGE)
