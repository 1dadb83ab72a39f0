"""Point reads asked for in the same event-loop turn, fetched together.

Under load an API worker has many resolves in flight, and each one's read costs the Python
driver a request of its own: a message encoded, a response decoded on the driver's I/O thread,
and a hand-over to the event loop (``call_soon_threadsafe``, with the GIL changing threads both
ways). :class:`Coalescer` gathers the keys awaited in one turn of the loop and fetches each group
(here: one identifier type) with one read of up to ``max_batch`` keys (``IN``); a key asked for
twice is read once. A lone key is fetched on its own, so a quiet server answers exactly as
without it: nothing waits for company, the batch is whatever arrived together.

Failures are per fetch: every key of a failed fetch gets the fetch's exception, the others are
untouched. A caller that gave up (cancelled) is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

Fetch = Callable[[Hashable, list[Hashable]], Awaitable[dict[Hashable, Any]]]


class Coalescer:
    """``await coalescer.get(group, key)``: the value ``fetch(group, keys)`` returned for ``key``
    (``None`` when it returned none), fetched together with the keys of the same group asked for
    in the same loop turn, at most ``max_batch`` per fetch."""

    def __init__(self, fetch: Fetch, max_batch: int, on_fetch: Callable[[int], object] | None = None) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._fetch = fetch
        self._max = max_batch
        self.on_fetch = on_fetch  # called with each fetch's number of keys (e.g. a histogram)
        self._pending: dict[Hashable, dict[Hashable, list[asyncio.Future]]] = {}
        self._scheduled = False
        self._running: set[asyncio.Task] = set()  # strong references until each fetch is done
        self.fetches = 0  # fetches started, and the keys they carried (for tests and metrics)
        self.keys = 0

    def get(self, group: Hashable, key: Hashable) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.setdefault(group, {}).setdefault(key, []).append(future)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after every callback already ready in this turn
        return future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        for group, waiting in pending.items():
            keys = list(waiting)
            for start in range(0, len(keys), self._max):
                chunk = {k: waiting[k] for k in keys[start:start + self._max]}
                task = asyncio.ensure_future(self._run(group, chunk))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run(self, group: Hashable, chunk: dict[Hashable, list[asyncio.Future]]) -> None:
        self.fetches += 1
        self.keys += len(chunk)
        if self.on_fetch is not None:
            self.on_fetch(len(chunk))
        try:
            found = await self._fetch(group, list(chunk))
        except BaseException as exc:  # handed to every waiter, never lost
            for futures in chunk.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for key, futures in chunk.items():
            value = found.get(key)
            for f in futures:
                if not f.done():
                    f.set_result(value)
