"""Every rate of the generated data set, and the functions that apply the mess.

All rates live here (and only here) so that ``docs/data-generator.md`` can list them one to one.
A rate is a probability per person, per record or per field, as its comment says. Functions take
the chunk's ``random.Random`` so that the output stays a pure function of the seed.
"""

from __future__ import annotations

import random

from ucid.generate.vocab import DOMAIN_TYPOS

# ----------------------------------------------------------------------------------------------
# population
# ----------------------------------------------------------------------------------------------
CHUNK_SIZE = 5_000  # customers generated (and written) per chunk; a chunk is seeded by (seed, index)
CHUNKS_PER_PART = 20  # chunks written into one part file (part-00000 holds 100,000 customers)
ANON_VISITORS_PER_CUSTOMER = 0.5  # anonymous web/app visitors (never log in) per customer
ANON_APP_SHARE = 0.15  # share of anonymous visitors that use the app instead of the web site
EXISTING_CUSTOMER_RATE = 0.85  # customers already known before --start-date (rest sign up in window)
NOT_IN_CRM_RATE = 0.08  # customers with no CRM record (prospects)...
NOT_IN_CRM_LOYALTY_SHARE = 0.40  # ...of which loyalty-only members; the rest newsletter subscribers
HOUSEHOLD_MEMBER_RATE = 0.40  # customers living in a 2- or 3-person household (paired within a chunk)
HOUSEHOLD_OF_THREE_SHARE = 0.25  # share of multi-person households with three members
HOUSEHOLD_SAME_LAST_NAME = 0.65  # household members sharing the last name
HOUSEHOLD_LANDLINE_RATE = 0.30  # households with a shared landline
LANDLINE_AS_CONTACT_RATE = 0.40  # members of a landline household who give the landline as phone
SECOND_EMAIL_RATE = 0.25  # customers with a second e-mail address
THIRD_EMAIL_RATE = 0.05  # customers with a third e-mail address
RECYCLED_PHONE_RATE = 0.01  # customers whose old number now belongs to another customer
RECYCLED_STALE_RECORD_RATE = 0.70  # ...their pre-window records still showing the old number
RECYCLED_OWNER_UPDATES_CRM = 0.50  # ...who (if no other update) fix the number in CRM in the window
SHARED_DEVICE_HOUSEHOLD_RATE = 0.05  # multi-person households sharing one computer/tablet
INITIAL_OPT_IN = {"marketing_email": 0.60, "sms": 0.40, "phone": 0.30}  # opt_in at first capture

