"""Every CQL statement ucid runs on its Cassandra tables, in one map.

Readers and writers name a statement; :mod:`infra.store.sync` (speed layer, batch publish and
validation, speed-state read-back, tests) and :mod:`infra.store.aio` (the API) prepare each once
per session, with the consistency the settings give: reads at the read consistency, writes at the
write consistency, lightweight transactions (``IF ...``) at ``LOCAL_SERIAL``. ``{ks}`` is the
keyspace. Statements of the batch publish carry ``USING TIMESTAMP ?`` (the lambda contract:
docs/lambda-contract.md); the speed layer writes with the server's time.

The ``identifiers`` row is what a resolve reads, in one round trip: the live UCID (``status``
``live``; the writers re-point an identifier when its UCID is merged away, and mark it
``retired`` with its UCID), the UCIDs it was merged from, its source and when it was seen.
"""

from __future__ import annotations

_IDENTIFIER_COLUMNS = "id_type, id_value, ucid, status, merged_from, source, first_seen, last_seen, layer"
_PROFILE_COLUMNS = ("ucid, attributes, attribute_sources, consents, traits, channel_counts, last_contact, "
                    "first_seen, last_seen, lifetime_spend, batch_snapshot, updated_at")
_CONTACT_COLUMNS = ("ucid, started_at, contact_id, direction, channel, last_at, topic, outcome, responses, "
                    "details")
_SHARD_COLUMNS = ("ucid, shard, applied_offset, first_seen, last_seen, event_count, channel_counts, type_counts, "
                  "last_contact, consents, consent_times, preferences, spend, last_purchase, last_cart, recent, "
                  "updated_at")


