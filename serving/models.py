"""Request and response models of the API (separate from the Cassandra rows they are built from).

The 360 document keeps the seed's rationalized customer shape: ``_id``, ``platformHeader``,
``identity``, ``profile``, ``events``, plus ``consents``, ``preferences`` and ``traits``.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime as _datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _utc(value: _datetime) -> _datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


datetime = Annotated[_datetime, AfterValidator(_utc)]
"""Every time of a response is UTC with its offset (``...Z``): the driver reads Cassandra's
timestamps as naive UTC, and a time without an offset is no RFC 3339 ``date-time``, which the
schema promises (schemathesis checks it)."""

TYPE_MAX = 64
VALUE_MAX = 256
"""Longest raw identifier value the API takes: the event contract's limit
(``conf/events/event.schema.json``) and the identity core's default ``max_length``, so a value
one layer would refuse for its length is refused by all of them."""
API_VERSION = "v1"
DOCUMENT_SCHEMA = "ucid.customer/1"


class Problem(BaseModel):
    """Every error answer: a stable ``error`` code and a human ``detail``."""

    error: str = Field(examples=["not_found"])
    detail: str | list | dict = Field(examples=["no customer holds email:jane@example.com"])


class IdentifierIn(BaseModel):
    """One identifier as a channel system knows it; ``value`` is normalized by the server."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=TYPE_MAX, examples=["email"])
    value: str = Field(min_length=1, max_length=VALUE_MAX, examples=["Jane.Doe@Example.com"])


class Resolution(BaseModel):
    """Where an identifier leads. ``merged`` is true when the UCID it was assigned to has been
    merged away; ``merged_from`` is the alias chain walked (first = the UCID it pointed at)."""

    type: str
    value: str = Field(description="normalized value the lookup used")
    ucid: str = Field(description="the live UCID")
    merged: bool
    merged_from: list[str] = Field(default_factory=list)
    source: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    layer: str | None = Field(None, description="layer that wrote the identifier row: batch or speed")


class BatchResolveIn(BaseModel):
    """Up to ``UCID_SERVING_BATCH_MAX`` identifiers (100 by default) in one call."""

    model_config = ConfigDict(extra="forbid")

    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=1000)


class BatchItem(BaseModel):
    """One answer of a batch, in request order: ``found`` (with ``resolution``), ``not_found``,
    or ``invalid`` (with ``detail``)."""

    type: str
    value: str = Field(description="the value as sent")
    status: Literal["found", "not_found", "invalid"]
    resolution: Resolution | None = None
    detail: str | None = None


class BatchResolveOut(BaseModel):
    results: list[BatchItem]
    found: int
    not_found: int
    invalid: int


class IdentityEntry(BaseModel):
    value: str
    source: str | None = None
    firstSeen: datetime | None = None
    lastSeen: datetime | None = None


class CustomerId(BaseModel):
    ucid: str
    requested: str = Field(description="the UCID or identifier the call named")
    merged: bool = Field(description="the requested UCID was merged into `ucid`")
    mergedFrom: list[str] = Field(default_factory=list)


class Freshness(BaseModel):
    batchSnapshot: datetime | None = Field(None, description="snapshot time of the batch view used")
    speedUpdatesApplied: int = Field(description="speed-layer updates newer than the snapshot merged in")
    speedUpdatedAt: datetime | None = Field(None, description="time of the newest speed update merged in")
    speedLayerAvailable: bool = Field(description="the speed layer's profile_updates table was read")


class PlatformHeader(BaseModel):
    schemaVersion: str = DOCUMENT_SCHEMA
    apiVersion: str = API_VERSION
    storeSchemaVersion: int | None = Field(None, description="highest CQL migration applied")
    generatedAt: datetime
    dataFreshness: Freshness


class ProfileSection(BaseModel):
    attributes: dict[str, str] = Field(default_factory=dict, description="values by survivorship")
    attributeSources: dict[str, str] = Field(default_factory=dict)
    channelCounts: dict[str, int] = Field(default_factory=dict)
    lastContact: dict[str, datetime] = Field(default_factory=dict)
    firstSeen: datetime | None = None
    lastSeen: datetime | None = None
    lifetimeSpend: Decimal | None = None


class Event(BaseModel):
    eventId: str
    eventTime: datetime
    type: str | None = None
    channel: str | None = None
    source: str | None = None
    ucid: str = Field(description="UCID the event was recorded under (an alias after a merge)")
    attributes: dict[str, str] = Field(default_factory=dict)


class EventsPage(BaseModel):
    events: list[Event]
    nextCursor: str | None = Field(None, description="pass as `cursor` for the next, older page")


class ContactSummaryEntry(BaseModel):
    count: int = Field(description="contacts in this direction on this channel")
    lastStartedAt: datetime | None = Field(None, description="start of the latest of them")


