"""The project's one Spark session factory gives a working Delta Lake, in process or as a client
of the stack's Spark Connect server (``make test`` runs the latter)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_delta_create_append_merge_time_travel(spark, tmp_lake):
    from batch.tables import table_ref

    path = str(tmp_lake / "customers")
    spark.createDataFrame([(1, "ann"), (2, "bob")], "id long, name string").write.format("delta").save(path)
    spark.createDataFrame([(3, "cy")], "id long, name string").write.format("delta").mode("append").save(path)

    # SQL MERGE: the DeltaTable Python API needs Delta's Connect plugin on a Spark Connect server
    spark.createDataFrame([(2, "bobby"), (4, "dee")], "id long, name string").createOrReplaceTempView("updates")
    spark.sql(f"""MERGE INTO {table_ref(path)} t USING updates s ON t.id = s.id
                  WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *""")

    now = {r.id: r.name for r in spark.read.format("delta").load(path).collect()}
    assert now == {1: "ann", 2: "bobby", 3: "cy", 4: "dee"}

    v0 = {r.id: r.name for r in spark.read.format("delta").option("versionAsOf", 0).load(path).collect()}
    assert v0 == {1: "ann", 2: "bob"}
    v1 = spark.read.format("delta").option("versionAsOf", 1).load(path).count()
    assert v1 == 3

    history = [r.operation for r in spark.sql(f"DESCRIBE HISTORY {table_ref(path)}").orderBy("version").collect()]
    assert history == ["WRITE", "WRITE", "MERGE"]


def test_session_uses_cached_delta_jars_not_ivy(spark, settings):
    from infra import fetch

    jars = spark.conf.get("spark.jars")
    assert str(fetch.lib_dir(settings.cache, "delta")) in jars
    assert not spark.conf.get("spark.jars.packages", "")
