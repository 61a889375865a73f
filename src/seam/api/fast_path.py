"""The Segment ingest endpoints, served in front of Starlette's middleware and router.

Every POST to /v1/identify|track|page|screen|group|alias|batch|import goes straight to its
handler; everything else, and the lifespan, goes to the Starlette application. On one core
Starlette's error middlewares, router and endpoint wrapper cost ~55 µs of the ~310 µs a
single-event ingest request took (CPU time measured A/B under wrk), and these endpoints are the
ones a site calls for every page view. The handlers, the error envelope and the exception
handlers are the application's own, so an answer is byte for byte what the router would give.

`seam serve`'s HTTP protocol (`seam.http_protocol`) goes one step further: it asks
`handler_for` which requests are ingest requests and calls `respond` itself, without ASGI. The
ASGI path here serves them under any other ASGI server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from . import ingest
from .state import SeamApp

Handler = Callable[[Request], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class IngestFastPath:
    def __init__(self, app: SeamApp) -> None:
        self.app = app
        # With a trailing slash too: the router would answer a redirect, which an SDK does
        # not follow on POST (and whose http:// location breaks behind a TLS proxy).
        self._handlers: dict[str, Handler] = {
            path + slash: handler
            for path, handler in ingest.handlers().items()
            for slash in ("", "/")
        }
        self._exception_handlers: dict[type[BaseException], ExceptionHandler] = {
            kind: handler
            for kind, handler in app.exception_handlers.items()
            if isinstance(kind, type)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handler = self.handler_for(scope)
        if handler is not None:
            await self._serve(handler, scope, receive, send)
            return
        state = self.app.seam

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.count(f"requests_{message['status']}")
            await send(message)

        await self.app(scope, receive, counted)

    def handler_for(self, scope: Scope) -> Handler | None:
        """The ingest handler that serves this request, if one does."""
        if scope["method"] == "POST" and not scope.get("root_path"):
            return self._handlers.get(scope["path"])
        return None

    async def respond(self, handler: Handler, scope: Scope, receive: Receive) -> Response:
        """The response `handler` gives, or the application's error response."""
        scope["app"] = self.app
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            response = await self._exception_handler(exc)(request, exc)
        self.app.seam.count(f"requests_{response.status_code}")  # for /metrics
        return response

    async def _serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(handler, scope, receive)
        await response(scope, receive, send)

    def _exception_handler(self, exc: Exception) -> ExceptionHandler:
        """The application's handler for the most specific class of `exc`, as Starlette picks
        it (it has one for `Exception`, so there always is one)."""
        for kind in type(exc).__mro__:
            if kind in self._exception_handlers:
                return self._exception_handlers[kind]
        raise exc
