"""Event sources: web and app clickstream, contact-center interactions, e-mail campaign events,
and consent changes inside the window. Every event is also a stream event (see ``stream.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from ucid.generate import noise as nz
from ucid.generate.emit import ChunkOutput, Row
from ucid.generate.ids import Allocator, Clock, daytime_seconds, derive_seed, hex_id
from ucid.generate.people import Chunk, Device, Person
from ucid.generate.profiles import consent_event, consent_key
from ucid.generate.vocab import (
    APP_SCREENS,
    CAMPAIGN_THEMES,
    CONTACT_OUTCOMES,
    CONTACT_QUEUES,
    CONTACT_REASONS,
    PRODUCTS,
    WEB_PAGES,
)

_ACCOUNT_PAGES = tuple(p for p in WEB_PAGES if p.startswith("/account"))
_PUBLIC_PAGES = tuple(p for p in WEB_PAGES if not p.startswith("/account"))
_REASONS = tuple(r for r, _ in CONTACT_REASONS)
_REASON_WEIGHTS = tuple(w for _, w in CONTACT_REASONS)
_OUTCOMES = tuple(o for o, _ in CONTACT_OUTCOMES)
_OUTCOME_WEIGHTS = tuple(w for _, w in CONTACT_OUTCOMES)
_CAMPAIGN_WEEKDAYS = (1, 3, 5, 0, 2, 4, 6)  # Tue, Thu, Sat, ... in order of use


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    name: str
    day: int
    send_ms: int


def campaign_schedule(seed: int, clock: Clock) -> list[Campaign]:
    """The e-mail campaigns of the window: global, a pure function of the seed and the window."""
    rng = random.Random(derive_seed(seed, "campaigns"))
    weekdays = set(_CAMPAIGN_WEEKDAYS[: nz.CAMPAIGNS_PER_WEEK])
    out = []
    for day in range(clock.days):
        when = clock.start + timedelta(days=day)
        if when.weekday() in weekdays:
            theme = rng.choice(CAMPAIGN_THEMES)
            out.append(Campaign(f"CMP-{when:%Y%m%d}-{theme}", f"{theme.replace('-', ' ').title()} {when:%b %d}",
                                day, clock.at(day, 14 * 3600)))
    return out


def emit_events(
    rng: random.Random, out: ChunkOutput, clock: Clock, alloc: Allocator, chunk: Chunk,
    campaigns: list[Campaign],
) -> None:
    """Write every event of the chunk's customers and visitors."""
    for d in chunk.devices:
        if d.kind == "web":
            _web_device(rng, out, clock, d)
        else:
            _app_device(rng, out, clock, d)
    for p in chunk.customers:
        _contacts(rng, out, clock, alloc, p)
        _email_campaigns(rng, out, clock, p, campaigns)
        _consent_changes(rng, out, clock, p)


# ------------------------------------------------------------------------------------------------
# clickstream
# ------------------------------------------------------------------------------------------------
def _sessions(rng: random.Random, clock: Clock, d: Device) -> list[tuple[int, Person]]:
    first = min(u.active_from for u in d.users)
    if d.never_login:
        n = rng.randint(1, 3) if not d.users[0].is_customer else rng.randint(1, 2)
        return [(day, d.users[0]) for day in sorted(rng.randrange(first, clock.days) for _ in range(n))]
    if d.kind == "web":  # some browsing before signing up, on the same browser
        first = max(0, first - nz.PRE_SIGNUP_BROWSING_DAYS)
    return [(day, rng.choice(d.users)) for day in range(first, clock.days) if rng.random() < d.use_prob]


def _login_ids(rng: random.Random, p: Person, by_crm_id: float, source: str) -> tuple[str | None, str | None]:
    """(crm_id, email) revealed by a login: the crm id, or one of the person's known e-mails."""
    if p.crm_id and (not p.known_emails or rng.random() < by_crm_id):
        return p.crm_id, None
    if p.known_emails:
        email = p.known_emails[0] if rng.random() < nz.LOGIN_PRIMARY_EMAIL_RATE else rng.choice(p.known_emails)
    else:
        email = p.emails[0]
    return None, nz.messy_email(rng, email, source)


def _product(rng: random.Random) -> tuple[str, float]:
    return rng.choice(PRODUCTS)


