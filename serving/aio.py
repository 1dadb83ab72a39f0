"""Bridge from the cassandra-driver's callback futures to asyncio.

The driver has no native asyncio API: ``session.execute_async`` returns a ``ResponseFuture``
whose callbacks run on the driver's I/O thread. :func:`execute` hands the result back to the
event loop with ``call_soon_threadsafe``, so no loop thread ever blocks on Cassandra.
"""

from __future__ import annotations

import asyncio
from typing import Any


def _set_result(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def execute(session, statement, params=None, *, profile=None, timeout=None) -> list:
    """Run ``statement`` and return the rows of its first page as a list.

    Promises: never blocks the event loop; driver errors (``NoHostAvailable``,
    ``OperationTimedOut``, ``Unavailable``, ``InvalidRequest`` ...) are raised here unchanged.
    Callers bound their result sizes with ``LIMIT`` so that one page is the whole answer.
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    kwargs = {}
    if profile is not None:
        kwargs["execution_profile"] = profile
    if timeout is not None:
        kwargs["timeout"] = timeout
    response = session.execute_async(statement, params, **kwargs)

    def on_rows(rows) -> None:
        loop.call_soon_threadsafe(_set_result, future, list(rows) if rows is not None else [])

    def on_error(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_set_exception, future, exc)

    response.add_callbacks(on_rows, on_error)
    return await future