# ----------------------------------------------------------------------------------------------
# source membership and activity
# ----------------------------------------------------------------------------------------------
BILLING_RATE = 0.80  # CRM customers with a billing account
SECOND_ACCOUNT_RATE = 0.15  # billing customers with a second account (e.g. mobile + fiber)
BILLING_CRM_REF_MISSING = 0.07  # billing accounts without the crm_id reference (legacy accounts)
LOYALTY_RATE = 0.40  # CRM customers who are loyalty members
LOYALTY_EXISTING_RATE = 0.90  # members among pre-window customers enrolled before the window
LOYALTY_SECOND_EMAIL_RATE = 0.40  # multi-e-mail members enrolled with their second address
BILLING_OTHER_EMAIL_RATE = 0.20  # billing accounts with the person's last (not first) address
CONSENT_CAPTURE_RATE = 0.75  # customers with a recorded consent capture (preference center)
CONSENT_VIA_EMAIL_RATE = 0.20  # consent rows keyed by e-mail instead of crm_id (CRM customers)
CONSENT_CHANGE_PER_DAY = 0.003  # consent changes per customer and day inside the window
CONSENT_CHANGE_VIA_EMAIL_RATE = 0.30  # consent changes keyed by e-mail (preference-center link)
CRM_UPDATE_PER_DAY = 0.002  # CRM update rows (phone/email/address change) per customer and day
WEB_USER_RATE = 0.55  # customers who browse the web site
WEB_COOKIES_WEIGHTS = ((1, 60), (2, 30), (3, 10))  # cookies (browsers/devices) per web user
WEB_VISIT_PROB = (0.02, 0.15)  # per-cookie daily visit probability, uniform in this range
WEB_NEVER_LOGIN_COOKIE_RATE = 0.06  # customer cookies that never log in (1-2 short visits only)
WEB_SESSION_LOGIN_RATE = 0.55  # sessions of a logging-in cookie that start with a login
WEB_LOGIN_BY_CRM_ID = 0.60  # logins revealing the crm_id (else the e-mail) for CRM customers
LOGIN_PRIMARY_EMAIL_RATE = 0.85  # e-mail logins with the person's first known address
PRE_SIGNUP_BROWSING_DAYS = 7  # a new customer's browser may visit up to this many days before signup
APP_USER_RATE = 0.30  # customers who use the mobile app
APP_SECOND_DEVICE_RATE = 0.15  # app users with a second device
APP_USE_PROB = (0.02, 0.20)  # per-device daily use probability, uniform in this range
APP_NEVER_LOGIN_DEVICE_RATE = 0.03  # customer app installs that never log in
APP_RELOGIN_RATE = 0.10  # later app sessions that log in again (first session always does)
APP_LOGIN_BY_CRM_ID = 0.70  # app logins revealing the crm_id (else the e-mail)
ADD_TO_CART_RATE = 0.15  # sessions with an add_to_cart
PURCHASE_RATE = 0.25  # logged-in sessions with an add_to_cart that end in a purchase
CONTACTS_PER_DAY = 0.012  # contact-center interactions per customer and day
CHAT_SHARE = 0.25  # contact-center interactions over chat (the rest are voice calls)
CAMPAIGNS_PER_WEEK = 2  # e-mail campaigns sent per week (global, same for every chunk)
CAMPAIGN_AUDIENCE_RATE = 0.50  # eligible customers targeted by one campaign
LEGACY_OPT_IN_RATE = 0.50  # customers without a consent capture still mailed (legacy opt-in)
EMAIL_OPEN_RATE = 0.22  # sends opened (within 72 h)
EMAIL_CLICK_RATE = 0.18  # opens followed by a click
EMAIL_BOUNCE_RATE = 0.01  # sends that bounce (no open)
EMAIL_UNSUBSCRIBE_RATE = 0.003  # opens followed by an unsubscribe (also a consents row)

# ----------------------------------------------------------------------------------------------
# mess: duplicates, junk, missing values, formatting, typos
# ----------------------------------------------------------------------------------------------
CRM_DUPLICATE_RATE = 0.025  # CRM customers registered twice (second crm_id, same person)
CRM_DUPLICATE_SAME_EMAIL = 0.50  # ...the duplicate row has the same first e-mail
CRM_DUPLICATE_OTHER_EMAIL = 0.20  # ...or the person's last e-mail (else no e-mail at all)
CRM_DUPLICATE_SAME_PHONE = 0.60  # ...the duplicate row has the contact phone (else none)
CRM_DUPLICATE_NAME_TYPO = 0.30  # ...an extra typo in the duplicate's first name
LOYALTY_DUPLICATE_RATE = 0.02  # loyalty members enrolled twice (second loyalty_id)
LOYALTY_DUPLICATE_OTHER_EMAIL = 0.50  # ...the second membership with the person's last e-mail
EVENT_DUPLICATE_RATE = 0.005  # web/app/e-mail events delivered twice (new event id, same content)
NAME_TYPO_RATE = {"crm": 0.015, "billing": 0.03, "loyalty": 0.03}  # per name field
NAME_CASE_RATE = 0.05  # name fields in UPPER or lower case
EMAIL_CASE_RATE = {"crm": 0.08, "billing": 0.10, "loyalty": 0.05, "consents": 0.03,
                   "email_campaigns": 0.02, "web": 0.05, "app": 0.03, "contact_center": 0.10}