def _emit_click(out: ChunkOutput, source: str, row: Row, p: Person, rng: random.Random, ids: dict, attrs: dict) -> None:
    channel = source
    if out.add_event(source, row, p, time_ms=row["event_time"], type_=row["event_type"], channel=channel,
                     identifiers=ids, attributes=attrs) and rng.random() < nz.EVENT_DUPLICATE_RATE:
        dup = dict(row, event_id=out.new_id(source))  # at-least-once delivery: same event, new id
        out.add_event(source, dup, p, time_ms=row["event_time"], type_=row["event_type"], channel=channel,
                      identifiers=ids, attributes=attrs)


def _web_device(rng: random.Random, out: ChunkOutput, clock: Clock, d: Device) -> None:
    logged: set[str] = set()
    for day, user in _sessions(rng, clock, d):
        can_login = user.is_customer and not d.never_login and day >= user.active_from
        login = can_login and (user.pid not in logged or rng.random() < nz.WEB_SESSION_LOGIN_RATE)
        t = clock.at(day, daytime_seconds(rng))
        sid = hex_id(rng, 64)

        def event(kind: str, page: str, crm_id: str | None = None, email: str | None = None,
                  product: str | None = None, amount: float | None = None) -> None:
            row = {"event_id": out.new_id("web"), "event_time": t, "cookie_id": d.device_id,
                   "session_id": sid, "event_type": kind, "page": page, "crm_id": crm_id,
                   "email": email, "product": product, "amount": amount,
                   "currency": "USD" if amount is not None else None, "user_agent": d.agent}
            _emit_click(out, "web", row, user, rng,
                        {"cookie_id": d.device_id, "crm_id": crm_id, "email": email},
                        {"page": page, "session_id": sid, "product": product, "amount": amount,
                         "currency": row["currency"]})

        if login:
            logged.add(user.pid)
            crm_id, email = _login_ids(rng, user, nz.WEB_LOGIN_BY_CRM_ID, "web")
            event("login", "/login", crm_id, email)
            t += rng.randint(2, 20) * 1000
        pages = _ACCOUNT_PAGES + _PUBLIC_PAGES if login else _PUBLIC_PAGES
        for _ in range(1 + min(int(rng.expovariate(0.45)), 11 if not d.never_login else 2)):
            event("page_view", rng.choice(pages))
            t += rng.randint(5, 180) * 1000
        if rng.random() < nz.ADD_TO_CART_RATE:
            product, price = _product(rng)
            event("add_to_cart", "/cart", product=product, amount=price)
            t += rng.randint(10, 300) * 1000
            if login and rng.random() < nz.PURCHASE_RATE:
                event("purchase", "/checkout/confirmation", product=product, amount=price)


def _app_device(rng: random.Random, out: ChunkOutput, clock: Clock, d: Device) -> None:
    logged: set[str] = set()
    last_user: str | None = None
    for day, user in _sessions(rng, clock, d):
        can_login = user.is_customer and not d.never_login and day >= user.active_from
        login = can_login and (
            user.pid not in logged or user.pid != last_user or rng.random() < nz.APP_RELOGIN_RATE
        )
        t = clock.at(day, daytime_seconds(rng))
        sid = hex_id(rng, 64)

        def event(kind: str, screen: str, crm_id: str | None = None, email: str | None = None,
                  product: str | None = None, amount: float | None = None) -> None:
            row = {"event_id": out.new_id("app"), "event_time": t, "device_id": d.device_id,
                   "platform": d.agent, "app_version": d.app_version, "session_id": sid,
                   "event_type": kind, "screen": screen, "crm_id": crm_id, "email": email,
                   "product": product, "amount": amount,
                   "currency": "USD" if amount is not None else None}
            _emit_click(out, "app", row, user, rng,
                        {"device_id": d.device_id, "crm_id": crm_id, "email": email},
                        {"screen": screen, "session_id": sid, "platform": d.agent, "product": product,
                         "amount": amount, "currency": row["currency"]})

        event("app_open", "splash")
        t += rng.randint(1, 5) * 1000
        if login:
            logged.add(user.pid)
            last_user = user.pid
            crm_id, email = _login_ids(rng, user, nz.APP_LOGIN_BY_CRM_ID, "app")
            event("login", "login", crm_id, email)
            t += rng.randint(2, 20) * 1000
        for _ in range(1 + min(int(rng.expovariate(0.35)), 11 if not d.never_login else 3)):
            event("screen_view", rng.choice(APP_SCREENS))
            t += rng.randint(3, 120) * 1000
        if rng.random() < nz.ADD_TO_CART_RATE:
            product, price = _product(rng)
            event("add_to_cart", "device_shop", product=product, amount=price)
            t += rng.randint(10, 300) * 1000
            if (login or user.pid == last_user) and rng.random() < nz.PURCHASE_RATE:
                event("purchase", "checkout", product=product, amount=price)


