"""A customer's consents as the API shows them: every statement of the customer (batch and speed
rows alike, under the survivor and the UCIDs merged into it) and the decision per purpose and
channel, by the identity core's fold (:mod:`identity.consents`).

The lambda merge of consents is the union: both layers write a statement as the same row, keyed
by its content (migration 009), and the fold does not depend on which layer wrote a row or in
which order rows are read, so the answer is the batch's statements plus the speed layer's, folded
once. Pure but for :func:`statements`, which reads the rows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from identity.consents import Decision, Statement, Vocabulary, decide, decide_all
from infra.store.aio import ApiReads, Row


def _ms(value: datetime) -> int:
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)


def statement_of(row: Row) -> Statement:
    return Statement(row["purpose"], row["channel"], row["status"], row["source"], _ms(row["event_time"]),
                     row["legal_basis"])


async def statements(store: ApiReads, ucids: list[str]) -> list[Statement]:
    """The distinct statements under ``ucids``, newest first per (purpose, channel)."""
    parts = await asyncio.gather(*(store.consents(u) for u in ucids))
    found = {statement_of(r) for part in parts for r in part}
    return sorted(found, key=lambda s: (s.purpose, s.channel, -s.time_ms, s.source, s.status, s.legal_basis))


def statement_body(s: Statement | None) -> dict | None:
    if s is None:
        return None
    return {"purpose": s.purpose, "channel": s.channel, "status": s.status, "source": s.source,
            "eventTime": datetime.fromtimestamp(s.time_ms / 1000, UTC), "legalBasis": s.legal_basis}


def decision_body(purpose: str, channel: str, d: Decision) -> dict:
    return {"purpose": purpose, "channel": channel, "allowed": d.allowed, "reason": d.reason,
            "legalBasis": d.legal_basis, "statement": statement_body(d.statement)}


def document(vocabulary: Vocabulary, ucid: str, held: list[Statement]) -> dict:
    """``/v1/profiles/{ucid}/consents``: the statements and the decision of every (purpose, channel)."""
    return {"ucid": ucid, "statements": [statement_body(s) for s in held],
            "decisions": [decision_body(p, c, d) for (p, c), d in decide_all(vocabulary, held).items()]}


def contactability(vocabulary: Vocabulary, ucid: str, held: list[Statement], purpose: str, channel: str) -> dict:
    """``/v1/contactability``: the decision for one (purpose, channel); raises
    ``UnknownConsentTerm`` for terms outside the vocabulary."""
    return {"ucid": ucid, **decision_body(purpose, channel, decide(vocabulary, held, purpose, channel))}
