"""The speed layer: Kafka events -> real-time identity stitching and profile updates in Cassandra.

Modules: ``settings`` (``UCID_SPEED_*``), ``contract`` (the versioned event contract, its JSON
Schema, message keys, landing rows), ``schema`` (that JSON Schema compiled: the reference
validator whose messages are the dead-letter reasons, and a fast one for valid events),
``store`` (Cassandra statements), ``stitching`` (the identity core's
:func:`~identity.stitch.stitch` applied under leases, written atomically),
``matching`` (real-time scoring with the match model: the blocking index, the batch's decision),
``profile`` (incremental, idempotent profile summaries), ``triggers`` (configured event
triggers), ``landing`` (JSON-lines files for the batch layer's bronze table), ``metrics``,
``consumer`` (the ``ucid speed run`` loop) and ``produce`` (``ucid produce``).
Nothing connects at import time.
"""
