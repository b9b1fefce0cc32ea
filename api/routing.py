"""The unit of work around every route.

`UnitOfWorkRoute` opens the request's session, runs the route, and **commits before the
response leaves** (so a failed commit is reported, never hidden behind a 200), or rolls back on
any error or 4xx/5xx answer: a request either writes everything or nothing. It also implements
`Idempotency-Key` for POST, inside the same transaction as the request's writes.
An error marked `keep_writes` (a failed login's counter) commits what was flushed, then answers.
Routes get the session through `SessionDep` (`api/deps.py`); services only flush.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import resolve_principal
from registry import idempotency
from registry.errors import RegistryError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Admission control. Handlers run in anyio's thread pool, and FastAPI needs a second thread from
# that pool to serialize the answer. If every thread were held by requests blocked in PostgreSQL
# (fifty registrations of one code wait behind the first one's row) or waiting for a pooled
# connection, the request they all wait for could never get its second thread: a deadlock.
# So at most as many units of work run as there are database connections, and the thread pool
# is kept at least twice that size.
def _admission(request: Request) -> anyio.CapacityLimiter:
    """The app's admission limiter on this event loop (created on first use, inside the loop)."""
    state = request.app.state
    if not hasattr(state, "admission"):
        state.admission = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    limiter: anyio.CapacityLimiter | None = state.admission.get(loop)
    if limiter is None:
        settings = request.app.state.settings
        admitted = settings.db_pool_size + settings.db_max_overflow
        threads = anyio.to_thread.current_default_thread_limiter()
        threads.total_tokens = max(threads.total_tokens, 2 * admitted + 8)
        limiter = state.admission[loop] = anyio.CapacityLimiter(admitted)
    return limiter


async def _finish(fn: Callable[..., None], *args: Any) -> None:
    await run_in_threadpool(fn, *args)


EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def one_statement_read(endpoint: EndpointT) -> EndpointT:
    """Mark a read answered by a single SQL statement (a lookup by key).

    Its session runs in autocommit: one statement already sees one consistent snapshot, and the
    BEGIN and ROLLBACK around it would be two more round trips to PostgreSQL per lookup. (Tests
    pass their own session factory, joined to the test's transaction, and keep it.)
    """
    endpoint.one_statement_read = True  # type: ignore[attr-defined]
    return endpoint


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        factory = (
            "one_statement_session_factory"
            if getattr(self.endpoint, "one_statement_read", False)
            else "session_factory"
        )

        async def run(request: Request) -> Response:
            async with _admission(request):
                return await _run(request, handler, getattr(request.app.state, factory))

        return run


async def _run(
    request: Request,
    handler: Callable[[Request], Awaitable[Response]],
    session_factory: Callable[[], Session],
) -> Response:
    session: Session = session_factory()
    request.state.db = session
    try:
        return await _run_in_transaction(request, session, handler)
    except RegistryError as exc:
        if exc.keep_writes:
            await _finish(_commit_and_close, session)
        else:
            await _finish(session.close)
        raise
    except BaseException:
        await _finish(session.close)  # closing rolls back
        raise


def _commit_and_close(session: Session, before_commit: Callable[[], None] | None = None) -> None:
    """One trip to the thread pool: (store the idempotent answer,) commit, release the connection."""
    try:
        if before_commit is not None:
            before_commit()
        session.commit()
    finally:
        session.close()


async def _run_in_transaction(
    request: Request, session: Session, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    key = request.headers.get("idempotency-key")
    if request.method != "POST" or key is None:
        response = await handler(request)
        if not session.in_transaction():
            session.close()  # the route ended its read already: nothing left to send
        elif request.method in SAFE_METHODS or response.status_code >= 400:
            await _finish(session.close)
        else:
            await _finish(_commit_and_close, session)
        return response

    idempotency.validate_key(key)
    principal = resolve_principal(request).subject
    body = await request.body()
    request_print = idempotency.fingerprint(
        request.method, request.url.path, request.url.query, body
    )
    ttl = request.app.state.settings.idempotency_ttl_hours
    stored = await run_in_threadpool(
        idempotency.claim,
        session,
        principal=principal,
        key=key,
        request_fingerprint=request_print,
        ttl_hours=ttl,
    )
    if stored is not None:
        await _finish(session.close)
        return Response(
            stored.body,
            status_code=stored.status_code,
            headers={**stored.headers, "Idempotent-Replayed": "true"},
        )
    response = await handler(request)
    if response.status_code >= 400:
        await _finish(session.close)
        return response
    body_sent = getattr(response, "body", None)  # streamed answers are not replayable
    if body_sent is None:
        await _finish(_commit_and_close, session)
        return response
    answer = idempotency.StoredAnswer(
        response.status_code, dict(response.headers), bytes(body_sent)
    )

    def store() -> None:
        idempotency.store(
            session,
            principal=principal,
            key=key,
            method=request.method,
            path=request.url.path,
            request_fingerprint=request_print,
            answer=answer,
        )

    await _finish(_commit_and_close, session, store)
    return response
