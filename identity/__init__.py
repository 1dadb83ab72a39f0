"""ucid's identity domain core: pure Python, shared by the batch, speed and serving layers.

Modules: ``types`` (identifier registry, normalizers, blocked values), ``rules`` (rules.yaml ->
Policy), ``records`` (rows -> identifiers -> links), ``cluster`` (limit-aware, decomposable
union-find), ``ucids`` (stable UCIDs, aliases, change events), ``explain``, ``stitch`` (one record
at a time), ``survivorship``, ``resolve`` (the batch pipeline), ``sources`` (source definitions).
Only the standard library, pydantic, pyyaml and phonenumbers may be imported here.
"""
