"""The HTTP service: a SPARQL 1.1 Protocol endpoint, named queries, letter pages and health, on Starlette."""

from __future__ import annotations

import hmac
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from kg import iris
from kg.queries import QueryError, all_queries, named_query
from kg.remote import RemoteStore
from kg.server.guard import Refused, check_query, is_update
from kg.server.pages import index_page, letter_page
from kg.server.runner import Answer, QueryRunner, QueryTimeout, Runtime
from kg.store import KEY_INDEX


@dataclass(frozen=True)
class ServeSettings:
    """Everything `kg serve` can be told; safe defaults."""

    store: str | Path = "kg-store"  # a directory, or the URL of a SPARQL 1.1 server
    timeout: float = 5.0  # seconds per query
    max_rows: int = 10_000
    max_body: int = 1_000_000  # bytes
    workers: int = 2  # server processes (each runs its own queries, in threads)
    cors_origins: tuple[str, ...] = ()
    graphql_max_depth: int = 8
    graphql_max_tokens: int = 2_000
    graphql_max_aliases: int = 15
    allow_update: bool = False  # SPARQL Update only with allow_update and this bearer token
    token: str | None = field(default=None, repr=False)
    runtime: str | None = None  # directory the processes share (see kg.server.runner); None: a temporary one

    def to_environment(self) -> str:
        return json.dumps({**asdict(self), "store": str(self.store)})

    @classmethod
    def from_environment(cls, text: str) -> ServeSettings:
        given = json.loads(text)
        return cls(**{**given, "cors_origins": tuple(given["cors_origins"])})


SETTINGS_VARIABLE = "KG_SERVE_SETTINGS"


def app_from_environment() -> Starlette:
    """The app of one server process that `serve` started (uvicorn's factory)."""
    return create_app(ServeSettings.from_environment(os.environ[SETTINGS_VARIABLE]))


def serve_forever(settings: ServeSettings, host: str, port: int) -> None:
    """Listen on host:port with `settings.workers` server processes under uvicorn's supervisor,
    which replaces any that exits (a process retires after a runaway query; see kg.server.runner)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    runtime = Runtime(tempfile.mkdtemp(prefix="kg-serve-")).create()
    os.environ[SETTINGS_VARIABLE] = replace(settings, runtime=str(runtime.directory)).to_environment()
    config = uvicorn.Config("kg.server.app:app_from_environment", factory=True, host=host, port=port,
                            workers=settings.workers, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=int(settings.timeout) + 1)
    try:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        shutil.rmtree(runtime.directory, ignore_errors=True)


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=status)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return body


class _TooLarge(Exception):
    pass


async def _answer(runner: QueryRunner, payload: dict[str, Any]) -> Answer:
    """Run a request; a timeout or a retiring process becomes a 503 answer."""
    try:
        return await runner.ask(payload)
    except QueryTimeout as exc:
        return Answer(503, "text/plain; charset=utf-8", f"{exc}\n".encode())


async def _ask(runner: QueryRunner, payload: dict[str, Any]) -> Response:
    answer = await _answer(runner, payload)
    if isinstance(answer.body, bytes):
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)
    # read in a worker thread, a piece at a time: the whole `decisions` table at 100k letters is 163 MB
    return StreamingResponse(answer.body, status_code=answer.status, media_type=answer.content_type)


def create_app(settings: ServeSettings) -> Starlette:
    """The ASGI app for `settings`; its store handle opens with the app and closes with it."""
    state: dict[str, QueryRunner] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scratch = None if settings.runtime else tempfile.mkdtemp(prefix="kg-serve-")
        runtime = Runtime(settings.runtime or scratch)
        if scratch:
            runtime.create()
        state["runner"] = QueryRunner(settings.store, runtime, timeout=settings.timeout, max_rows=settings.max_rows)
        try:
            yield
        finally:
            state["runner"].close()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)

    async def sparql(request: Request) -> Response:
        params = parse_qs(request.url.query, keep_blank_values=True)
        try:
            kind, query = await _query_text(request, params, settings.max_body)
        except _TooLarge:
            return _text(413, f"request body larger than {settings.max_body} bytes")
        except _Protocol as exc:
            return _text(exc.status, str(exc))
        try:
            check_query(query)
        except Refused as exc:
            return _text(403, str(exc))
        if kind == "update" or is_update(query):
            return await _update(request, query)
        return await _ask(state["runner"], {
            "kind": "sparql", "query": query, "accept": request.headers.get("accept", ""),
            "default_graphs": params.get("default-graph-uri", []), "named_graphs": params.get("named-graph-uri", []),
        })

    async def _update(request: Request, update: str) -> Response:
        if not settings.allow_update or not settings.token:
            return _text(403, "this endpoint is read-only: SPARQL Update is refused")
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
            return Response("a valid bearer token is required for SPARQL Update\n", status_code=401,
                            media_type="text/plain", headers={"WWW-Authenticate": "Bearer"})
        try:
            await anyio.to_thread.run_sync(_apply_update, settings.store, update, state["runner"])
        except SyntaxError as exc:
            return _text(400, f"malformed update: {exc}")
        return Response(status_code=204)

    async def named(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            query = named_query(name)
        except QueryError as exc:
            return _text(404, str(exc))
        given = {k: v for k, v in request.query_params.items() if k != "format"}
        accept = request.headers.get("accept", "")
        fmt = request.query_params.get("format")
        if fmt:
            accept = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
                      "csv": "text/csv", "tsv": "text/tab-separated-values"}.get(fmt, "none/none")
        return await _ask(state["runner"], {"kind": "named", "name": query.name, "params": given, "accept": accept})

    async def queries(request: Request) -> Response:
        return JSONResponse([{"name": q.name, "title": q.title, "description": q.description,
                              "parameters": [{"name": p.name, "type": p.type, "required": p.required,
                                              "default": p.default, "doc": p.doc} for p in q.parameters],
                              "url": f"/queries/{q.name}"} for q in all_queries()])

    async def letter(request: Request) -> Response:
        answer = await _answer(state["runner"], {"kind": "named", "name": "letter-evidence",
                                            "params": {"letter": request.path_params["id"]},
                                            "accept": "application/sparql-results+json"})
        if answer.status != 200:
            return Response(answer.content(), status_code=answer.status, media_type=answer.content_type)
        rows = json.loads(answer.content())["results"]["bindings"]
        if not rows:
            return _text(404, f"no letter {request.path_params['id']!r} in the store")
        return HTMLResponse(letter_page(request.path_params["id"], rows))

    async def health(request: Request) -> Response:
        runner = state["runner"]
        return JSONResponse({"status": "ok", "store": str(settings.store), "workers": settings.workers,
                             "worker_restarts": runner.restarts, "timeout_s": settings.timeout})

    async def index(request: Request) -> Response:
        return HTMLResponse(index_page([(q.name, q.title) for q in all_queries()]))

    routes = [
        Route("/", index),
        Route("/health", health),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/queries", queries),
        Route("/queries/{name}", named),
        Route("/letters/{id}", letter),
    ]
    cors = Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"])
    middleware = [cors] if settings.cors_origins else []  # CORS stays off unless origins are configured
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    _mount_graphql(app, settings, state)
    return app


def _mount_graphql(app: Starlette, settings: ServeSettings, state: dict[str, QueryRunner]) -> None:
    from kg.server.graphql import graphql_app

    graphql = _BodyLimit(graphql_app(settings, lambda: state["runner"]), settings.max_body)
    app.router.routes.append(Route("/graphql", graphql, methods=["GET", "POST"]))


class _BodyLimit:
    """An ASGI app's requests with at most `limit` bytes of body: a larger one is answered 413 before
    the app (strawberry, which reads a body whole) sees it, as /sparql answers it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            body = await _body(Request(scope, receive), self.limit)
        except _TooLarge:
            await _text(413, f"request body larger than {self.limit} bytes")(scope, receive, send)
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return dict(await receive())
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


