"""Request dependencies, as `Annotated` aliases used by the routes.

They are `async def` although none awaits: FastAPI runs a plain `def` dependency in its thread
pool, and three of them made every query hop threads three times before the route began (the
profile of a query showed it). What they do (a dict lookup, a compare_digest, a file stat at most
every few seconds) is cheaper on the event loop than a hop."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from oozo_runtime.retrieval import Retriever
from oozo_runtime.server.auth import bearer_token
from oozo_runtime.server.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.oozo
    return state


StateDep = Annotated[AppState, Depends(get_state)]


# Declares the bearer scheme in the OpenAPI document; the check itself is ours (auto_error off),
# so a refusal has our body and challenge, and auth can be switched off.
bearer_scheme = HTTPBearer(auto_error=False, description="The API key: `Authorization: Bearer <key>`.")


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


async def require_api_key(request: Request, state: StateDep, _: BearerDep) -> None:
    """401 with a WWW-Authenticate challenge unless auth is off or the bearer key is accepted."""
    if not state.settings.auth_enabled:
        return
    token = bearer_token(request.headers.get("authorization"))
    if not state.keys.check(token):
        error = "invalid_token" if token else "invalid_request"
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key (send 'Authorization: Bearer <key>')",
            headers={"WWW-Authenticate": f'Bearer realm="oozo", error="{error}"'},
        )


AuthDep = Annotated[None, Depends(require_api_key)]


async def require_retriever(state: StateDep) -> Retriever:
    if state.retriever is None:
        raise HTTPException(
            status_code=503,
            detail=f"index not loaded yet: {state.load_error}"
            if state.load_error
            else "index not loaded yet",
            headers={"Retry-After": "2"},
        )
    return state.retriever


RetrieverDep = Annotated[Retriever, Depends(require_retriever)]
