"""Jaro-Winkler for Spark scoring equals DuckDB's, value for value (infra/match/similarity.py).

The model's Jaro-Winkler levels were trained on DuckDB's function: a Spark run that computed
another similarity would put pairs on other levels (Splink's Scala jar does, for 15 % of the
pairs sampled from person rows), so the equality is exact, not approximate.
"""

from __future__ import annotations

import random

import duckdb
import pytest

from infra.match.similarity import jaro, jaro_winkler


def _pairs() -> list[tuple[str, str]]:
    rnd = random.Random(13)
    out = [("amanda", "amnda"), ("martha", "marhta"), ("dwayne", "duane"), ("", ""), ("a", ""), ("x", "x")]
    for alphabet in ("ab", "abc", "abcdefghij", "abcdefghijklmnopqrstuvwxyz .@0123456789"):
        for _ in range(6000):
            out.append(("".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))),
                        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))))
    names = ["william", "elizabeth", "katherine", "jonathan", "smith", "o connor", "5120 cedar ter apt 4"]
    for name in names:  # typos: a drop, an insert, a swap
        for i in range(len(name)):
            out += [(name, name[:i] + name[i + 1:]), (name, name[:i] + "x" + name[i:])]
            if i + 1 < len(name):
                out.append((name, name[:i] + name[i + 1] + name[i] + name[i + 2:]))
    return out


def test_equal_to_duckdb_jaro_winkler_similarity_exactly() -> None:
    pairs = _pairs()
    con = duckdb.connect()
    con.execute("CREATE TABLE p (i INTEGER, a VARCHAR, b VARCHAR)")
    con.executemany("INSERT INTO p VALUES (?, ?, ?)", [(i, a, b) for i, (a, b) in enumerate(pairs)])
    got = con.execute("SELECT i, jaro_winkler_similarity(a, b), jaro_similarity(a, b) FROM p ORDER BY i").fetchall()
    wrong = [(pairs[i], jw, jaro_winkler(*pairs[i])) for i, jw, _ in got if jaro_winkler(*pairs[i]) != jw]
    assert not wrong, wrong[:5]
    assert all(jaro(*pairs[i]) == j for i, _, j in got)


def test_textbook_transpositions_and_sql_nulls() -> None:
    assert jaro("amanda", "amnda") == pytest.approx(0.877778, abs=1e-6)  # the jar says 0.8444
    assert jaro_winkler("martha", "marhta") == pytest.approx(0.961111, abs=1e-6)
    assert jaro_winkler(None, "a") is None and jaro_winkler("a", None) is None
    assert jaro_winkler("abc", "xyz") == 0.0


def test_the_remembered_jaro_winkler_is_jaro_winkler() -> None:
    from infra.match.similarity import cached_jaro_winkler, jaro_winkler

    pairs = [("amanda", "amnda"), ("kenneth", "krnneth"), ("", "a"), (None, "a"), ("martha", "marhta")] * 3
    assert [cached_jaro_winkler(a, b) for a, b in pairs] == [jaro_winkler(a, b) for a, b in pairs]
