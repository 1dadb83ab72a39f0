"""The lake step of erasure: what the serving store's part (:mod:`serving.erasure`) leaves.

:func:`finish` completes every erasure on record, whether ``ucid privacy erase`` just made it or
the API did (``DELETE /v1/profiles/{ucid}``), from the suppression list's hashes and the receipts'
UCIDs alone (no identifier value is stored anywhere):

1. Cassandra rows found only by a scan: the blocking index (``match_blocks``: an erased UCID, or
   an anchor identifier on the list), pending triggers (``trigger_pending``) and the fired-trigger
   claims (``trigger_fired``, one partition per trigger rule and UCID);
2. the landing zone, the speed layer's ``stream/`` files included (:mod:`batch.landing_erasure`);
3. every Delta table (:mod:`batch.erasure`), and the ingest log told the rewritten files' digests;
4. the VACUUM of the tables the erasures deleted rows from, once due:
   ``UCID_PRIVACY_VACUUM_RETENTION_HOURS`` (168) after the lake step, or at once with
   ``vacuum_now``.

Steps 1-3 run over every erasure on record each time (all idempotent): a file or extract that
arrived since and carries an erased person is cleaned too. The receipts of the erasures this run
completed get ``lake_at`` and the counts of the run (``lake_removed``), those it vacuumed
``vacuumed_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.settings import Settings


def cassandra_leftovers(store, key: bytes, suppressed: frozenset[str], ucids: set[str],
                        trigger_rules: list[str]) -> dict[str, int]:
    """Delete the erased people's rows of the tables an erasure cannot reach by key."""
    from identity.suppression import identifier_hash

    blocks = [(r.block_key, r.source, r.record_id) for r in store.scan("scan_match_blocks")
              if r.ucid in ucids or (r.anchor_type and r.anchor_value is not None
                                     and identifier_hash(key, r.anchor_type, r.anchor_value) in suppressed)]
    pending = [(r.shard, r.rule, r.ucid) for r in store.scan("scan_trigger_pending") if r.ucid in ucids]
    store.write_all([("erase_match_blocks", b) for b in blocks] + [("del_pending", p) for p in pending]
                    + [("erase_trigger_fired", (rule, u)) for rule in trigger_rules for u in sorted(ucids)])
    return {k: v for k, v in {"cassandra.match_blocks": len(blocks), "cassandra.trigger_pending": len(pending)}.items()
            if v}


def finish(settings: Settings, vacuum_now: bool = False, report: Callable[[str], None] = print) -> dict:
    """Run the lake step over every erasure on record (see the module doc); what it removed."""
    from batch import erasure, landing_erasure
    from batch.spark import spark_session
    from batch.tables import Lake
    from identity.rules import load_policy
    from identity.sources import load_sources
    from infra import cql
    from infra.store import Store
    from speed.triggers import load_triggers

    key = settings.privacy.key()
    now = datetime.now(UTC).replace(microsecond=0)
    policy = load_policy(settings.conf_dir / "rules.yaml")
    sources = load_sources(settings.conf_dir / "sources", known_types=set(policy.types))
    rules = [t.name for t in load_triggers(settings.speed.triggers_path(settings.conf_dir))]
    with cql.quiet_driver(), Store.connect(settings.cassandra) as store:
        receipts = list(store.scan("scan_erasures"))
        if not receipts:
            report("no erasure on record: nothing to do")
            return {}
        suppressed = frozenset(r.hash for r in store.scan("scan_suppression"))
        ucids = {u for r in receipts for u in (r.ucids or ())}
        removed = cassandra_leftovers(store, key, suppressed, ucids, rules)
        rewritten = landing_erasure.rewrite(settings.landing, sources, policy, key, suppressed)
        if rewritten:
            removed["landing.files"] = len(rewritten)
            removed["landing.rows"] = sum(f.removed for f in rewritten)
        report(f"landing: {len(rewritten)} files rewritten")
        spark = spark_session(settings, app_name="ucid-erase")
        lake = Lake(settings.lake)
        identifiers = erasure.erased_identifiers(spark, lake, key, suppressed)
        removed |= erasure.delete(spark, lake, [s.name for s in sources], ucids, identifiers)
        erasure.relog(spark, lake, rewritten)
        report(f"lake: {sum(v for k, v in removed.items() if k.startswith('delta.'))} rows deleted")
        for r in receipts:
            if r.lake_at is None:
                store.write_all([("put_erasure_lake", (now, removed, r.erasure_id))])
        retention = timedelta(hours=settings.privacy.vacuum_retention_hours)
        due = [r for r in receipts if r.vacuumed_at is None
               and (vacuum_now or (r.lake_at is not None and now - r.lake_at.replace(tzinfo=UTC) >= retention))]
        if due:
            touched = {k for r in due for k in (r.lake_removed or {})} | set(removed)
            paths = [p for p in erasure.all_tables(spark, lake, [s.name for s in sources])
                     if f"delta.{Path(p).relative_to(lake.root)}" in touched]
            tables = erasure.vacuum(spark, paths, settings.privacy.vacuum_retention_hours, now=vacuum_now)
            store.write_all([("put_erasure_vacuumed", (now, r.erasure_id)) for r in due])
            report(f"vacuumed {len(tables)} tables (those the erasures deleted rows from)")
        else:
            report(f"vacuum not due yet: run `ucid privacy finish` again {settings.privacy.vacuum_retention_hours} h "
                   "after this step (or with --vacuum-now)")
    return removed
