"""Data access to ucid's Cassandra tables: one statement map, a blocking and an asyncio store.

:mod:`infra.store.statements` holds every CQL statement; :class:`Store` (blocking: speed layer,
batch publish and validation, tests) and :class:`AsyncStore` (the API) prepare them once per
session. Following a merged UCID to the live one is the identity core's
:func:`identity.aliases.follow` for both.
"""

from infra.store.aio import ApiReads, AsyncStore, MissingTable, StoreUnavailable, follow_async
from infra.store.sync import Store, ms, ts

__all__ = ["ApiReads", "AsyncStore", "MissingTable", "Store", "StoreUnavailable", "follow_async", "ms", "ts"]