class ContactOut(BaseModel):
    """One contact (identity/contacts.py): outbound (an e-mail campaign), inbound (a web / app
    session) or assisted (a contact-center call or chat), with the customer's responses."""

    contactId: str = Field(description="<channel>:<campaign id | session id | event:<event id>>")
    direction: Literal["outbound", "inbound", "assisted"]
    channel: str = Field(examples=["email"])
    startedAt: datetime
    lastAt: datetime
    topic: str | None = Field(None, description="the campaign, the contact reason, or the landing page / screen")
    outcome: str = Field(description="the strongest response (clicked, purchased, abandoned_cart...), the agent's "
                                     "outcome (resolved, callback...), or no_response / browsed")
    responses: dict[str, datetime] = Field(default_factory=dict, description="response -> first time seen")
    details: dict[str, str] = Field(default_factory=dict)


class ContactsPage(BaseModel):
    contacts: list[ContactOut]
    nextCursor: str | None = Field(None, description="pass as `cursor` for the next, older page")


TraitValue = float | int | str | bool | None


class SegmentMembership(BaseModel):
    name: str
    since: datetime | None = Field(None, description="when the layer that wrote it last changed it")
    layer: str | None = Field(None, description="batch or speed")


class SegmentChange(BaseModel):
    changeId: str = Field(description="deterministic: the same change replayed has the same id")
    segment: str
    change: Literal["entered", "left"]
    at: datetime
    layer: str | None = None
    cause: dict = Field(default_factory=dict, description="event ids and the trait values that changed")


class ProfileSegments(BaseModel):
    ucid: str = Field(description="the live customer (a merged-away UCID answers with its survivor)")
    segments: list[SegmentMembership]
    traits: dict[str, TraitValue] = Field(default_factory=dict)
    evaluatedAt: datetime | None = Field(None, description="the `now` the traits were last evaluated at")
    layer: str | None = Field(None, description="the layer that evaluated them last")
    changes: list[SegmentChange] = Field(default_factory=list, description="recent membership changes, newest first")


class SegmentSummary(BaseModel):
    name: str
    description: str
    members: int = Field(description="customers in the segment now")


class SegmentList(BaseModel):
    segments: list[SegmentSummary]


class SegmentMember(BaseModel):
    ucid: str
    since: datetime | None = None
    layer: str | None = None


class SegmentMembersPage(BaseModel):
    segment: str
    members: list[SegmentMember]
    nextCursor: str | None = Field(None, description="pass as `cursor` for the next page; absent on the last")


class Customer360(BaseModel):
    """The rationalized customer document."""

    model_config = ConfigDict(populate_by_name=True)

    id: CustomerId = Field(alias="_id")
    platformHeader: PlatformHeader
    identity: dict[str, list[IdentityEntry]] = Field(description="identifier type -> identifiers")
    profile: ProfileSection
    contactSummary: dict[str, ContactSummaryEntry] = Field(
        default_factory=dict, description="`direction:channel` -> contacts as of the batch snapshot")
    consents: dict[str, str] = Field(default_factory=dict)
    preferences: dict[str, str] = Field(default_factory=dict)
    traits: dict[str, str] = Field(default_factory=dict, description="the profile's traits, with the computed "
                                   "traits of conf/segments.yaml as text (typed in `computedTraits`)")
    computedTraits: dict[str, TraitValue] = Field(default_factory=dict, description="computed traits (docs/segments.md)")
    segments: list[SegmentMembership] = Field(default_factory=list, description="the segments the customer is in")
    events: list[Event] = Field(description="most recent events first (one page)")
    eventsNextCursor: str | None = Field(None, description="cursor of the next page of events")


class ExportIdentifier(IdentityEntry):
    type: str


class IdentityChange(BaseModel):
    ucid: str | None = None
    changedAt: datetime | None = None
    changeId: str | None = None
    kind: str | None = None
    oldUcids: list[str] = Field(default_factory=list)
    rule: str | None = None
    evidence: str | None = None


class ExportLink(BaseModel):
    fromType: str | None = None
    fromValue: str | None = None
    toType: str | None = None
    toValue: str | None = None
    rule: str | None = None
    source: str | None = None
    recordId: str | None = None
    seenAt: datetime | None = None


class SubjectExport(BaseModel):
    """Everything the serving store holds about one person (subject access, issue 16)."""

    model_config = ConfigDict(populate_by_name=True)

    id: CustomerId = Field(alias="_id")
    schemaVersion: str
    exportedAt: datetime
    ucids: list[str] = Field(description="the live UCID, then the UCIDs merged into it")
    identifiers: list[ExportIdentifier]
    profile: ProfileSection
    contactSummary: dict[str, ContactSummaryEntry] = Field(default_factory=dict)
    consents: dict[str, str] = Field(default_factory=dict)
    consentStatements: list[ConsentStatement] = Field(
        default_factory=list, description="every consent statement per purpose and channel, newest first in each")
    preferences: dict[str, str] = Field(default_factory=dict)
    traits: dict[str, str] = Field(default_factory=dict)
    dataFreshness: Freshness
    events: list[Event] = Field(description="the whole stored timeline, newest first")
    contacts: list[ContactOut] = Field(description="the whole contact history, newest first")
    identityChanges: list[IdentityChange]
    links: list[ExportLink]
    notes: str


