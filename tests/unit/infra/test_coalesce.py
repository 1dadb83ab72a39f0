"""infra.store.coalesce: reads awaited in one loop turn are fetched together, and each caller
gets exactly its own answer, its fetch's failure, or None."""

from __future__ import annotations

import asyncio

import pytest

from infra.store.coalesce import Coalescer


class Table:
    """A fetch over a dict that records every call; ``fail`` makes a group's fetches raise."""

    def __init__(self, rows: dict, fail: set | None = None) -> None:
        self.rows = rows
        self.fail = fail or set()
        self.calls: list[tuple] = []

    async def fetch(self, group, keys):
        self.calls.append((group, list(keys)))
        await asyncio.sleep(0)  # a real read yields to the loop
        if group in self.fail:
            raise ConnectionError(f"{group} down")
        return {k: self.rows[(group, k)] for k in keys if (group, k) in self.rows}


def run(coro):
    return asyncio.run(coro)


def test_one_turn_is_one_fetch_per_group_and_each_caller_gets_its_row():
    table = Table({("email", "a"): 1, ("email", "b"): 2, ("phone", "p"): 3})
    c = Coalescer(table.fetch, max_batch=10)

    async def main():
        return await asyncio.gather(c.get("email", "a"), c.get("phone", "p"), c.get("email", "b"),
                                    c.get("email", "zz"), c.get("email", "a"))

    assert run(main()) == [1, 3, 2, None, 1]
    assert sorted(table.calls) == [("email", ["a", "b", "zz"]), ("phone", ["p"])]  # "a" read once
    assert (c.fetches, c.keys) == (2, 4)


def test_a_turn_larger_than_max_batch_is_split():
    table = Table({("t", str(i)): i for i in range(7)})
    sizes: list[int] = []
    c = Coalescer(table.fetch, max_batch=3, on_fetch=sizes.append)

    async def main():
        return await asyncio.gather(*(c.get("t", str(i)) for i in range(7)))

    assert run(main()) == list(range(7))
    assert [len(keys) for _, keys in table.calls] == [3, 3, 1] == sizes


def test_a_lone_read_is_fetched_alone_and_later_turns_fetch_again():
    table = Table({("t", "a"): 1, ("t", "b"): 2})
    c = Coalescer(table.fetch, max_batch=10)

    async def main():
        first = await c.get("t", "a")
        second = await c.get("t", "b")
        return first, second

    assert run(main()) == (1, 2)
    assert table.calls == [("t", ["a"]), ("t", ["b"])]


def test_a_failed_fetch_fails_its_callers_only():
    table = Table({("ok", "a"): 1}, fail={"down"})
    c = Coalescer(table.fetch, max_batch=10)

    async def main():
        return await asyncio.gather(c.get("down", "x"), c.get("ok", "a"), c.get("down", "y"),
                                    return_exceptions=True)

    x, a, y = run(main())
    assert a == 1
    assert isinstance(x, ConnectionError) and isinstance(y, ConnectionError) and str(x) == "down down"


def test_a_caller_that_gave_up_does_not_disturb_the_others():
    table = Table({("t", "a"): 1, ("t", "b"): 2})
    c = Coalescer(table.fetch, max_batch=10)

    async def main():
        gone = asyncio.ensure_future(c.get("t", "a"))
        kept = c.get("t", "b")
        await asyncio.sleep(0)
        gone.cancel()
        return await kept, gone.cancelled()

    assert run(main()) == (2, True)


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError):
        Coalescer(Table({}).fetch, max_batch=0)