def _values(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


STATEMENTS: dict[str, str] = {
    # -- identity reads -------------------------------------------------------------------------
    "get_identifier": f"SELECT {_IDENTIFIER_COLUMNS} FROM {{ks}}.identifiers WHERE id_type = ? AND id_value = ?",
    # many identifiers of one type in one read (the API's coalesced resolves; infra.store.coalesce)
    "get_identifiers_in": f"SELECT {_IDENTIFIER_COLUMNS} FROM {{ks}}.identifiers WHERE id_type = ? AND id_value IN ?",
    "get_ucid": "SELECT ucid, status, merged_into, minted_at, updated_at, layer FROM {ks}.ucids WHERE ucid = ?",
    # the speed layer reads a whole poll's identity graph in a few rounds of these (speed.graph)
    "get_ucids_in": "SELECT ucid, status, merged_into, minted_at FROM {ks}.ucids WHERE ucid IN ?",
    "get_members_in": "SELECT ucid, id_type, id_value FROM {ks}.identifiers_by_ucid WHERE ucid IN ? "
                      "PER PARTITION LIMIT 2000",
    "get_alias": "SELECT alias, ucid, merged_at, rule, change_id FROM {ks}.ucid_aliases WHERE alias = ?",
    "get_members": "SELECT id_type, id_value, source, first_seen, last_seen FROM {ks}.identifiers_by_ucid "
                   "WHERE ucid = ? LIMIT 2000",
    "get_changes": "SELECT * FROM {ks}.identity_changes WHERE ucid = ? LIMIT 200",
    "get_links": "SELECT * FROM {ks}.links_by_ucid WHERE ucid = ? LIMIT 10000",
    # -- identity writes of the speed layer (one LOGGED batch per decision) ---------------------
    "mint": "INSERT INTO {ks}.ucids (ucid, minted_at, status, updated_at, layer) VALUES (?, ?, 'live', ?, 'speed')",
    "claim": "INSERT INTO {ks}.identifiers (id_type, id_value, ucid, status, source, first_seen, last_seen, layer) "
             "VALUES (?, ?, ?, 'live', ?, ?, ?, 'speed')",
    "member": "INSERT INTO {ks}.identifiers_by_ucid (ucid, id_type, id_value, source, first_seen, last_seen) "
              "VALUES (?, ?, ?, ?, ?, ?)",
    "merged": "UPDATE {ks}.ucids SET status = 'merged', merged_into = ?, updated_at = ?, layer = 'speed' WHERE ucid = ?",
    "alias": "INSERT INTO {ks}.ucid_aliases (alias, ucid, merged_at, rule, change_id) VALUES (?, ?, ?, ?, ?)",
    "change": "INSERT INTO {ks}.identity_changes (ucid, changed_at, change_id, kind, old_ucids, rule, evidence) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "link": "INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, to_value, rule, source, "
            "record_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "repoint": "UPDATE {ks}.identifiers SET ucid = ?, status = 'live', merged_from = ?, layer = 'speed' "
               "WHERE id_type = ? AND id_value = ?",
    # a link the match model made in real time (with its evidence, as the batch publishes it)
    "link_match": "INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, to_value, rule, "
                  "source, record_id, seen_at, match) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    # -- the match model's blocking index (speed reads and writes it; the batch publishes it) ---
    "get_block": "SELECT block_key, source, record_id, anchor_type, anchor_value, ucid, person FROM {ks}.match_blocks "
                 "WHERE block_key = ? LIMIT ?",
    "put_block": "INSERT INTO {ks}.match_blocks (block_key, source, record_id, anchor_type, anchor_value, ucid, person, "
                 "layer, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'speed', ?)",
    # -- leases ---------------------------------------------------------------------------------
    "lock": "INSERT INTO {ks}.speed_locks (name, owner, acquired_at) VALUES (?, ?, toTimestamp(now())) "
            "IF NOT EXISTS USING TTL ?",
    "unlock": "DELETE FROM {ks}.speed_locks WHERE name = ? IF owner = ?",
    # -- events and profiles of the speed layer -------------------------------------------------
    "get_applied": "SELECT event_id, kafka_partition, kafka_offset FROM {ks}.applied_events WHERE event_id = ?",
    "get_applied_in": "SELECT event_id, kafka_partition, kafka_offset FROM {ks}.applied_events WHERE event_id IN ?",
    "applied": "INSERT INTO {ks}.applied_events (event_id, ucid, outcome, topic, kafka_partition, kafka_offset, "
               "applied_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "event": "INSERT INTO {ks}.events_by_ucid (ucid, event_time, event_id, type, channel, source, attributes) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "update": "INSERT INTO {ks}.profile_updates (ucid, event_id, applied_at, event_time, type, channel, source, "
              "amount, consents, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "get_shard": f"SELECT {_SHARD_COLUMNS} FROM {{ks}}.speed_profiles WHERE ucid = ? AND shard = ?",
    "get_shard_in": f"SELECT {_SHARD_COLUMNS} FROM {{ks}}.speed_profiles WHERE ucid IN ? AND shard = ?",
    "get_shards_in": f"SELECT {_SHARD_COLUMNS} FROM {{ks}}.speed_profiles WHERE ucid IN ?",
    "get_shards": f"SELECT {_SHARD_COLUMNS} FROM {{ks}}.speed_profiles WHERE ucid = ?",
    "put_shard": f"INSERT INTO {{ks}}.speed_profiles ({_SHARD_COLUMNS}) VALUES ({_values(_SHARD_COLUMNS)})",
    # -- consent statements (both layers write a statement's row, keyed by its content) ---------
    "put_consent": "INSERT INTO {ks}.consent_statements (ucid, purpose, channel, event_time, source, status, "
                   "legal_basis, layer, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'speed', ?)",
    "get_consents": "SELECT purpose, channel, event_time, source, status, legal_basis, layer "
                    "FROM {ks}.consent_statements WHERE ucid = ? LIMIT 5000",
    # -- triggers -------------------------------------------------------------------------------
    "fire": "INSERT INTO {ks}.trigger_fired (rule, ucid, window_start, event_id, fired_at) VALUES (?, ?, ?, ?, ?) "
            "IF NOT EXISTS",
    "get_pending": "SELECT rule, ucid, due_at, since, event_id FROM {ks}.trigger_pending WHERE shard = ?",
    "put_pending": "INSERT INTO {ks}.trigger_pending (shard, rule, ucid, due_at, since, event_id) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
    "del_pending": "DELETE FROM {ks}.trigger_pending WHERE shard = ? AND rule = ? AND ucid = ?",
    "get_fired_latest": "SELECT rule, ucid, window_start, event_id, fired_at FROM {ks}.trigger_fired "
                        "WHERE rule = ? AND ucid = ? ORDER BY window_start DESC LIMIT 1",
    "get_pending_of": "SELECT shard, rule, ucid, due_at, since, event_id FROM {ks}.trigger_pending "
                      "WHERE shard IN ? AND rule = ? AND ucid = ?",
    # -- reads of the API -----------------------------------------------------------------------
    "get_profile": f"SELECT {_PROFILE_COLUMNS} FROM {{ks}}.profiles WHERE ucid = ?",
    "get_events_first": "SELECT * FROM {ks}.events_by_ucid WHERE ucid = ? LIMIT ?",
    "get_events_same_time": "SELECT * FROM {ks}.events_by_ucid WHERE ucid = ? AND event_time = ? AND event_id > ? "
                            "LIMIT ?",
    "get_events_older": "SELECT * FROM {ks}.events_by_ucid WHERE ucid = ? AND event_time < ? LIMIT ?",
    "get_updates": "SELECT * FROM {ks}.profile_updates WHERE ucid = ? LIMIT 5000",
    "get_updates_after": "SELECT * FROM {ks}.profile_updates WHERE ucid = ? AND applied_at > ? LIMIT 5000",
    "get_schema_versions": "SELECT version FROM {ks}.schema_migrations",
    # contact history (migration 010), newest first; the profile's summary of it
    "get_contacts": f"SELECT {_CONTACT_COLUMNS} FROM {{ks}}.contacts_by_ucid WHERE ucid = ? LIMIT ?",
    "get_contact_summary": "SELECT contact_counts, contact_last FROM {ks}.profiles WHERE ucid = ?",
    # -- API keys -------------------------------------------------------------------------------
    "get_api_key": "SELECT key_id, secret_hash, name, scopes, created_at, revoked_at FROM {ks}.api_keys "
                   "WHERE key_id = ?",
    "all_api_keys": "SELECT key_id, secret_hash, name, scopes, created_at, revoked_at FROM {ks}.api_keys",
    "put_api_key": "INSERT INTO {ks}.api_keys (key_id, secret_hash, name, scopes, created_at) VALUES (?, ?, ?, ?, ?)",
    "revoke_api_key": "UPDATE {ks}.api_keys SET revoked_at = ? WHERE key_id = ?",
    # -- the batch's last complete publish into this keyspace (batch.publish: rows that changed) --
    "get_batch_publish": "SELECT publish_id, run_id, published_at FROM {ks}.batch_publishes WHERE name = 'batch'",
    "put_batch_publish": "INSERT INTO {ks}.batch_publishes (name, publish_id, run_id, published_at) "
                         "VALUES ('batch', ?, ?, ?)",
    # -- the audit trail (append-only: the API only inserts; `ucid audit` reads newest first) --
    "put_audit": "INSERT INTO {ks}.audit_by_ucid (ucid, at, action, key_id, key_name, via, requested_ucid) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "get_audit": "SELECT ucid, at, action, key_id, key_name, via, requested_ucid FROM {ks}.audit_by_ucid "
                 "WHERE ucid = ? LIMIT ?",
    # -- erasure (issue 16; docs/privacy.md): the suppression list, the receipts, the deletes ---
    "put_suppression": "INSERT INTO {ks}.suppression (hash, erasure_id, added_at) VALUES (?, ?, ?)",
    "get_suppression_in": "SELECT hash FROM {ks}.suppression WHERE hash IN ?",
    "scan_suppression": "SELECT hash FROM {ks}.suppression",
    "put_erasure": "INSERT INTO {ks}.erasures (erasure_id, requested_at, key_id, key_name, via, ucids, identifiers, "
                   "removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "get_erasure": "SELECT * FROM {ks}.erasures WHERE erasure_id = ?",
    "scan_erasures": "SELECT * FROM {ks}.erasures",
    "put_erasure_lake": "UPDATE {ks}.erasures SET lake_at = ?, lake_removed = lake_removed + ? WHERE erasure_id = ?",
    "put_erasure_vacuumed": "UPDATE {ks}.erasures SET vacuumed_at = ? WHERE erasure_id = ?",
    "erase_identifier": "DELETE FROM {ks}.identifiers WHERE id_type = ? AND id_value = ?",
    "erase_identifiers_by_ucid": "DELETE FROM {ks}.identifiers_by_ucid WHERE ucid = ?",
    "erase_ucids": "DELETE FROM {ks}.ucids WHERE ucid = ?",
    "erase_ucid_aliases": "DELETE FROM {ks}.ucid_aliases WHERE alias = ?",
    "erase_profiles": "DELETE FROM {ks}.profiles WHERE ucid = ?",
    "erase_events_by_ucid": "DELETE FROM {ks}.events_by_ucid WHERE ucid = ?",
    "erase_identity_changes": "DELETE FROM {ks}.identity_changes WHERE ucid = ?",
    "erase_links_by_ucid": "DELETE FROM {ks}.links_by_ucid WHERE ucid = ?",
    "erase_profile_updates": "DELETE FROM {ks}.profile_updates WHERE ucid = ?",
    "erase_speed_profiles": "DELETE FROM {ks}.speed_profiles WHERE ucid = ?",
    "erase_consent_statements": "DELETE FROM {ks}.consent_statements WHERE ucid = ?",
    "erase_contacts_by_ucid": "DELETE FROM {ks}.contacts_by_ucid WHERE ucid = ?",
    "erase_traits_by_ucid": "DELETE FROM {ks}.traits_by_ucid WHERE ucid = ?",
    "erase_segments_by_ucid": "DELETE FROM {ks}.segments_by_ucid WHERE ucid = ?",
    "erase_segment_changes": "DELETE FROM {ks}.segment_changes WHERE ucid = ?",
    "erase_applied_events": "DELETE FROM {ks}.applied_events WHERE event_id = ?",
    "erase_trigger_fired": "DELETE FROM {ks}.trigger_fired WHERE rule = ? AND ucid = ?",
    "erase_match_blocks": "DELETE FROM {ks}.match_blocks WHERE block_key = ? AND source = ? AND record_id = ?",
    "scan_match_blocks": "SELECT block_key, source, record_id, anchor_type, anchor_value, ucid FROM {ks}.match_blocks",
    "scan_trigger_pending": "SELECT shard, rule, ucid FROM {ks}.trigger_pending",
    # -- batch publish (USING TIMESTAMP: the lambda contract) -----------------------------------
    "publish_ucids": "INSERT INTO {ks}.ucids (ucid, minted_at, status, merged_into, updated_at, layer) "
                     "VALUES (?, ?, ?, ?, ?, 'batch') USING TIMESTAMP ?",
    "publish_ucid_aliases": "INSERT INTO {ks}.ucid_aliases (alias, ucid, merged_at, rule, change_id) "
                            "VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "publish_identifiers_by_ucid": "INSERT INTO {ks}.identifiers_by_ucid (ucid, id_type, id_value, source, "
                                   "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "publish_identifiers": "INSERT INTO {ks}.identifiers (id_type, id_value, ucid, status, merged_from, source, "
                           "first_seen, last_seen, layer) VALUES (?, ?, ?, 'live', null, ?, ?, ?, 'batch') "
                           "USING TIMESTAMP ?",
    "publish_retired_identifier": "UPDATE {ks}.identifiers USING TIMESTAMP ? SET status = 'retired', layer = 'batch' "
                                  "WHERE id_type = ? AND id_value = ?",
    "publish_profiles": f"INSERT INTO {{ks}}.profiles ({_PROFILE_COLUMNS}) VALUES ({_values(_PROFILE_COLUMNS)}) "
                        "USING TIMESTAMP ?",
    "publish_identity_changes": "INSERT INTO {ks}.identity_changes (ucid, changed_at, change_id, kind, old_ucids, "
                                "rule, evidence) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "publish_links_by_ucid": "INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, "
                             "to_value, rule, source, record_id, seen_at, match) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "publish_match_blocks": "INSERT INTO {ks}.match_blocks (block_key, source, record_id, anchor_type, anchor_value, "
                            "ucid, person, layer, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'batch', ?) USING TIMESTAMP ?",
    "publish_consent_statements": "INSERT INTO {ks}.consent_statements (ucid, purpose, channel, event_time, source, "
                                  "status, legal_basis, layer, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'batch', ?) "
                                  "USING TIMESTAMP ?",
    "publish_contacts_by_ucid": f"INSERT INTO {{ks}}.contacts_by_ucid ({_CONTACT_COLUMNS}) "
                                f"VALUES ({_values(_CONTACT_COLUMNS)}) USING TIMESTAMP ?",
    "publish_profile_contacts": "INSERT INTO {ks}.profiles (ucid, contact_counts, contact_last) VALUES (?, ?, ?) "
                                "USING TIMESTAMP ?",
    "publish_events_by_ucid": "INSERT INTO {ks}.events_by_ucid (ucid, event_time, event_id, type, channel, source, "
                              "attributes) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "publish_traits_by_ucid": "INSERT INTO {ks}.traits_by_ucid (ucid, traits, batch_facts, batch_snapshot, "
                              "evaluated_at, layer) VALUES (?, ?, ?, ?, ?, 'batch') USING TIMESTAMP ?",
    "publish_segment_members": "INSERT INTO {ks}.segment_members (segment, ucid, member, since, layer) "
                               "VALUES (?, ?, ?, ?, 'batch') USING TIMESTAMP ?",
    "publish_segments_by_ucid": "INSERT INTO {ks}.segments_by_ucid (ucid, segment, member, since, layer) "
                                "VALUES (?, ?, ?, ?, 'batch') USING TIMESTAMP ?",
    # -- computed traits and segments (migration 012) ---------------------------------------------
    # the speed layer: the inputs of a poll's touched UCIDs in IN reads, its writes
    "get_updates_in": "SELECT ucid, event_id, applied_at, event_time, type, channel, amount, attributes "
                      "FROM {ks}.profile_updates WHERE ucid IN ?",
    "get_consents_in": "SELECT ucid, purpose, channel, event_time, source, status, legal_basis "
                       "FROM {ks}.consent_statements WHERE ucid IN ?",
    "get_changes_in": "SELECT ucid, kind, old_ucids FROM {ks}.identity_changes WHERE ucid IN ?",
    "get_attributes_in": "SELECT ucid, attributes FROM {ks}.profiles WHERE ucid IN ?",
    "get_traits_in": "SELECT ucid, traits, batch_facts, batch_snapshot FROM {ks}.traits_by_ucid WHERE ucid IN ?",
    "get_segments_of_in": "SELECT ucid, segment, member, since FROM {ks}.segments_by_ucid WHERE ucid IN ?",
    "put_traits": "INSERT INTO {ks}.traits_by_ucid (ucid, traits, evaluated_at, layer) VALUES (?, ?, ?, 'speed')",
    "put_segment_member": "INSERT INTO {ks}.segment_members (segment, ucid, member, since, layer) "
                          "VALUES (?, ?, ?, ?, 'speed')",
    "put_segment_of": "INSERT INTO {ks}.segments_by_ucid (ucid, segment, member, since, layer) "
                      "VALUES (?, ?, ?, ?, 'speed')",
    "put_segment_change": "INSERT INTO {ks}.segment_changes (ucid, changed_at, change_id, segment, change, cause, "
                          "layer) VALUES (?, ?, ?, ?, ?, ?, 'speed')",
    # the API and `ucid segments`: one partition per segment, members filtered in it, paged by UCID
    "get_traits": "SELECT traits, evaluated_at, layer FROM {ks}.traits_by_ucid WHERE ucid = ?",
    "get_segments_of": "SELECT segment, member, since, layer FROM {ks}.segments_by_ucid WHERE ucid = ?",
    "get_segment_changes": "SELECT ucid, changed_at, change_id, segment, change, cause, layer "
                           "FROM {ks}.segment_changes WHERE ucid = ? LIMIT ?",
    "get_segment_members_first": "SELECT ucid, since, layer FROM {ks}.segment_members WHERE segment = ? "
                                 "AND member = true LIMIT ? ALLOW FILTERING",
    "get_segment_members_after": "SELECT ucid, since, layer FROM {ks}.segment_members WHERE segment = ? "
                                 "AND ucid > ? AND member = true LIMIT ? ALLOW FILTERING",
    "get_segment_members_all": "SELECT ucid FROM {ks}.segment_members WHERE segment = ? AND member = true "
                               "ALLOW FILTERING",
    "count_segment_members": "SELECT count(*) AS n FROM {ks}.segment_members WHERE segment = ? AND member = true "
                             "ALLOW FILTERING",
    "erase_segment_members": "DELETE FROM {ks}.segment_members WHERE segment = ? AND ucid = ?",
    # -- whole-table scans (validation of what was published; speed state read back by token range)
    "scan_identifiers": "SELECT id_type, id_value, ucid, status FROM {ks}.identifiers",
    "scan_ucids": "SELECT ucid, status, merged_into FROM {ks}.ucids",
    "scan_aliases": "SELECT alias, ucid FROM {ks}.ucid_aliases",
    "scan_members": "SELECT ucid, id_type, id_value FROM {ks}.identifiers_by_ucid LIMIT ?",
    "range_identifiers_first": "SELECT id_type, id_value, ucid, first_seen, layer FROM {ks}.identifiers "
                               "WHERE token(id_type, id_value) >= ? AND token(id_type, id_value) <= ?",
    "range_identifiers": "SELECT id_type, id_value, ucid, first_seen, layer FROM {ks}.identifiers "
                         "WHERE token(id_type, id_value) > ? AND token(id_type, id_value) <= ?",
    "range_ucids_first": "SELECT ucid, minted_at, status, merged_into, layer FROM {ks}.ucids "
                         "WHERE token(ucid) >= ? AND token(ucid) <= ?",
    "range_ucids": "SELECT ucid, minted_at, status, merged_into, layer FROM {ks}.ucids "
                   "WHERE token(ucid) > ? AND token(ucid) <= ?",
}

LWT = frozenset({"lock", "unlock", "fire"})
READS = frozenset(n for n in STATEMENTS if n.startswith(("get_", "all_", "scan_", "range_", "count_")))
PUBLISHED_TABLES = ("ucids", "ucid_aliases", "identifiers_by_ucid", "identifiers", "profiles", "identity_changes",
                    "links_by_ucid", "events_by_ucid", "contacts_by_ucid", "consent_statements", "traits_by_ucid",
                    "segment_members", "segments_by_ucid")


ERASE_BY_UCID = ("identifiers_by_ucid", "ucids", "profiles", "events_by_ucid", "identity_changes", "links_by_ucid",
                 "profile_updates", "speed_profiles", "consent_statements", "contacts_by_ucid", "traits_by_ucid",
                 "segments_by_ucid", "segment_changes")
"""The tables whose partitions are keyed by UCID, each with an ``erase_<table>`` statement (an
erasure deletes the partition of each of the person's UCIDs). ``ucid_aliases`` is keyed by the
alias; ``segment_members`` by segment (``erase_segment_members``, per segment and UCID); ``identifiers``, ``applied_events``, ``trigger_fired`` and ``match_blocks`` by other keys;
``audit_by_ucid`` is kept (docs/privacy.md)."""


def table_of(name: str) -> str:
    """The table a statement reads or writes."""
    return STATEMENTS[name].split("{ks}.", 1)[1].split()[0].split("(")[0]