EMAIL_SPACE_RATE = {"crm": 0.03, "billing": 0.02, "loyalty": 0.01, "contact_center": 0.03}
EMAIL_DOMAIN_TYPO_RATE = {"crm": 0.005, "loyalty": 0.005, "billing": 0.003}
JUNK_EMAIL_RATE = {"crm": 0.015, "billing": 0.01, "loyalty": 0.01}  # instead of the real e-mail
JUNK_PHONE_RATE = {"crm": 0.01, "billing": 0.01, "loyalty": 0.01}  # instead of the real phone
MISSING_RATE = {  # field left empty
    "crm": {"email": 0.06, "phone": 0.05, "birth_date": 0.12, "address": 0.04, "alt_email": 0.0},
    "billing": {"email": 0.10, "phone": 0.06},
    "loyalty": {"email": 0.03, "phone": 0.15, "birth_date": 0.40},
}
ADDRESS_ABBREVIATION_RATE = 0.40  # street suffix abbreviated (Street -> St) in an address line
ADDRESS_CASE_RATE = 0.05  # address lines in UPPER case
BILLING_LAST_FIRST_RATE = 0.30  # billing holder names written "LAST, FIRST"
CRM_ALT_EMAIL_RATE = 0.50  # multi-e-mail CRM customers whose second address is in alt_email
PHONE_FORMAT_MESS_RATE = 0.25  # phones written in a random format instead of the source's own
CALL_FROM_LANDLINE_RATE = 0.10  # calls from the household landline (when there is one)
CALL_FROM_OTHER_NUMBER_RATE = 0.05  # calls from a number seen nowhere else (work, a friend)
CALL_WITHHELD_RATE = 0.05  # calls with a withheld caller id (junk value or empty)
AGENT_CAPTURES_CRM_ID = 0.65  # voice calls where the agent recorded the crm_id
WITHHELD_AGENT_CAPTURES_CRM_ID = 0.90  # ...when the caller id was withheld
CHAT_CRM_ID_RATE = 0.50  # chats of CRM customers carrying the crm_id (logged-in chat)
AGENT_CAPTURES_LOYALTY_ID = 0.50  # loyalty members' interactions with the loyalty number
AGENT_ID_FORMAT_MESS_RATE = 0.03  # agent-typed ids in lower case / with spaces
CHAT_EMAIL_RATE = 0.80  # chats carrying the customer's e-mail

JUNK_EMAILS = ("test@test.com", "noemail@example.com", "no-email@example.com", "none@none.com",
               "N/A", "na@na.com", "x@x.com")
JUNK_PHONES = ("0000000000", "N/A", "9999999999", "1234567890", "000-000-0000", "1111111111")
WITHHELD_CALLER_IDS = ("0000000000", "anonymous", "")

# phone formats; the `{a}`, `{e}`, `{l}` fields are area code, exchange and line number
PHONE_FORMATS = {
    "e164": "+1{a}{e}{l}",
    "intl_spaces": "+1 {a} {e} {l}",
    "intl_dashes": "+1-{a}-{e}-{l}",
    "national_parens": "({a}) {e}-{l}",
    "national_dashes": "{a}-{e}-{l}",
    "national_dots": "{a}.{e}.{l}",
    "national_spaces": "{a} {e} {l}",
    "digits": "{a}{e}{l}",
    "trunk_dashes": "1-{a}-{e}-{l}",
    "trunk_digits": "1{a}{e}{l}",
}
_PHONE_FORMAT_NAMES = tuple(PHONE_FORMATS)


def chance(rng: random.Random, rate: float) -> bool:
    """True with probability ``rate``."""
    return rng.random() < rate


def format_phone(rng: random.Random, digits: str, canonical: str) -> str:
    """``digits`` (10 national digits) in the source's ``canonical`` format, or a random one."""
    fmt = canonical
    if rng.random() < PHONE_FORMAT_MESS_RATE:
        fmt = rng.choice(_PHONE_FORMAT_NAMES)
    return PHONE_FORMATS[fmt].format(a=digits[:3], e=digits[3:6], l=digits[6:])