class ConsoleSession(BaseModel):
    """What the agent console needs to know about the key it was given."""

    keyId: str
    name: str
    scopes: list[str]
    missing: list[str] = Field(description="scopes the console calls need that the key lacks (empty: all there)")
    identifierTypes: list[str] = Field(description="identifier types the search may try (conf/rules.yaml)")


class OpenTrigger(BaseModel):
    """A trigger of the speed layer still open for the customer: ``waiting`` (an absence rule
    until ``dueAt``) or ``fired`` in a window that ends at ``windowEnds``."""

    rule: str
    state: Literal["waiting", "fired"]
    ucid: str = Field(description="UCID the trigger was kept under (an alias after a merge)")
    eventId: str | None = None
    since: datetime | None = Field(None, description="the event that opened it (waiting) or the window start (fired)")
    dueAt: datetime | None = None
    firedAt: datetime | None = None
    windowEnds: datetime | None = None


class ConsoleHistory(BaseModel):
    """The console's own read of one customer: merge history and open triggers."""

    ucid: str = Field(description="the live UCID answered (the survivor of a merged one)")
    requested: str
    ucids: list[str] = Field(description="the live UCID, then the UCIDs merged into it")
    identityChanges: list[IdentityChange] = Field(description="merges and retirements of each UCID, newest first")
    triggers: list[OpenTrigger]


class ErasureReceipt(BaseModel):
    """What an erasure removed from the serving store, and what is left to the lake step (issue 16).
    Nothing personal: counts, the key, how the person was named, their UCIDs (pseudonyms)."""

    erasureId: str
    requestedAt: datetime
    keyId: str
    via: str = Field(description="'ucid', or 'identifier:<type>' (the type only)")
    ucids: list[str] = Field(description="the erased UCIDs: the live one, then those merged into it")
    identifiers: int = Field(description="how many identifiers were erased and suppressed")
    removed: dict[str, int] = Field(description="per place: rows (identifiers, applied events, aliases) or UCID "
                                    "partitions removed from Cassandra; 'suppression': hashes added")
    pending: list[str] = Field(description="places the lake step (`ucid privacy finish`) cleans later: the Delta "
                               "tables, the landing files, the blocking index, trigger rows")


class Comparison(BaseModel):
    """One compared attribute of a probabilistic link: its level and match weight (bits)."""

    comparison: str
    level: int = Field(description="Splink's level (gamma): -1 missing on one side, 0 the else level")
    label: str
    weight: float


class MatchDetail(BaseModel):
    """Why the match model linked two records that share no identifier."""

    model: str = Field(description="version of the model file in force")
    probability: float
    weight: float = Field(description="match weight: log2 of the Bayes factor, prior included")
    comparisons: list[Comparison]
    summary: str = Field(description="the same in words")


class LinkStep(BaseModel):
    """One accepted link: ``rule`` (identifier-type pair, or the match model's rule) and the
    source records evidencing it; ``match`` for a link the match model made."""

    from_type: str
    from_value: str
    to_type: str
    to_value: str
    rule: str
    records: list[dict[str, str]] = Field(description="[{source, record_id}] that hold both")
    match: MatchDetail | None = None


class Explanation(BaseModel):
    """Why ``a`` and ``b`` are (or are not) one customer."""

    a: Resolution
    b: Resolution
    same_customer: bool
    chain: list[LinkStep] | None = Field(
        None, description="links from a to b, in walking order; [] if a == b; null if not linked"
    )
    detail: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready", "unavailable"]
    cassandra: bool
    keyspace: str
    schema_version: int | None = None
    speed_layer_table: bool = False
    detail: str | None = None


class Noop(BaseModel):
    ok: bool = True


class ConsentStatement(BaseModel):
    """One consent statement: ``status`` for ``purpose`` on ``channel``, recorded by ``source``
    at ``eventTime`` on ``legalBasis``."""

    purpose: str
    channel: str
    status: Literal["opt_in", "opt_out"]
    source: str
    eventTime: datetime
    legalBasis: str


class ConsentDecision(BaseModel):
    """May the customer be contacted for ``purpose`` on ``channel``: ``reason`` ``opted_in`` /
    ``opted_out`` rest on ``statement`` (the latest by event time); ``default_allowed`` /
    ``default_denied`` apply the purpose's default of conf/consents.yaml (no statement)."""

    purpose: str
    channel: str
    allowed: bool
    reason: Literal["opted_in", "opted_out", "default_allowed", "default_denied"]
    legalBasis: str | None = Field(description="of the statement, or the purpose's for a default that allows")
    statement: ConsentStatement | None


class Consents(BaseModel):
    """A customer's consent statements (batch and speed) and the decision per purpose and channel."""

    ucid: str = Field(description="the live UCID answered (the survivor of a merged one)")
    statements: list[ConsentStatement] = Field(description="newest first per purpose and channel")
    decisions: list[ConsentDecision] = Field(description="every purpose and channel of the vocabulary")


class Contactability(ConsentDecision):
    """The decision for one customer, purpose and channel."""

    ucid: str = Field(description="the live UCID answered (the survivor of a merged one)")
