"""The Model Context Protocol at `/mcp` (streamable HTTP, the official `mcp` SDK): a `search` tool
(question → passages) and an `ask` tool (question → answer + passages) for agents.

Stateless and JSON-answering: every request stands alone, so any replica behind the Service can
answer it and no session outlives a rollout. The tools take the same path as `POST /api/query`
(routes/query.py: the query pool, the retrieval and generation metrics, the configured generator)
and the same bounds on the question and `top_k`; a bad argument is a tool error whose text says
which argument and why. The endpoint sits behind the same bearer key as the API, checked before
the SDK sees the request, and inside the same middleware (body limit, security headers, metrics).

Only mcp_route.py imports this module, on the first /mcp request: the SDK's import takes about
1.5 s, which the server's start to /ready does not pay.
"""

# No `from __future__ import annotations`: the SDK reads the tools' parameter types at run time,
# and their bounds are this server's settings, known only when the tools are built.

import logging
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.types import ASGIApp

from oozo_runtime import __version__
from oozo_runtime.errors import OozoError
from oozo_runtime.retrieval import Retriever
from oozo_runtime.server.routes.query import cached_answer_content, retrieve
from oozo_runtime.server.schemas import QueryRequest, limited_to
from oozo_runtime.server.state import AppState

INSTRUCTIONS = (
    "Answers questions from one indexed document corpus. Use `search` to get the passages that "
    "best match a question (document, heading, text, score) and `ask` for a short answer that "
    "cites them. Every result names the index version it came from."
)


class Passage(BaseModel):
    document: str = Field(description="the document's path in the corpus")
    heading: str | None = Field(
        description="the section the passage is under, when the document has headings"
    )
    text: str = Field(description="the passage itself")
    score: float = Field(description="similarity to the question; higher is closer")
    chunk: int = Field(description="the passage's number within its document")


class SearchResult(BaseModel):
    index_version: str = Field(description="the index version searched")
    sources: list[Passage] = Field(description="the best passages, best first")


class AskResult(SearchResult):
    answer: str = Field(description="the answer, drawn only from the sources")
    error: str | None = Field(
        default=None,
        description="set when the language model failed: the answer is then extractive (quoted sentences)",
    )


def build_server(state: AppState) -> MCPServer[Any]:
    """The MCP server of one app, its tools bound by the app's settings."""
    settings = state.settings
    bounded = limited_to(settings.max_question_chars, settings.max_top_k)
    server: MCPServer[Any] = _without_touching_the_root_logger(
        lambda: MCPServer("oozo", title="Oozo corpus", instructions=INSTRUCTIONS, version=__version__)
    )
    Question = Annotated[
        str,
        Field(
            description="the question, in any language the corpus is written in",
            min_length=1,
            max_length=settings.max_question_chars,
        ),
    ]
    TopK = Annotated[int, Field(description="how many passages to return", ge=1, le=settings.max_top_k)]
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    @server.tool(
        title="Search the corpus",
        description="Find the passages of the indexed documents that best answer a question. "
        "Returns each passage's document, heading, text and similarity score, best first.",
        annotations=read_only,
    )
    async def search(question: Question, top_k: TopK = 5) -> SearchResult:
        body, retriever = _checked(bounded, question, top_k, state)
        try:
            hits, _ = await retrieve(body.question, body.top_k, state, retriever)
        except OozoError as exc:
            raise ToolError(f"the search failed: {exc.message}") from exc
        return SearchResult(
            index_version=retriever.index.version, sources=[Passage(**hit.as_dict()) for hit in hits]
        )

    @server.tool(
        title="Ask the corpus",
        description="Answer a question from the indexed documents only, citing the passages used. "
        "Returns the answer and its sources (document, heading, text, score).",
        annotations=read_only,
    )
    async def ask(question: Question, top_k: TopK = 5) -> AskResult:
        body, retriever = _checked(bounded, question, top_k, state)
        _, content = await cached_answer_content(body, state, retriever)
        if "answer" not in content:  # the retrieval itself failed
            raise ToolError(f"the search failed: {content['error']}")
        return AskResult.model_validate(content)

    return server


def _without_touching_the_root_logger(make: Callable[[], MCPServer[Any]]) -> MCPServer[Any]:
    """MCPServer() calls logging.basicConfig (a rich handler, a level) for a process of its
    own; in ours, logs.configure decides where logs go, and an app built before it (tests)
    must not have changed the root logger."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return make()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _checked(
    bounded: type[QueryRequest], question: str, top_k: int, state: AppState
) -> tuple[QueryRequest, Retriever]:
    """The arguments through the API's own request model (so a blank question is refused the
    same way), and the loaded index; ToolError with the reason otherwise."""
    try:
        body = bounded.model_validate({"question": question, "top_k": top_k})
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ToolError(f"invalid arguments: {reasons}") from exc
    if state.retriever is None:
        raise ToolError(f"the index is not loaded yet ({state.load_error or 'loading'}); try again shortly")
    return body, state.retriever


def asgi_app(state: AppState) -> tuple[ASGIApp, StreamableHTTPSessionManager]:
    """The SDK's ASGI app for /mcp (mcp_route.py puts the bearer check in front of it) and its
    session manager, whose run() must be entered before the app answers a request."""
    server = build_server(state)
    # DNS-rebinding protection checks Host and Origin against a list of names; a pod is reached
    # under names only the cluster knows (Service, Ingress), and a browser page that rebinds a
    # name still cannot send the bearer key, which every request needs when auth is on.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        max_request_body_size=state.settings.max_body_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    return StreamableHTTPASGIApp(manager), manager
