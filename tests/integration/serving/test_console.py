"""The agent console (``/console``) in a real headless Chromium, against the real API and data.

The browser is Debian's ``chromium`` driven by Selenium through Debian's ``chromedriver``
(``infra/system-packages.sh`` installs both; nothing is downloaded). The API is the real app
served by uvicorn in a thread, on the published data set and the real speed consumer of
``serving_data`` (conftest.py). Every expected value is read back from what the writers wrote.

Screenshots are saved in ``$UCID_TEST_ARTIFACTS/console`` (else a pytest temporary folder; the
path is printed); with ``UCID_CONSOLE_README_SHOT=1`` the 360 screenshot is also copied to
``docs/console.png`` (the README's picture).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 20
FIRST_PAINT_MS = 1000
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    root = os.environ.get("UCID_TEST_ARTIFACTS")
    folder = Path(root) / "console" if root else tmp_path_factory.mktemp("console-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"[console] screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def console_keys(cql_session, serving_data, stack) -> dict[str, str]:
    """``agent``: the scopes the console needs; ``no_console``: the same without ``console``."""
    from infra.store import Store
    from serving import keys

    store = Store(cql_session, stack.cassandra.model_copy(update={"keyspace": serving_data.keyspace}))
    return {
        "agent": keys.create(store, "it-agent", ["console", "resolve", "profile:read", "explain"])[1],
        "no_console": keys.create(store, "it-no-console", ["resolve", "profile:read", "explain"])[1],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_api(serving_data) -> str:
    """The real app (its own Cassandra session) served by uvicorn in a thread: the base URL."""
    import uvicorn

    from infra.settings import ServingSettings
    from serving.app import create_app

    app = create_app(ServingSettings(key_cache_ttl_s=0), cassandra=serving_data.settings.cassandra)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver "
                    "(make system-packages)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768",
                "--disable-gpu", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_window_size(1366, 768)
    driver.get("data:text/html,<p>warm</p>")  # an agent's browser is already running: its start-up is not the page's
    yield driver
    driver.quit()


# -- helpers ---------------------------------------------------------------------------------


def _wait(driver, condition, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_S).until(lambda d: condition(d))
    except TimeoutException:
        message = driver.find_element("id", "message").text
        pytest.fail(f"timed out waiting for {what}; the console says: {message!r}")


def _open(driver, base: str, key: str) -> None:
    """A fresh page (no key kept from an earlier test), the key entered as an agent would."""
    from selenium.webdriver.common.keys import Keys

    driver.get(base + "/console")
    driver.execute_script("sessionStorage.clear()")
    driver.get(base + "/console")
    field = _wait(driver, lambda d: d.find_element("id", "key-input").is_displayed()
                  and d.find_element("id", "key-input"), "the key form")
    assert driver.switch_to.active_element == field, "the key field is not focused"
    field.send_keys(key, Keys.ENTER)


def _search(driver, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = _wait(driver, lambda d: d.find_element("id", "search").is_displayed() and d.find_element("id", "search"),
                "the search box")
    assert driver.switch_to.active_element == box, "the search box is not focused after the key was accepted"
    box.clear()
    box.send_keys(text, Keys.ENTER)


def _customer(driver) -> str:
    """The UCID of the 360 on screen, once it is shown."""
    return _wait(driver, lambda d: d.find_element("id", "customer").is_displayed()
                 and d.find_element("id", "customer").get_attribute("data-ucid"), "the 360")


def _identities(driver) -> set[tuple[str, str]]:
    rows = driver.find_elements("css selector", "#identities tbody tr")
    cells = [[c.text for c in r.find_elements("tag name", "td")] for r in rows]
    return {(c[0], c[1]) for c in cells if len(c) >= 2}


def _shot(driver, artifacts: Path, name: str) -> Path:
    path = artifacts / name
    assert driver.save_screenshot(str(path)), f"no screenshot {path}"
    return path


def _phone_with_raw_spelling(serving_data) -> tuple[str, str, str]:
    """(raw, normalized, UCID) of a phone the landing files spell differently from its normal form,
    of a customer the speed layer did not merge; the one with the most events (a fuller 360)."""
    merged = {serving_data.alias, serving_data.survivor}
    phones = [(raw, value, ucid) for id_type, raw, value, ucid in serving_data.sample
              if id_type == "phone" and raw != value and ucid not in merged]
    if not phones:
        pytest.fail("no phone in the sample whose raw spelling differs from its normalized value")
    published = serving_data.published
    return max(phones, key=lambda p: (published.events[p[2]], published.contacts[p[2]], p[2]))


# -- the tests -------------------------------------------------------------------------------


def test_the_page_paints_within_a_second(browser, live_api) -> None:
    browser.get(live_api + "/console")
    _wait(browser, lambda d: d.execute_script("return document.readyState") == "complete", "the page load")
    # the paint entries are recorded after the frame is presented, which may follow the load event
    _wait(browser, lambda d: d.execute_script("return performance.getEntriesByType('paint').length > 0"),
          "a paint entry")
    timing = browser.execute_script("""
        const nav = performance.getEntriesByType('navigation')[0];
        const paint = performance.getEntriesByName('first-contentful-paint')[0]
                   || performance.getEntriesByName('first-paint')[0];
        return {paint: paint ? paint.startTime : null, loaded: nav.loadEventEnd, size: nav.transferSize};""")
    print(f"[console] first paint {timing['paint']:.0f} ms, load {timing['loaded']:.0f} ms")
    assert timing["paint"] is not None, "the browser recorded no paint"
    assert timing["paint"] < FIRST_PAINT_MS, timing
    _wait(browser, lambda d: d.find_element("id", "key-input").is_displayed(), "the script to show the key form")


def test_search_by_an_unnormalized_phone_shows_the_360(browser, live_api, console_keys, serving_data,
                                                        artifacts) -> None:
    import httpx
    from selenium.webdriver.common.action_chains import ActionChains

    raw, value, ucid = _phone_with_raw_spelling(serving_data)
    _open(browser, live_api, console_keys["agent"])
    _search(browser, raw)
    assert _customer(browser) == ucid
    assert browser.find_element("id", "customer-ucid").text == ucid
    assert _identities(browser) == set(serving_data.published.members[ucid])
    assert ("phone", value) in _identities(browser)
    # every section answered (a failed call shows "Not available")
    assert not browser.find_elements("css selector", "#customer .failed")
    # the consents grid and the contacts are the API's, cell for cell
    agent = {"X-API-Key": console_keys["agent"]}
    decisions = httpx.get(f"{live_api}/v1/profiles/{ucid}/consents", headers=agent).json()["decisions"]
    cells = browser.find_elements("css selector", "#consents tbody td")
    assert sorted(c.text for c in cells) == sorted("yes" if d["allowed"] else "no" for d in decisions)
    contacts = httpx.get(f"{live_api}/v1/profiles/{ucid}/contacts", params={"limit": 12}, headers=agent).json()
    rows = browser.find_elements("css selector", "#contacts tbody tr")
    if contacts["contacts"]:
        outcomes = [r.find_elements("tag name", "td")[3].text for r in rows]
        assert outcomes == [c["outcome"].replace("_", " ") for c in contacts["contacts"]]
    else:
        assert [r.text for r in rows] == ["nothing recorded"]
    _shot(browser, artifacts, "console-360.png")
    if os.environ.get("UCID_CONSOLE_README_SHOT") == "1":
        shutil.copy(artifacts / "console-360.png", REPO / "docs" / "console.png")
    # keyboard: j walks the sections, / comes back to the search box
    browser.execute_script("document.activeElement.blur()")
    def press(key: str) -> None:
        ActionChains(browser).send_keys(key).perform()

    press("j")
    assert browser.switch_to.active_element.get_attribute("id") == "summary"
    press("j")
    assert browser.switch_to.active_element.get_attribute("id") == "products"
    press("k")
    assert browser.switch_to.active_element.get_attribute("id") == "summary"
    press("/")
    assert browser.switch_to.active_element.get_attribute("id") == "search"
    assert browser.find_element("id", "search").get_attribute("value") == raw  # "/" was not typed into it
    # why is this one customer: explain from the searched phone to another identifier
    why = browser.find_elements("css selector", "#identities tbody button")
    assert why, "no 'why?' button next to the other identifiers"
    why[0].click()
    steps = _wait(browser, lambda d: d.find_elements("css selector", "#explain ol li"), "the explanation")
    assert value in steps[0].text or value in browser.find_element("id", "explain").text
    _shot(browser, artifacts, "console-explain.png")


def test_a_merged_ucid_shows_the_survivor_and_its_merge_history(browser, live_api, console_keys, serving_data,
                                                                 artifacts) -> None:
    id_type, value = serving_data.alias_identifier
    _open(browser, live_api, console_keys["agent"])
    _search(browser, value)
    assert _customer(browser) == serving_data.survivor
    note = browser.find_element("id", "merged-note")
    assert note.is_displayed() and serving_data.alias in note.text, note.text
    history = browser.find_element("id", "merge-history").text
    assert serving_data.alias in history and "merged" in history, history
    assert (id_type, value) in _identities(browser)  # the loser's identifiers are the survivor's now
    _shot(browser, artifacts, "console-merged.png")


def test_a_customer_the_speed_layer_created_seconds_ago(browser, live_api, console_keys, speed_layer, cql_session,
                                                         serving_data, artifacts) -> None:
    """A new e-mail on the stream: a page view naming the customer, a usage event over the limit
    (``usage_limit_reached`` fires) and an add-to-cart (``abandoned_cart`` waits 30 minutes)."""
    tag = uuid.uuid4().hex[:10]
    email = f"console.{tag}@speed-ucid.org"
    ids = [f"evt-console-{tag}-{n}" for n in range(3)]
    applied = speed_layer.apply(
        speed_layer.event(ids[0], {"email": email}, {"first_name": "Vera", "last_name": f"Console{tag}"}),
        speed_layer.event(ids[1], {"email": email}, {"usage_pct": 120}, type_="usage", channel="app"),
        speed_layer.event(ids[2], {"email": email}, {"product": f"Fiber {tag}"}, type_="add_to_cart"),
    )
    assert applied[ids[0]].outcome == "new"
    ucid = applied[ids[0]].ucid
    ks = serving_data.keyspace
    deadline = time.monotonic() + WAIT_S
    while cql_session.execute(f"SELECT rule FROM {ks}.trigger_fired WHERE rule = %s AND ucid = %s",
                              ("usage_limit_reached", ucid)).one() is None:
        assert time.monotonic() < deadline, "the speed layer did not fire usage_limit_reached"
        time.sleep(0.2)
    _open(browser, live_api, console_keys["agent"])
    _search(browser, f"  Console.{tag}@Speed-UCID.org ")  # as the caller spells it
    assert _customer(browser) == ucid
    assert _identities(browser) == {("email", email)}
    assert browser.find_element("id", "customer-name").text == f"Vera Console{tag}"
    assert "batch none" in browser.find_element("id", "summary-facts").text
    assert f"Fiber {tag}" in browser.find_element("id", "products").text
    fired = [li.text for li in browser.find_elements("css selector", "#triggers li.fired")]
    waiting = [li.text for li in browser.find_elements("css selector", "#triggers li.waiting")]
    assert [t.split(":")[0] for t in fired] == ["usage_limit_reached"], fired
    assert [t.split(":")[0] for t in waiting] == ["abandoned_cart"], waiting
    _shot(browser, artifacts, "console-speed.png")


def test_a_key_without_the_console_scope_gets_a_clear_message(browser, live_api, console_keys, serving_data,
                                                               artifacts) -> None:
    import httpx

    _open(browser, live_api, console_keys["no_console"])
    message = _wait(browser, lambda d: d.find_element("id", "message").get_attribute("data-kind") == "error"
                    and d.find_element("id", "message"), "the refusal")
    assert 'lacks the "console" scope' in message.text, message.text
    assert not browser.find_element("id", "search-form").is_displayed()
    assert not browser.find_element("id", "customer").is_displayed()
    assert browser.find_element("id", "key-input").is_displayed()
    _shot(browser, artifacts, "console-no-scope.png")
    # and the console's own read refuses the key, whatever the page does
    r = httpx.get(f"{live_api}/v1/console/customers/{serving_data.survivor}/history",
                  headers={"X-API-Key": console_keys["no_console"]})
    assert r.status_code == 403 and "console" in r.json()["detail"], r.text
    r = httpx.get(f"{live_api}/v1/console/customers/{serving_data.survivor}/history",
                  headers={"X-API-Key": console_keys["agent"]})
    assert r.status_code == 200, r.text
    assert serving_data.alias in r.json()["ucids"]