# ------------------------------------------------------------------------------------------------
# contact center
# ------------------------------------------------------------------------------------------------
def _contacts(rng: random.Random, out: ChunkOutput, clock: Clock, alloc: Allocator, p: Person) -> None:
    if p.segment not in ("crm", "loyalty_only"):
        return
    for day in range(p.active_from, clock.days):
        if rng.random() >= nz.CONTACTS_PER_DAY:
            continue
        chat = rng.random() < nz.CHAT_SHARE
        start = clock.at(day, 12 * 3600 + rng.random() * 12 * 3600)
        reason = rng.choices(_REASONS, weights=_REASON_WEIGHTS)[0]
        crm_id = loyalty_id = email = phone = None
        if chat:
            if p.crm_id and rng.random() < nz.CHAT_CRM_ID_RATE:
                crm_id = nz.messy_agent_id(rng, p.crm_id)
            if rng.random() < nz.CHAT_EMAIL_RATE or crm_id is None:
                e = p.known_emails[0] if p.known_emails else p.emails[0]
                email = nz.messy_email(rng, e, "contact_center")
            duration = rng.randint(120, 1500)
        else:
            r = rng.random()
            withheld = r < nz.CALL_WITHHELD_RATE
            if withheld:
                phone = rng.choice(nz.WITHHELD_CALLER_IDS)
            elif p.landline and r < nz.CALL_WITHHELD_RATE + nz.CALL_FROM_LANDLINE_RATE:
                phone = nz.format_phone(rng, p.landline, "e164")
            elif r < nz.CALL_WITHHELD_RATE + nz.CALL_FROM_LANDLINE_RATE + nz.CALL_FROM_OTHER_NUMBER_RATE:
                phone = nz.format_phone(rng, alloc.phone(3 * p.index + 2), "e164")
            else:
                phone = nz.format_phone(rng, p.mobile, "e164")
            if p.crm_id and rng.random() < (
                nz.WITHHELD_AGENT_CAPTURES_CRM_ID if withheld else nz.AGENT_CAPTURES_CRM_ID
            ):
                crm_id = nz.messy_agent_id(rng, p.crm_id)
            duration = rng.randint(45, 1800)
        if p.loyalty_ids and (reason == "loyalty_points" or rng.random() < nz.AGENT_CAPTURES_LOYALTY_ID):
            loyalty_id = nz.messy_agent_id(rng, p.loyalty_ids[0])
        if not (crm_id or loyalty_id or email) and phone in nz.WITHHELD_CALLER_IDS:
            # an agent does not serve an unidentified caller: some customer number gets recorded
            if p.crm_id:
                crm_id = nz.messy_agent_id(rng, p.crm_id)
            else:
                loyalty_id = nz.messy_agent_id(rng, p.loyalty_ids[0])
        outcome = rng.choices(_OUTCOMES, weights=_OUTCOME_WEIGHTS)[0]
        queue = {"billing_question": "billing", "payment": "billing", "technical_issue": "tech_support",
                 "device_support": "tech_support", "cancellation": "retention",
                 "loyalty_points": "loyalty", "new_service": "sales", "plan_change": "sales"}.get(reason, "general")
        assert queue in CONTACT_QUEUES
        row = {"interaction_id": out.new_id("contact_center"), "started_at": start,
               "ended_at": start + duration * 1000, "duration_s": duration,
               "channel": "chat" if chat else "voice",
               "queue": queue, "reason": reason, "outcome": outcome,
               "agent_id": f"AG{rng.randint(1000, 1399)}", "caller_phone": phone, "crm_id": crm_id,
               "loyalty_id": loyalty_id, "email": email}
        out.add_event("contact_center", row, p, time_ms=start, type_="chat" if chat else "call",
                      channel="contact_center",
                      identifiers={"phone": phone, "crm_id": crm_id, "loyalty_id": loyalty_id, "email": email},
                      attributes={"medium": row["channel"], "reason": reason, "queue": queue,
                                  "outcome": outcome, "duration_s": duration})