DROP_KEY_INDEX = f"DELETE WHERE {{ GRAPH {iris.MANIFEST_GRAPH} {{ {iris.MANIFEST_GRAPH} {KEY_INDEX} ?index }} }}"


def _apply_update(store_path: str | Path, update: str, runner: QueryRunner) -> None:
    """Run an authorized update on a writable handle, then have every process reopen its read-only
    handle (which sees the store as it was when opened)."""
    with runner.runtime.update_lock():
        if str(store_path).startswith(("http://", "https://")):
            with RemoteStore(str(store_path)) as remote:
                remote._update(update)
        else:
            store = ox.Store(str(store_path))
            try:
                store.update(update)
                store.update(DROP_KEY_INDEX)  # the update may have changed what the index summarizes
                store.flush()
            finally:
                del store
        runner.store_changed()


class _Protocol(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _query_text(request: Request, params: dict[str, list[str]], limit: int) -> tuple[str, str]:
    """('query' or 'update', its text) of a SPARQL Protocol request (GET query=, POST form, POST
    sparql-query or sparql-update). Updates are never taken from a GET."""
    if request.method == "GET":
        if "update" in params:
            raise _Protocol(403, "SPARQL Update is never accepted over GET")
        if "query" not in params:
            raise _Protocol(400, "missing 'query' parameter")
        return "query", params["query"][0]
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await _body(request, limit)
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        if "update" in form:
            return "update", form["update"][0]
        if "query" not in form:
            raise _Protocol(400, "missing 'query' field")
        for key in ("default-graph-uri", "named-graph-uri"):
            params.setdefault(key, []).extend(form.get(key, []))
        return "query", form["query"][0]
    if content_type == "application/sparql-query":
        return "query", body.decode("utf-8", errors="replace")
    if content_type == "application/sparql-update":
        return "update", body.decode("utf-8", errors="replace")
    raise _Protocol(415, "POST a query as application/x-www-form-urlencoded or application/sparql-query")
