"""The event schema (``conf/events/event.schema.json``) compiled twice.

* ``reference``: :class:`jsonschema.Draft202012Validator`. Its first error (sorted by path) is the
  reason a dead letter carries, so every invalid event is judged by it.
* ``fast``: the same schema compiled to Python code by ``fastjsonschema``, used only to let valid
  events through cheaply. It is built only when every keyword of the schema is one whose
  fastjsonschema code was checked to accept nothing that jsonschema refuses
  (:data:`FAST_KEYWORDS`); otherwise it is ``None`` and every event takes the reference path.

Why a list of keywords: fastjsonschema 2.22 has no draft 2020-12 generator (a 2020-12 schema is
compiled as draft 2019-09, i.e. draft 7 plus formats), so a 2020-12 keyword such as
``prefixItems``, ``$defs``, ``dependentRequired`` or ``unevaluatedProperties`` would be ignored
silently, ``items`` means something else, and ``default`` would write into the event. Each
``pattern`` is trusted only with ``$`` as its last character: fastjsonschema rewrites every
unescaped ``$`` to ``\\Z``, which as the final anchor is only stricter (``"login\\n"`` fails fast,
then passes the reference check as it does today) but elsewhere could change the pattern.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FAST_KEYWORDS = frozenset({
    # annotations: no effect on validity in either library
    "$schema", "$id", "$comment", "title", "description", "examples",
    # assertions and applicators whose generated code was read and compared with jsonschema's
    "type", "const", "required", "properties", "additionalProperties", "propertyNames",
    "minProperties", "maxProperties", "minLength", "maxLength", "pattern",
})
"""Keywords the fast validator may meet. Another keyword anywhere in the schema turns it off."""

SUBSCHEMA_KEYWORDS = ("additionalProperties", "propertyNames")
"""Keywords whose value is one schema (``properties`` holds a schema per property)."""


@dataclass(frozen=True, slots=True)
class EventSchema:
    """The compiled schema: ``reference`` judges and words every refusal; ``fast`` (or ``None``)
    raises ``fastjsonschema.JsonSchemaException`` for a document it does not accept, and accepts
    none that ``reference`` refuses. ``untrusted`` says why ``fast`` is ``None``."""

    reference: Any
    fast: Callable[[Any], Any] | None
    untrusted: tuple[str, ...] = ()


def untrusted_parts(schema: Any, where: str = "#") -> Iterator[str]:
    """The places of ``schema`` the fast validator cannot be trusted with (empty if none)."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        yield f"{where}: not a schema"
        return
    for keyword, value in schema.items():
        if keyword not in FAST_KEYWORDS:
            yield f"{where}/{keyword}: keyword not checked for the fast validator"
        elif keyword == "pattern" and (not isinstance(value, str) or "$" in value[:-1]):
            yield f"{where}/pattern: '$' before the end ({value!r})"
        elif keyword == "properties":
            if not isinstance(value, dict):
                yield f"{where}/properties: not an object"
                continue
            for name, sub in value.items():
                yield from untrusted_parts(sub, f"{where}/properties/{name}")
        elif keyword in SUBSCHEMA_KEYWORDS:
            yield from untrusted_parts(value, f"{where}/{keyword}")


def compile_schema(schema: Any) -> EventSchema:
    """Both validators of a JSON Schema document (``jsonschema.SchemaError`` if it is not one)."""
    import fastjsonschema
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)
    reference = Draft202012Validator(schema)
    untrusted = tuple(untrusted_parts(schema))
    if untrusted:
        return EventSchema(reference, None, untrusted)
    try:
        # detailed_exceptions stays on: fastjsonschema 2.22.3 fails on ``const`` without it (KeyError)
        fast = fastjsonschema.compile(schema, use_default=False, use_formats=False)
    except Exception as exc:  # noqa: BLE001 - a schema it cannot compile is checked by jsonschema alone
        return EventSchema(reference, None, (f"#: fastjsonschema cannot compile it: {type(exc).__name__}: {exc}",))
    return EventSchema(reference, fast)


@cache
def load_schema(path: Path) -> EventSchema:
    """The compiled validators of the JSON Schema at ``path`` (cached per path). Without a fast
    validator every event is judged by jsonschema alone -- correct, and several times slower --
    so that is logged once, with why."""
    schema = compile_schema(json.loads(path.read_text(encoding="utf-8")))
    if schema.fast is None:
        from infra.log import get_logger

        get_logger("speed.schema").warning("event contract without a compiled check: every event is validated "
                                           "by jsonschema alone", schema=str(path), why="; ".join(schema.untrusted))
    return schema
