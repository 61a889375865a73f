"""The flows users run, end to end: real headless Chromium, the real tracker, a real `seam serve`.

A module-scoped `seam serve` (SQLite file) has two workspaces made with the CLI: a normal one and
a cookieless one, both allowing the hosts 127.0.0.1, a.test and b.test. The test pages come from
a tiny static server on another port (a customer's website) and load the tracker from the Seam
server (`<script async src="http://127.0.0.1:P/seam.js" data-key="wk_…">`), so every event goes
over the real `/v1/collect` with the real Origin check. Results are read back through the public
API with the secret key, polling with a deadline for what is eventual (the tracker batches ~1 s),
and from the browser's own cookie jar and storage. Nothing here asserts on timing.

SPEC §5 (attribution at ingest), §6 (browser), §7 (reading).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Page,
)

from e2e.support import free_port, wait_until_healthy  # noqa: E402

pytestmark = pytest.mark.browser

SEAM = str(Path(sys.executable).with_name("seam"))
DOMAINS = ("127.0.0.1", "a.test", "b.test")
STUB = (
    "<script>window.seam = window.seam || function(){(seam.q = seam.q || []).push(arguments)}"
    "</script>"
)
PASSWORD = "hunter2-Sup3rSecret!"
DEADLINE_S = 20.0

T = TypeVar("T")


# --- harness: the Seam server --------------------------------------------------------------


@dataclass
class Workspace:
    id: str
    write_key: str
    secret_key: str


@dataclass
class SeamServer:
    url: str
    db_url: str
    log: Path
    main: Workspace
    cookieless: Workspace

    def api(self, ws: Workspace) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(ws.secret_key, ""), timeout=30)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEAM_DATABASE_URL"}
    env.update(SEAM_ENRICH_INTERVAL="1", SEAM_KEY_CACHE_SECONDS="0")
    return env


def _cli(db_url: str, *args: str) -> str:
    done = subprocess.run(
        [SEAM, *args, "--db", db_url],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, f"seam {' '.join(args)}: {done.stderr}"
    return done.stdout


def _workspace(db_url: str, name: str, *extra: str) -> Workspace:
    domains = [arg for d in DOMAINS for arg in ("--domain", d)]
    out = _cli(db_url, "workspace", "create", name, *domains, *extra, "--json")
    data = json.loads(out[out.index("{") :])
    return Workspace(data["id"], data["write_key"], data["secret_key"])


@pytest.fixture(scope="module")
def seam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeamServer]:
    tmp = tmp_path_factory.mktemp("flows")
    db_url = f"sqlite:///{tmp / 'seam.db'}"
    _cli(db_url, "migrate")
    main = _workspace(db_url, "flows")
    cookieless = _workspace(db_url, "flows-cookieless", "--cookieless")
    port = free_port()
    log_path = tmp / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [SEAM, "serve", "--db", db_url, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, log_path)
        yield SeamServer(url, db_url, log_path, main, cookieless)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def api(seam_server: SeamServer) -> Iterator[httpx.Client]:
    with seam_server.api(seam_server.main) as client:
        yield client


# --- harness: the customer's website -----------------------------------------------------


@dataclass
class Site:
    """A static website on its own port: path -> HTML. GET and POST (form targets) both serve."""

    seam: SeamServer
    port: int = 0
    pages: dict[str, str] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def html(
        self,
        body: str = "",
        *,
        title: str = "Page",
        attrs: str = "",
        ws: Workspace | None = None,
    ) -> str:
        """A page with the SPEC §6 snippet: the queue stub and the async tag from Seam."""
        key = (ws or self.seam.main).write_key
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f'<link rel="icon" href="data:,">{STUB}'
            f'<script async src="{self.seam.url}/seam.js" data-key="{key}" {attrs}></script>'
            f"</head><body>{body}</body></html>"
        )


def _site_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            page = site.pages.get(path)
            body = (page or "not found").encode()
            self.send_response(200 if page is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # a form posting to a page: the body is dropped
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.do_GET()

    return Handler


@pytest.fixture(scope="module")
def site(seam_server: SeamServer) -> Iterator[Site]:
    site = Site(seam_server)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _site_handler(site))
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- harness: the browser ------------------------------------------------------------------


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def loaded(page: Page) -> None:
    page.wait_for_function("window.seam && window.seam.loaded === true")


def jar(context: BrowserContext, host: str = "127.0.0.1") -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies() if c["domain"] == host}


# --- harness: reading back through the API ------------------------------------------------


def eventually(check: Callable[[], T], timeout: float = DEADLINE_S) -> T:
    """Call `check` until it returns without an AssertionError; re-raise the last one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def get(api: httpx.Client, path: str, **params: Any) -> Any:
    r = api.get(path, params=params)
    assert r.status_code == 200, f"GET {r.request.url} -> {r.status_code}: {r.text[:500]}"
    return r.json()