def messy_email(rng: random.Random, email: str, source: str) -> str:
    """An e-mail as a source holds it: sometimes upper/mixed case, padded with spaces."""
    if rng.random() < EMAIL_CASE_RATE.get(source, 0.0):
        local, _, domain = email.partition("@")
        email = email.upper() if rng.random() < 0.5 else f"{local.capitalize()}@{domain}"
    if rng.random() < EMAIL_SPACE_RATE.get(source, 0.0):
        email = rng.choice((f" {email}", f"{email} ", f"  {email} "))
    return email


def typo_domain(rng: random.Random, email: str) -> str:
    """The e-mail with a realistically mistyped domain (or unchanged if none is known)."""
    local, _, domain = email.partition("@")
    options = DOMAIN_TYPOS.get(domain)
    return f"{local}@{rng.choice(options)}" if options else email


_KEYBOARD_NEIGHBOURS = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w",
    "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}


def typo(rng: random.Random, text: str) -> str:
    """One realistic keying error: swapped, dropped, doubled or neighbouring-key character."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    ch = text[i].lower()
    repl = rng.choice(_KEYBOARD_NEIGHBOURS.get(ch, ch))
    return text[:i] + (repl.upper() if text[i].isupper() else repl) + text[i + 1 :]


def messy_name(rng: random.Random, name: str, source: str) -> str:
    """A name as keyed into ``source``: occasional typo, occasional UPPER/lower case."""
    if rng.random() < NAME_TYPO_RATE.get(source, 0.0):
        name = typo(rng, name)
    if rng.random() < NAME_CASE_RATE:
        name = name.upper() if rng.random() < 0.7 else name.lower()
    return name


def messy_agent_id(rng: random.Random, value: str) -> str:
    """An id typed by a contact-center agent: sometimes lower case or with spaces."""
    if rng.random() < AGENT_ID_FORMAT_MESS_RATE:
        if rng.random() < 0.5:
            return value.lower()
        return f"{value[:2]} {value[2:]}" if rng.random() < 0.5 else f" {value} "
    return value

# ------------------------------------------------------------------------------------------------
# hard cases (``--hard-cases``; off by default, so the data sets above stay byte-identical): what
# exact-match rules cannot link, and the traps a fuzzy match must not fall into. See ucid/generate/hard.py.
# ------------------------------------------------------------------------------------------------
STORE_REGISTRATION_RATE = 0.08  # customers who also register in a store (name, birth date, address)
STORE_PHONE_MISSING = 0.55  # ...no phone on the store form
STORE_PHONE_TRANSPOSED = 0.20  # ...a given phone with two neighbouring digits swapped
STORE_EMAIL_MISSING = 0.75  # ...no e-mail on the store form
STORE_EMAIL_TYPO = 0.30  # ...a given e-mail with a typo in the local part or the domain
STORE_LOYALTY_NUMBER = 0.50  # loyalty members who give their loyalty number in the store
STORE_LOYALTY_NUMBER_TYPO = 0.40  # ...typed with one wrong, dropped or swapped character
STORE_NICKNAME = 0.15  # first name given as a nickname (Bill for William) when one is known
STORE_NAME_TYPO = 0.08  # per name field, one keying error
STORE_BIRTH_DATE_MISSING = 0.10  # no birth date on the form
STORE_BIRTH_DATE_TYPO = 0.05  # two neighbouring digits of the birth date swapped
STORE_BIRTH_DATE_SWAPPED = 0.03  # day and month swapped (when the day is 12 or less)
STORE_ADDRESS_VARIANT = 0.50  # address written differently: abbreviations, "#" for "Apt", case
STORE_POSTAL_CODE_MISSING = 0.05  # no postal code
STORE_MOVER = 0.12  # registered at a new address (moved since the other systems last saw them)
STORE_MOVER_OTHER_CITY = 0.40  # ...in another city
TWIN_RATE = 0.004  # customers with a twin (same last name, birth date, address) registered in a store
PARENT_CHILD_RATE = 0.004  # customers with a parent/child of the same full name at their address, in a store
SAME_NAME_STRANGER_RATE = 0.006  # customers with a same-name stranger in their city, in a store
FAMILY_EMAIL_RATE = 0.05  # store registrations of household members giving another member's e-mail
