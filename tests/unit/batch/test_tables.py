"""Delta table helpers that need no Spark: the existence check and SQL quoting."""

from __future__ import annotations

from batch.tables import exists, sql_list, table_ref


def test_a_table_exists_once_its_log_has_a_commit(tmp_path):
    path = tmp_path / "t"
    assert not exists(None, str(path))
    (path / "_delta_log").mkdir(parents=True)
    assert not exists(None, str(path))  # a first commit that never landed
    (path / "_delta_log" / "00000000000000000000.json").write_text("{}")
    assert exists(None, str(path))


def test_sql_literals_and_table_references_are_escaped():
    assert sql_list(["a", "it's", "back\\slash"]) == "'a', 'it\\'s', 'back\\\\slash'"
    assert table_ref("/lake/odd`name") == "delta.`/lake/odd``name`"