def events(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every event matching the filters, oldest first."""
    return list(get(api, "/v1/events", order="asc", limit=1000, **params)["data"])


def page_paths(evs: list[dict[str, Any]]) -> list[str]:
    return [e["context"]["page"]["path"] for e in evs if e["type"] == "page"]


def wait_pages(api: httpx.Client, count: int, **params: Any) -> list[dict[str, Any]]:
    """Block until at least `count` page views match; return them."""

    def check() -> list[dict[str, Any]]:
        found = events(api, type="page", **params)
        assert len(found) >= count, f"{len(found)} page views so far: {page_paths(found)}"
        return found

    return eventually(check)


def contact_by(api: httpx.Client, **params: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        found = get(api, "/v1/contacts", **params)["data"]
        assert len(found) == 1, f"contacts matching {params}: {found}"
        return dict(found[0])

    return eventually(check)


def enrich(seam: SeamServer) -> None:
    """A full enrichment pass now (SPEC §5 `seam enrich`), so a negative is checked after it."""
    _cli(seam.db_url, "enrich")


# --- 1. anonymous browsing, SPA navigation, then a sign-up form ------------------------------


def test_signup_form_attaches_every_pre_signup_page_view_to_the_contact(
    site: Site, api: httpx.Client, context: BrowserContext, page: Page
) -> None:
    nav = (
        '<nav><a id="to-pricing" href="/t1/pricing.html">Pricing</a> '
        '<a id="to-app" href="/t1/app/">App</a> '
        '<a id="to-signup" href="/t1/signup.html">Sign up</a></nav>'
    )
    site.pages["/t1/home.html"] = site.html(nav, title="Home")
    site.pages["/t1/pricing.html"] = site.html(nav, title="Pricing")
    # A tiny SPA: links handled by a router that calls history.pushState.
    site.pages["/t1/app/"] = site.html(
        nav
        + '<a class="route" id="r-settings" href="/t1/app/settings">Settings</a> '
        + '<a class="route" id="r-billing" href="/t1/app/billing?tab=plan">Billing</a>'
        + "<script>document.addEventListener('click', e => {"
        + "  const a = e.target.closest('a.route'); if (!a) return; e.preventDefault();"
        + "  history.pushState({}, '', a.getAttribute('href'));"
        + "  document.title = 'App ' + a.id; });</script>",
        title="App",
    )
    site.pages["/t1/signup.html"] = site.html(
        '<form id="signup" name="signup" action="/t1/welcome.html" method="post">'
        '<input type="email" name="email"> <input type="password" name="password">'
        '<button type="submit">Create account</button></form>',
        title="Sign up",
    )
    site.pages["/t1/welcome.html"] = site.html("Welcome!", title="Welcome")

    page.goto(site.url("/t1/home.html"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")
    page.click("#to-pricing")
    page.wait_for_url("**/t1/pricing.html")
    page.click("#to-app")
    page.wait_for_url("**/t1/app/")
    loaded(page)
    page.click("#r-settings")
    page.wait_for_url("**/t1/app/settings")
    page.click("#r-billing")
    page.wait_for_url("**/t1/app/billing?tab=plan")
    wait_pages(api, 5, anonymous_id=vid)  # the SPA views are out before leaving the app
    page.click("#to-signup")
    page.wait_for_url("**/t1/signup.html")
    loaded(page)

    pre_signup = [
        "/t1/home.html",
        "/t1/pricing.html",
        "/t1/app/",
        "/t1/app/settings",
        "/t1/app/billing",
        "/t1/signup.html",
    ]
    # Every pre-signup view is stored (anonymous) before the form is sent.
    stored = wait_pages(api, len(pre_signup), anonymous_id=vid)
    assert page_paths(stored) == pre_signup
    assert all(e["contact_id"] is None for e in stored)
    assert jar(context)["seam_vid"] == vid

    page.fill("[name=email]", "  Ada.Signup@Example.COM ")
    page.fill("[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/t1/welcome.html")
    loaded(page)
    assert page.evaluate("seam('anonymousId')") == vid

    contact = contact_by(api, email="ada.signup@example.com")
    cid = contact["id"]

    def timeline_has_every_pre_signup_view() -> list[dict[str, Any]]:
        timeline = events(api, contact_id=cid)
        views = [e for e in timeline if e["type"] == "page"]
        assert page_paths(views)[: len(pre_signup)] == pre_signup, page_paths(views)
        assert "/t1/welcome.html" in page_paths(views)
        return timeline

    timeline = eventually(timeline_has_every_pre_signup_view)
    pre = [e for e in timeline if e["type"] == "page"][: len(pre_signup)]
    assert {e["id"] for e in pre} == {e["id"] for e in stored}
    for view in pre:
        assert view["contact_id"] == cid
        assert view["anonymous_id"] == vid
        assert view["attribution"]["via"] == "form", view
    (form,) = [e for e in timeline if e["type"] == "form"]
    assert form["traits"] == {"email": "ada.signup@example.com"}
    assert form["properties"]["form_id"] == "signup"

    detail = get(api, f"/v1/contacts/{cid}")["data"]
    assert detail["identifiers"]["email"] == "ada.signup@example.com"
    assert vid in detail["anonymous_ids"]
    visitor = get(api, f"/v1/visitors/{vid}")["data"]
    assert visitor["contact_id"] == cid

    # The password never reached Seam: not in any event of this visitor or contact.
    everything = json.dumps([events(api, anonymous_id=vid), timeline, detail])
    assert PASSWORD not in everything
    assert "hunter2" not in everything


# --- 2. login sets the external id cookie --------------------------------------------------


def test_login_cookie_resolves_later_page_views_at_ingest(
    site: Site, seam_server: SeamServer, api: httpx.Client, context: BrowserContext, page: Page
) -> None:
    site.pages["/t2/home.html"] = site.html(
        '<a id="login" href="/t2/login.html">Log in</a>', title="Home"
    )
    # What a customer's app does after checking the password: set the cookie, go to the app.
    site.pages["/t2/login.html"] = site.html(
        '<button id="submit" onclick="document.cookie = '
        "'seam_external_contact_id=usr_login_2; path=/'; location.href = '/t2/account.html'\">"
        "Log in</button>",
        title="Log in",
    )
    site.pages["/t2/account.html"] = site.html(
        '<a id="orders" href="/t2/orders.html">Orders</a>', title="Account"
    )
    site.pages["/t2/orders.html"] = site.html("orders", title="Orders")

    page.goto(site.url("/t2/home.html"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")
    page.click("#login")
    page.wait_for_url("**/t2/login.html")
    loaded(page)
    anonymous = wait_pages(api, 2, anonymous_id=vid)
    assert all(e["contact_id"] is None for e in anonymous)

    page.click("#submit")
    page.wait_for_url("**/t2/account.html")
    assert jar(context)["seam_external_contact_id"] == "usr_login_2"
    loaded(page)
    page.click("#orders")
    page.wait_for_url("**/t2/orders.html")
    loaded(page)

    contact = contact_by(api, external_id="usr_login_2")
    cid = contact["id"]
    views = wait_pages(api, 4, anonymous_id=vid)
    later = [
        e for e in views if e["context"]["page"]["path"] in ("/t2/account.html", "/t2/orders.html")
    ]
    assert len(later) == 2
    for view in later:
        assert view["context"]["external_contact_id"] == "usr_login_2"
        assert view["contact_id"] == cid, view
        assert view["attribution"]["via"] == "cookie", view

    # The device is bound to the contact (one device, one contact) ...
    visitor = get(api, f"/v1/visitors/{vid}")["data"]
    assert visitor["contact_id"] == cid
    assert vid in get(api, f"/v1/contacts/{cid}")["data"]["anonymous_ids"]
    # ... so its anonymous pre-login pages are on the contact's timeline too (SPEC §5 back-fill).
    timeline = eventually(
        lambda: _has_paths(
            events(api, contact_id=cid),
            ["/t2/home.html", "/t2/login.html", "/t2/account.html", "/t2/orders.html"],
        )
    )
    assert {e["anonymous_id"] for e in timeline} == {vid}
    audit = get(api, "/v1/audit", contact_id=cid)["data"]
    assert "visitor_bound" in {a["action"] for a in audit}, audit


def _has_paths(evs: list[dict[str, Any]], paths: list[str]) -> list[dict[str, Any]]:
    assert page_paths(evs) == paths, page_paths(evs)
    return evs


# --- 3. logout on a shared browser ------------------------------------------------------------


def test_logout_reset_gives_the_next_visitor_a_new_unattributed_identity(
    site: Site, seam_server: SeamServer, api: httpx.Client, context: BrowserContext, page: Page
) -> None:
    site.pages["/t3/app.html"] = site.html(
        '<button id="logout" onclick="document.cookie = '
        "'seam_external_contact_id=; path=/; max-age=0'; seam('reset');"
        " location.href = '/t3/home.html'\">Log out</button>",
        title="App",
    )
    site.pages["/t3/home.html"] = site.html(
        '<a id="pricing" href="/t3/pricing.html">Pricing</a>', title="Home"
    )
    site.pages["/t3/pricing.html"] = site.html("prices", title="Pricing")

    # The first person is logged in (the app set the cookie) and uses the app.
    context.add_cookies(
        [{"name": "seam_external_contact_id", "value": "usr_shared_3", "url": site.url("/")}]
    )
    page.goto(site.url("/t3/app.html"))
    loaded(page)
    first_vid = page.evaluate("seam('anonymousId')")
    wait_pages(api, 1, anonymous_id=first_vid)
    first = contact_by(api, external_id="usr_shared_3")["id"]
    eventually(lambda: _assert_bound(api, first_vid, first))

    page.click("#logout")
    page.wait_for_url("**/t3/home.html")
    loaded(page)
    assert "seam_external_contact_id" not in jar(context)
    second_vid = page.evaluate("seam('anonymousId')")
    assert second_vid != first_vid
    assert jar(context)["seam_vid"] == second_vid
    assert page.evaluate("localStorage.getItem('seam_vid')") == second_vid

    # The next person on the same browser browses.
    page.click("#pricing")
    page.wait_for_url("**/t3/pricing.html")
    loaded(page)
    views = wait_pages(api, 2, anonymous_id=second_vid)
    assert page_paths(views) == ["/t3/home.html", "/t3/pricing.html"]
    enrich(seam_server)  # whatever a later enrichment pass would do, it has done

    for view in events(api, type="page", anonymous_id=second_vid):
        assert "external_contact_id" not in view["context"]
        assert view["contact_id"] is None, view
    assert all(e["contact_id"] is None for e in events(api, anonymous_id=second_vid))
    visitor = get(api, f"/v1/visitors/{second_vid}")["data"]
    assert visitor["contact_id"] is None, visitor
    timeline = events(api, contact_id=first)
    assert second_vid not in {e["anonymous_id"] for e in timeline}
    assert page_paths(timeline) == ["/t3/app.html"]
    assert second_vid not in get(api, f"/v1/contacts/{first}")["data"]["anonymous_ids"]


def test_the_page_leave_of_the_page_logged_out_from_stays_with_the_person_who_left(
    site: Site, api: httpx.Client, context: BrowserContext, page: Page
) -> None:
    site.pages["/t3b/app.html"] = site.html(
        '<button id="logout" onclick="document.cookie = '
        "'seam_external_contact_id=; path=/; max-age=0'; seam('reset');"
        " location.href = '/t3b/home.html'\">Log out</button>",
        title="App",
    )
    site.pages["/t3b/home.html"] = site.html("home", title="Home")
    context.add_cookies(
        [{"name": "seam_external_contact_id", "value": "usr_shared_3b", "url": site.url("/")}]
    )
    page.goto(site.url("/t3b/app.html"))
    loaded(page)
    first_vid = page.evaluate("seam('anonymousId')")
    (app_view,) = wait_pages(api, 1, anonymous_id=first_vid)
    page.click("#logout")
    page.wait_for_url("**/t3b/home.html")
    loaded(page)
    second_vid = page.evaluate("seam('anonymousId')")
    assert second_vid != first_vid

    def the_leave() -> dict[str, Any]:
        found = [
            e
            for e in events(api, session_id=app_view["session_id"], type="page_leave")
            if e["properties"].get("page_message_id") == app_view["message_id"]
        ]
        assert len(found) == 1, found
        return found[0]

    leave = eventually(the_leave)
    assert leave["context"]["page"]["path"] == "/t3b/app.html"
    # Expected: the first person's visitor; actual: the next visitor's new anonymous id.
    assert leave["anonymous_id"] == first_vid, leave["anonymous_id"]
    assert leave["id"] not in {e["id"] for e in events(api, anonymous_id=second_vid)}


def _assert_bound(api: httpx.Client, vid: str, contact_id: str) -> None:
    assert get(api, f"/v1/visitors/{vid}")["data"]["contact_id"] == contact_id


# --- 4. page_leave ----------------------------------------------------------------------------


def test_page_leave_gives_the_page_view_its_duration_and_scroll_depth(
    site: Site, api: httpx.Client, page: Page
) -> None:
    site.pages["/t4/article.html"] = site.html(
        '<div style="height:4000px">a long read</div><a id="next" href="/t4/next.html">next</a>',
        title="Article",
    )
    site.pages["/t4/next.html"] = site.html("next", title="Next")

    page.goto(site.url("/t4/article.html"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")
    (article,) = wait_pages(api, 1, anonymous_id=vid)
    page.mouse.wheel(0, 1500)
    page.wait_for_function("window.scrollY > 1000")
    page.click("#next")
    page.wait_for_url("**/t4/next.html")
    loaded(page)

    def left() -> dict[str, Any]:
        found = [
            e
            for e in events(api, anonymous_id=vid, type="page_leave")
            if e["properties"].get("page_message_id") == article["message_id"]
        ]
        assert len(found) == 1, found
        return found[0]

    leave = eventually(left)
    props = leave["properties"]
    (view,) = [e for e in events(api, anonymous_id=vid, type="page") if e["id"] == article["id"]]
    assert view["context"]["page"]["path"] == "/t4/article.html"
    assert isinstance(view["duration_ms"], int)
    assert 0 < view["duration_ms"] <= 3_600_000
    assert isinstance(view["scroll_depth"], int)
    assert 0 <= view["scroll_depth"] <= 100
    # Joined to its page view: the numbers are the page_leave's, not a back-filled guess.
    assert view["duration_ms"] == props["duration_ms"]
    assert view["scroll_depth"] == props["scroll_depth"]
    assert view["scroll_depth"] > 0  # the page was scrolled down to the link at the bottom


# --- 5. cookie loss -----------------------------------------------------------------------------


def test_anonymous_id_is_restored_from_local_storage_after_cookie_loss(
    site: Site, api: httpx.Client, context: BrowserContext, page: Page
) -> None:
    site.pages["/t5/page.html"] = site.html("hello", title="Page")
    page.goto(site.url("/t5/page.html"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")
    assert jar(context)["seam_vid"] == vid
    wait_pages(api, 1, anonymous_id=vid)

    context.clear_cookies()
    assert "seam_vid" not in jar(context)
    assert page.evaluate("localStorage.getItem('seam_vid')") == vid
    page.reload()
    loaded(page)

    assert page.evaluate("seam('anonymousId')") == vid
    assert jar(context)["seam_vid"] == vid  # the cookie is written back
    views = wait_pages(api, 2, anonymous_id=vid)
    assert page_paths(views) == ["/t5/page.html", "/t5/page.html"]
    assert {e["anonymous_id"] for e in views} == {vid}

    def visitor_has_both() -> dict[str, Any]:
        visitor = get(api, f"/v1/visitors/{vid}")["data"]
        assert visitor["event_count"] >= 2, visitor
        return dict(visitor)

    visitor = eventually(visitor_has_both)
    assert visitor["anonymous_id"] == vid


# --- 6. cross-domain ------------------------------------------------------------------------------


def test_cross_domain_link_carries_the_visitor_to_the_other_domain(
    site: Site, api: httpx.Client, context: BrowserContext, page: Page
) -> None:
    site.pages["/t6/shop.html"] = site.html(
        f'<a id="checkout" href="{site.url("/t6/checkout.html?step=1", host="b.test")}">Pay</a>',
        title="Shop",
        attrs='data-cross-domain="b.test"',
    )
    site.pages["/t6/checkout.html"] = site.html("pay here", title="Checkout")

    page.goto(site.url("/t6/shop.html", host="a.test"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")
    assert jar(context, "a.test")["seam_vid"] == vid
    assert "seam_vid" not in jar(context, "b.test")

    with page.expect_request(
        lambda r: "/t6/checkout.html" in r.url and r.is_navigation_request()
    ) as navigation:
        page.click("#checkout")
    page.wait_for_url("**/t6/checkout.html*")
    loaded(page)

    # The link carried the visitor: ?_seam=<anonymous id>.<unix seconds>
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(navigation.value.url).query)
    assert query["step"] == ["1"]
    carried_id, _, stamp = query["_seam"][0].rpartition(".")
    assert carried_id == vid
    assert abs(int(stamp) - time.time()) < 120

    assert page.evaluate("seam('anonymousId')") == vid
    assert jar(context, "b.test")["seam_vid"] == jar(context, "a.test")["seam_vid"] == vid
    assert page.evaluate("location.search") == "?step=1"  # _seam removed from the URL
    assert "_seam" not in page.url

    views = wait_pages(api, 2, anonymous_id=vid)
    hosts = [urllib.parse.urlsplit(e["context"]["page"]["url"]).hostname for e in views]
    assert hosts == ["a.test", "b.test"]
    assert all("_seam" not in e["context"]["page"]["url"] for e in views)
    visitor = eventually(lambda: _visitor_with(api, vid, 2))
    assert visitor["anonymous_id"] == vid


def _visitor_with(api: httpx.Client, vid: str, count: int) -> dict[str, Any]:
    visitor = get(api, f"/v1/visitors/{vid}")["data"]
    assert visitor["event_count"] >= count, visitor
    return dict(visitor)


# --- 7. cookieless workspace ----------------------------------------------------------------------


def test_cookieless_stores_nothing_and_a_browser_identify_stitches_the_fingerprint(
    site: Site, seam_server: SeamServer, context: BrowserContext, page: Page
) -> None:
    ws = seam_server.cookieless
    nav = '<a id="p2" href="/t7/two.html">two</a> <a id="p3" href="/t7/three.html">three</a>'
    for path, title in (("one", "One"), ("two", "Two"), ("three", "Three")):
        site.pages[f"/t7/{path}.html"] = site.html(nav, title=title, ws=ws, attrs="data-cookieless")

    since = "2000-01-01T00:00:00Z"  # the whole (fresh) cookieless workspace
    with seam_server.api(ws) as cl_api:
        page.goto(site.url("/t7/one.html"))
        loaded(page)
        page.click("#p2")
        page.wait_for_url("**/t7/two.html")
        loaded(page)
        page.evaluate("history.pushState({}, '', '/t7/two.html?tab=spa')")
        wait_pages(cl_api, 3, since=since)  # the SPA view is out before leaving the page
        page.click("#p3")
        page.wait_for_url("**/t7/three.html")
        loaded(page)
        assert page.evaluate("seam('anonymousId')") is None

        # The server names the visitor by its fingerprint: find it through the page views.
        views = wait_pages(cl_api, 4, since=since)
        assert page_paths(views) == [
            "/t7/one.html",
            "/t7/two.html",
            "/t7/two.html",
            "/t7/three.html",
        ]
        assert views[2]["context"]["page"]["search"] == "?tab=spa"
        fps = {e["anonymous_id"] for e in views}
        assert len(fps) == 1, fps
        (fp,) = fps
        assert fp
        assert all(e["contact_id"] is None for e in views)

        # Nothing in the browser: no cookie, no storage entry.
        assert context.cookies() == []
        assert page.evaluate("localStorage.length") == 0
        assert page.evaluate("sessionStorage.length") == 0

        page.evaluate("seam('identify', 'usr_x', {email: 'x@cookieless.test', plan: 'free'})")
        contact = contact_by(cl_api, external_id="usr_x")
        cid = contact["id"]

        def stitched() -> list[dict[str, Any]]:
            timeline = events(cl_api, contact_id=cid, type="page")
            assert len(timeline) >= 4, page_paths(timeline)
            return timeline

        timeline = eventually(stitched)
        assert {e["id"] for e in views} <= {e["id"] for e in timeline}
        assert {e["anonymous_id"] for e in timeline} == {fp}
        assert get(cl_api, f"/v1/visitors/{fp}")["data"]["contact_id"] == cid
        detail = get(cl_api, f"/v1/contacts/{cid}")["data"]
        assert detail["identifiers"]["email"] == "x@cookieless.test"
        assert detail["traits"]["plan"] == "free"

    # Still nothing stored after the identify.
    assert context.cookies() == []
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


# --- 8. a foreign origin --------------------------------------------------------------------------


def test_a_foreign_origin_gets_no_cors_grant_and_nothing_is_stored(
    site: Site, seam_server: SeamServer, api: httpx.Client, page: Page
) -> None:
    site.pages["/t8/copy.html"] = site.html("a site that copied the snippet", title="Copycat")
    # What the network layer saw: Playwright reports no response for a CORS-blocked fetch, the
    # DevTools protocol has the raw answer and the CORS verdict.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    seen: dict[str, dict[str, Any]] = {}
    cdp.on("Network.responseReceivedExtraInfo", lambda e: _note(seen, e))
    cdp.on("Network.loadingFailed", lambda e: _note(seen, e))
    with page.expect_event("requestfailed", lambda r: "/v1/collect" in r.url) as failed:
        page.goto(site.url("/t8/copy.html", host="c.test"))
        loaded(page)
    vid = page.evaluate("seam('anonymousId')")

    # The tracker's post is answered 403 without Access-Control-Allow-Origin: the browser
    # withholds the answer (the tracker sees a network error).
    post = failed.value
    assert post.failure == "net::ERR_FAILED"
    assert vid in (post.post_data or "")
    deadline = time.monotonic() + DEADLINE_S
    while not [v for v in seen.values() if {"corsErrorStatus", "statusCode"} <= set(v)]:
        assert time.monotonic() < deadline, seen
        page.wait_for_timeout(50)  # lets Playwright deliver the protocol events
    blocked = next(v for v in seen.values() if {"corsErrorStatus", "statusCode"} <= set(v))
    assert blocked["corsErrorStatus"]["corsError"] == "MissingAllowOriginHeader"
    assert blocked["statusCode"] == 403
    assert "access-control-allow-origin" not in {h.lower() for h in blocked["headers"]}

    # The same from the page's JavaScript: the browser withholds the response (no CORS grant).
    key = seam_server.main.write_key
    outcome = page.evaluate(
        """async ([url, key]) => {
            try {
                const r = await fetch(url, {method: 'POST', body: JSON.stringify({writeKey: key,
                    type: 'track', event: 'Probe', anonymousId: 'probe-c'}),
                    headers: {'Content-Type': 'text/plain'}});
                return 'read ' + r.status;
            } catch (e) { return 'blocked: ' + e.name; }
        }""",
        [f"{seam_server.url}/v1/collect", key],
    )
    assert outcome == "blocked: TypeError"
    r = httpx.post(
        f"{seam_server.url}/v1/collect",
        content=json.dumps({"writeKey": key, "type": "track", "event": "Probe"}),
        headers={"Origin": site.url("", host="c.test"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers

    # Nothing from c.test was stored, under the tracker's id or at all.
    assert events(api, anonymous_id=vid) == []
    assert events(api, anonymous_id="probe-c") == []
    assert api.get(f"/v1/visitors/{vid}").status_code == 404
    hosts = {
        urllib.parse.urlsplit(e["context"].get("page", {}).get("url", "")).hostname
        for e in events(api, since="2000-01-01T00:00:00Z")
    }
    assert "c.test" not in hosts


def _note(seen: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    seen.setdefault(event["requestId"], {}).update(event)