# ------------------------------------------------------------------------------------------------
# e-mail campaigns and consent changes
# ------------------------------------------------------------------------------------------------
_ESP_TYPES = {"sent": "email_send", "open": "email_open", "click": "email_click",
              "bounce": "email_bounce", "unsubscribe": "email_unsubscribe"}


def _email_campaigns(rng: random.Random, out: ChunkOutput, clock: Clock, p: Person, campaigns: list[Campaign]) -> None:
    if not p.known_emails:
        return
    eligible = (p.consent["marketing_email"] == "opt_in") if p.consent_captured else (
        rng.random() < nz.LEGACY_OPT_IN_RATE
    )
    if not eligible:
        return
    address = nz.messy_email(rng, p.known_emails[0], "email_campaigns")  # as uploaded to the ESP

    def event(c: Campaign, kind: str, ms: int, link: str | None = None) -> None:
        row = {"event_id": out.new_id("email_campaigns"), "campaign_id": c.campaign_id,
               "campaign_name": c.name, "email": address, "event_type": kind, "event_time": ms,
               "link_url": link}
        _emit_click_email(out, row, p, rng, c)

    for c in campaigns:
        if c.day < p.active_from or rng.random() >= nz.CAMPAIGN_AUDIENCE_RATE:
            continue
        sent = c.send_ms + rng.randrange(0, 7_200_000)
        event(c, "sent", sent)
        if rng.random() < nz.EMAIL_BOUNCE_RATE:
            event(c, "bounce", sent + rng.randint(1, 60) * 1000)
            continue
        if rng.random() >= nz.EMAIL_OPEN_RATE:
            continue
        opened = sent + min(int(rng.expovariate(1 / 6) * 3_600_000), 72 * 3_600_000)
        event(c, "open", opened)
        if rng.random() < nz.EMAIL_CLICK_RATE:
            page = rng.choice(_PUBLIC_PAGES)
            event(c, "click", opened + rng.randint(5, 300) * 1000,
                  f"https://www.example-telco.com{page}?utm_campaign={c.campaign_id}")
        if rng.random() < nz.EMAIL_UNSUBSCRIBE_RATE:
            unsub = opened + rng.randint(5, 600) * 1000
            event(c, "unsubscribe", unsub)
            p.consent["marketing_email"] = "opt_out"
            row = {"consent_id": out.new_id("consents"), "crm_id": None, "email": address,
                   "captured_at": unsub + 1000, "capture_channel": "email", "marketing_email": "opt_out",
                   "sms": None, "phone": None}
            consent_event(out, row, p)
            return


def _emit_click_email(out: ChunkOutput, row: Row, p: Person, rng: random.Random, c: Campaign) -> None:
    ids = {"email": row["email"]}
    attrs = {"campaign_id": c.campaign_id, "campaign_name": c.name, "link_url": row["link_url"]}
    kind = _ESP_TYPES[row["event_type"]]
    if out.add_event("email_campaigns", row, p, time_ms=row["event_time"], type_=kind, channel="email",
                     identifiers=ids, attributes=attrs) and rng.random() < nz.EVENT_DUPLICATE_RATE:
        dup = dict(row, event_id=out.new_id("email_campaigns"))
        out.add_event("email_campaigns", dup, p, time_ms=row["event_time"], type_=kind, channel="email",
                      identifiers=ids, attributes=attrs)


def _consent_changes(rng: random.Random, out: ChunkOutput, clock: Clock, p: Person) -> None:
    for day in range(p.active_from, clock.days):
        if rng.random() >= nz.CONSENT_CHANGE_PER_DAY:
            continue
        category = rng.choice(("marketing_email", "sms", "phone"))
        value = "opt_out" if p.consent[category] == "opt_in" else "opt_in"
        p.consent[category] = value
        crm_id, email = consent_key(rng, p, rng.random() < nz.CONSENT_CHANGE_VIA_EMAIL_RATE)
        row = {"consent_id": out.new_id("consents"), "crm_id": crm_id, "email": email,
               "captured_at": clock.at(day, daytime_seconds(rng)),
               "capture_channel": rng.choice(("web", "app", "contact_center")),
               "marketing_email": None, "sms": None, "phone": None}
        row[category] = value
        consent_event(out, row, p)
        return
