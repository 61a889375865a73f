"""The browser tracker (src/seam/tracker/seam.min.js) in real headless Chromium.

These are tracker-level tests: pages and a fake ``/v1/collect`` are served by a tiny HTTP
server inside the test, which records every posted body. They pin down what the tracker puts
on the wire (SPEC §6); what the real server does with it is tested elsewhere.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Page  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TRACKER = ROOT / "src" / "seam" / "tracker" / "seam.min.js"
DEMO = ROOT / "src" / "seam" / "demo"
WRITE_KEY = "wk_test_123"
STUB = (
    "<script>window.seam = window.seam || function(){(seam.q = seam.q || []).push(arguments)}"
    "</script>"
)
UUID_LEN = 36


def html(body: str = "", *, attrs: str = "", title: str = "Test page", head: str = "") -> str:
    """A page with the snippet (queue stub + async tracker tag)."""
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}{STUB}"
        f'<script async src="/seam.js" data-key="{WRITE_KEY}" {attrs}></script>'
        f"</head><body>{body}</body></html>"
    )


@dataclass
class Attempt:
    """One POST to /v1/collect as the server saw it."""

    status: int
    content_type: str
    raw: str
    body: dict[str, Any]


@dataclass
class FakeSeam:
    """Serves pages and records /v1/collect posts. Thread-safe; tests wait on `cond`."""

    pages: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)  # answers for the next collect posts
    attempts: list[Attempt] = field(default_factory=list)
    # Posts whose body contains this get no answer at all (the connection is closed): what a
    # browser sees for a network error, or for a 413 sent without CORS headers.
    poison: str | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def messages(self) -> list[dict[str, Any]]:
        """Every message of every acknowledged (2xx) post, in arrival order, once per
        messageId as Seam stores them (the tracker may send a message again when it cannot
        know that a beacon arrived)."""
        with self.cond:
            acknowledged = [
                m for a in self.attempts if 200 <= a.status < 300 for m in a.body.get("batch", [])
            ]
        once: dict[str, dict[str, Any]] = {}
        for m in acknowledged:
            once.setdefault(m["messageId"], m)
        return list(once.values())

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 15
    ) -> list[dict[str, Any]]:
        """Block until `count` acknowledged messages match `pred`; return them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in self.messages() if pred(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    types = [(m["type"], m.get("event")) for m in self.messages()]
                    raise AssertionError(f"timed out; received {types}")
                self.cond.wait(left)

    def wait_type(self, type_: str, count: int = 1, **where: Any) -> list[dict[str, Any]]:
        return self.wait_for(
            lambda m: m["type"] == type_ and all(m.get(k) == v for k, v in where.items()), count
        )


def make_handler(fake: FakeSeam) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path == "/seam.js":
                self._send(200, TRACKER.read_bytes(), "application/javascript")
            elif path in fake.pages:
                self._send(200, fake.pages[path].encode(), "text/html; charset=utf-8")
            elif path.startswith("/demo/") and (DEMO / path[6:]).is_file():
                data = (DEMO / path[6:]).read_bytes().replace(b"__SEAM_WRITE_KEY__", b"wk_demo")
                ctype = {".css": "text/css", ".js": "application/javascript"}.get(
                    Path(path).suffix, "text/html; charset=utf-8"
                )
                self._send(200, data, ctype)
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if urllib.parse.urlsplit(self.path).path != "/v1/collect":
                self.do_GET()  # a form posting to a page
                return
            with fake.cond:
                if fake.poison and fake.poison in raw:
                    fake.attempts.append(Attempt(0, "", raw, json.loads(raw)))
                    fake.cond.notify_all()
                    self.close_connection = True
                    return
                status = fake.statuses.pop(0) if fake.statuses else 200
                fake.attempts.append(
                    Attempt(status, self.headers.get("Content-Type", ""), raw, json.loads(raw))
                )
                fake.cond.notify_all()
            self._send(status, b'{"status":"success"}', "application/json")

    return Handler


@pytest.fixture
def fake() -> Iterator[FakeSeam]:
    fake = FakeSeam()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def loaded(page: Page) -> None:
    page.wait_for_function("window.seam && window.seam.loaded === true")


def cookies(context: BrowserContext) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}


# --- page views and the wire format ---------------------------------------------------------


def test_page_view_on_load_is_a_segment_message_posted_as_text_plain(
    fake: FakeSeam, context: BrowserContext, page: Page
) -> None:
    fake.pages["/landing.html"] = html(title="Landing")
    context.add_cookies(
        [{"name": "seam_external_contact_id", "value": "usr_42", "url": fake.url("/")}]
    )
    page.goto(fake.url("/landing.html?utm_campaign=spring&utm_source=news&x=1#top"))

    (msg,) = fake.wait_type("page")
    attempt = next(a for a in fake.attempts if msg in a.body["batch"])
    assert attempt.content_type.startswith("text/plain")
    assert attempt.body["writeKey"] == WRITE_KEY
    assert attempt.body["sentAt"].endswith("Z")

    vid = cookies(context)["seam_vid"]
    assert len(vid) == UUID_LEN
    assert msg["anonymousId"] == vid
    assert page.evaluate("localStorage.getItem('seam_vid')") == vid
    assert len(msg["messageId"]) == UUID_LEN
    assert msg["timestamp"].endswith("Z")
    ctx = msg["context"]
    expected_page = {
        "url": fake.url("/landing.html?utm_campaign=spring&utm_source=news&x=1"),
        "path": "/landing.html",
        "referrer": "",
        "title": "Landing",
        "search": "?utm_campaign=spring&utm_source=news&x=1",
    }
    assert ctx["page"] == expected_page
    assert msg["properties"] == expected_page
    assert ctx["campaign"] == {"name": "spring", "source": "news"}
    assert ctx["library"]["name"] == "seam.js"
    assert ctx["userAgent"] == page.evaluate("navigator.userAgent")
    assert ctx["locale"]
    assert ctx["external_contact_id"] == "usr_42"
    assert len(ctx["session_id"]) == UUID_LEN
    assert page.evaluate("seam('anonymousId')") == vid
    assert page.evaluate("seam('sessionId')") == ctx["session_id"]


def test_calls_queued_before_load_are_replayed_after_the_page_view(
    fake: FakeSeam, page: Page
) -> None:
    early = (
        "<script>seam('track', 'Early Click', {button: 'cta'});"
        "seam('identify', 'usr_7', {plan: 'pro'}, {user_hash: 'abc123'});"
        "seam('group', 'acme', {name: 'Acme'});</script>"
    )
    fake.pages["/q.html"] = html(head="", body=early)
    page.goto(fake.url("/q.html"))

    msgs = fake.wait_for(lambda m: m["type"] in ("page", "track", "identify", "group"), count=4)
    assert [m["type"] for m in msgs] == ["page", "track", "identify", "group"]
    _, track, ident, grp = msgs
    assert track["event"] == "Early Click"
    assert track["properties"] == {"button": "cta"}
    assert ident["userId"] == "usr_7"
    assert ident["traits"] == {"plan": "pro"}
    assert ident["context"]["user_hash"] == "abc123"
    assert "user_hash" not in track["context"]
    assert grp["groupId"] == "acme"
    assert grp["traits"] == {"name": "Acme"}
    assert len({m["messageId"] for m in msgs}) == 4


def test_spa_navigation_closes_the_view_and_opens_a_new_one(fake: FakeSeam, page: Page) -> None:
    fake.pages["/app"] = html(title="App")
    page.goto(fake.url("/app"))
    loaded(page)
    (first,) = fake.wait_type("page")

    # Same path and query: not a page view.
    page.evaluate("history.replaceState({x: 1}, '', '/app#section')")
    page.evaluate("history.pushState({}, '', '/app/settings?tab=2'); document.title = 'Settings'")
    second = fake.wait_type("page", count=2)[1]
    (leave,) = fake.wait_type("page_leave")

    assert second["context"]["page"]["path"] == "/app/settings"
    assert second["context"]["page"]["search"] == "?tab=2"
    assert second["context"]["page"]["title"] == "Settings"
    assert second["context"]["page"]["referrer"] == fake.url("/app")
    assert leave["properties"]["page_message_id"] == first["messageId"]
    assert leave["context"]["page"]["path"] == "/app"  # the page being left
    assert 0 <= leave["properties"]["duration_ms"] <= 3_600_000
    assert leave["context"]["session_id"] == first["context"]["session_id"]

    page.go_back()  # popstate back to /app
    third = fake.wait_type("page", count=3)[2]
    assert third["context"]["page"]["path"] == "/app"
    assert len(fake.wait_type("page_leave", count=2)) == 2
    assert len([m for m in fake.messages() if m["type"] == "page"]) == 3


def test_page_leave_is_beaconed_when_navigating_away(fake: FakeSeam, page: Page) -> None:
    fake.pages["/long.html"] = html(
        '<div style="height:5000px">tall</div><a id="next" href="/next.html">next</a>'
    )
    fake.pages["/next.html"] = html()
    page.goto(fake.url("/long.html"))
    loaded(page)
    (view,) = fake.wait_type("page")
    page.wait_for_timeout(300)
    page.mouse.wheel(0, 2000)
    page.wait_for_function("window.scrollY > 1000")
    page.click("#next")  # scrolls to the bottom first: that counts

    (leave,) = fake.wait_type("page_leave")
    props = leave["properties"]
    assert props["page_message_id"] == view["messageId"]
    assert 200 <= props["duration_ms"] <= 3_600_000
    assert isinstance(props["scroll_depth"], int)
    assert props["scroll_depth"] == 100
    nxt = fake.wait_type("page", count=2)[1]
    assert nxt["context"]["page"]["referrer"] == fake.url("/long.html")
    # The endpoint had acknowledged the page view: the beacon is trusted, not sent again
    # (the next page would have sent its leftovers with its own page view).
    with fake.cond:
        posted = [m for a in fake.attempts for m in a.body["batch"] if m["type"] == "page_leave"]
    assert len(posted) == 1


def test_auto_page_false_sends_only_manual_page_views(fake: FakeSeam, page: Page) -> None:
    fake.pages["/manual.html"] = html(attrs='data-auto-page="false"')
    page.goto(fake.url("/manual.html"))
    loaded(page)
    page.evaluate("history.pushState({}, '', '/elsewhere')")
    page.evaluate("seam('page', 'Pricing', {plan: 'pro'})")
    (msg,) = fake.wait_type("page")
    assert msg["name"] == "Pricing"
    assert msg["properties"]["plan"] == "pro"
    assert msg["properties"]["path"] == "/elsewhere"
    page.evaluate("seam('track', 'Done')")
    fake.wait_type("track")
    assert [m["type"] for m in fake.messages()] == ["page", "track"]


# --- identity in the browser -------------------------------------------------------------------


def test_reset_forgets_the_contact_and_starts_a_new_visitor_and_session(
    fake: FakeSeam, context: BrowserContext, page: Page
) -> None:
    fake.pages["/r.html"] = html()
    page.goto(fake.url("/r.html"))
    loaded(page)
    page.evaluate("document.cookie = 'seam_external_contact_id=usr_9; path=/'")
    old_vid = page.evaluate("seam('anonymousId')")
    old_sid = page.evaluate("seam('sessionId')")

    page.evaluate("seam('reset'); seam('track', 'After Reset')")
    (track,) = fake.wait_type("track")

    new_vid = page.evaluate("seam('anonymousId')")
    assert new_vid != old_vid
    assert len(new_vid) == UUID_LEN
    jar = cookies(context)
    assert "seam_external_contact_id" not in jar
    assert jar["seam_vid"] == new_vid
    assert page.evaluate("localStorage.getItem('seam_vid')") == new_vid
    assert track["anonymousId"] == new_vid
    assert "external_contact_id" not in track["context"]
    assert track["context"]["session_id"] != old_sid


def test_anonymous_id_survives_cookie_loss_via_local_storage(
    fake: FakeSeam, context: BrowserContext, page: Page
) -> None:
    fake.pages["/v.html"] = html()
    page.goto(fake.url("/v.html"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")

    context.clear_cookies()
    page.reload()
    loaded(page)
    assert page.evaluate("seam('anonymousId')") == vid
    assert cookies(context)["seam_vid"] == vid  # re-set
    pages = fake.wait_type("page", count=2)
    assert {m["anonymousId"] for m in pages} == {vid}


def test_session_rotates_after_thirty_idle_minutes(fake: FakeSeam, page: Page) -> None:
    fake.pages["/s.html"] = html()
    page.goto(fake.url("/s.html"))
    loaded(page)
    sid = page.evaluate("seam('sessionId')")
    stored = json.loads(page.evaluate("localStorage.getItem('seam_sid')"))
    assert stored["id"] == sid

    # 5 idle minutes: same session; 31: a new one.
    set_idle = (
        "m => localStorage.setItem('seam_sid',"
        " JSON.stringify({id: '%s', t: Date.now() - m * 60000}))"
    )
    page.evaluate(set_idle % sid, 5)
    assert page.evaluate("seam('sessionId')") == sid
    page.evaluate(set_idle % sid, 31)
    page.evaluate("seam('track', 'Back')")
    (track,) = fake.wait_type("track")
    assert track["context"]["session_id"] != sid
    assert page.evaluate("seam('sessionId')") == track["context"]["session_id"]


def test_cookieless_mode_stores_nothing_and_sends_no_anonymous_id(
    fake: FakeSeam, context: BrowserContext, page: Page
) -> None:
    fake.pages["/c.html"] = html(
        '<form id="f" action="/c.html"><input type="email" name="email" value="a@b.co"></form>',
        attrs="data-cookieless",
    )
    page.goto(fake.url("/c.html"))
    loaded(page)
    page.evaluate("seam('identify', 'usr_1', {email: 'a@b.co'}); seam('track', 'X'); seam('reset')")
    page.evaluate("history.pushState({}, '', '/c.html?spa=1')")
    fake.wait_type("page", count=2)
    fake.wait_type("track")

    assert context.cookies() == []
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.length") == 0
    assert page.evaluate("seam('anonymousId')") is None
    for msg in fake.messages():
        assert "anonymousId" not in msg
        assert len(msg["context"]["session_id"]) == UUID_LEN


# --- cross-domain ------------------------------------------------------------------------------


def test_cross_domain_links_carry_the_anonymous_id_and_the_destination_adopts_it(
    fake: FakeSeam, context: BrowserContext, page: Page
) -> None:
    dest = fake.url("/dest.html?x=1&y=a%20b#h", host="shop.b.test")
    fake.pages["/src.html"] = html(
        f'<a id="go" href="{dest}">shop</a>'
        '<a id="other" href="http://c.test/" onclick="return false">c</a>',
        attrs='data-cross-domain="b.test, other.test"',
    )
    fake.pages["/dest.html"] = html(title="Dest")
    page.goto(fake.url("/src.html", host="a.test"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")

    page.click("#other")  # not a listed domain: left alone
    assert "_seam" not in page.get_attribute("#other", "href")
    page.click("#go")
    page.wait_for_url("**/dest.html*")
    loaded(page)

    assert page.evaluate("seam('anonymousId')") == vid
    assert page.evaluate("location.search") == "?x=1&y=a%20b"
    assert page.evaluate("location.hash") == "#h"
    jar = {c["name"]: c for c in context.cookies() if c["domain"] == "shop.b.test"}
    assert jar["seam_vid"]["value"] == vid
    landed = fake.wait_for(
        lambda m: m["type"] == "page" and m["context"]["page"]["title"] == "Dest"
    )
    assert landed[0]["anonymousId"] == vid
    assert "_seam" not in landed[0]["context"]["page"]["url"]


def test_stale_cross_domain_id_is_ignored_but_removed(fake: FakeSeam, page: Page) -> None:
    fake.pages["/dest.html"] = html()
    stale = f"someone-else.{int(time.time()) - 300}"
    page.goto(fake.url(f"/dest.html?_seam={stale}&keep=1", host="b.test"))
    loaded(page)
    assert page.evaluate("seam('anonymousId')") != "someone-else"
    assert page.evaluate("location.search") == "?keep=1"
    (view,) = fake.wait_type("page")
    assert view["context"]["page"]["search"] == "?keep=1"


# --- forms ------------------------------------------------------------------------------------

SIGNUP = """
<form id="signup" name="signup-form" action="/thanks.html" method="post">
  <input type="email" name="email">
  <input name="name" data-seam-capture>
  <input name="company">
  <input type="password" name="password" data-seam-capture>
  <input type="checkbox" name="newsletter" data-seam-capture checked>
  <button type="submit">Sign up</button>
</form>
<form id="quiet" data-seam-ignore action="/thanks.html">
  <input name="email"><button>go</button>
</form>
"""


def test_form_submit_sends_email_and_opted_in_fields_but_never_passwords(
    fake: FakeSeam, page: Page
) -> None:
    fake.pages["/signup.html"] = html(SIGNUP)
    fake.pages["/thanks.html"] = html("thanks")
    page.goto(fake.url("/signup.html"))
    loaded(page)
    page.fill("#signup [name=email]", "  Ada.Lovelace@Example.COM ")
    page.fill("#signup [name=name]", " Ada ")
    page.fill("#signup [name=company]", "Analytical Engines")
    page.fill("#signup [name=password]", "hunter2-secret")
    page.click("#signup button")
    page.wait_for_url("**/thanks.html*")

    (form,) = fake.wait_type("form")
    assert form["traits"] == {
        "email": "ada.lovelace@example.com",
        "name": "Ada",
        "newsletter": True,
    }
    assert form["properties"] == {
        "form_id": "signup",
        "form_name": "signup-form",
        "form_action": fake.url("/thanks.html"),
    }
    assert form["anonymousId"]
    fake.wait_type("page", count=2)
    assert all("hunter2" not in a.raw for a in fake.attempts)


def test_forms_marked_ignore_or_without_email_send_nothing(fake: FakeSeam, page: Page) -> None:
    fake.pages["/signup.html"] = html(
        SIGNUP + '<form id="search" action="/thanks.html"><input name="q"><button>s</button></form>'
    )
    fake.pages["/thanks.html"] = html("thanks")
    page.goto(fake.url("/signup.html"))
    loaded(page)
    page.fill("#quiet [name=email]", "x@y.co")
    page.click("#quiet button")
    page.wait_for_url("**/thanks.html*")
    page.goto(fake.url("/signup.html"))
    loaded(page)
    page.fill("#search [name=q]", "shoes")
    page.click("#search button")
    page.wait_for_url("**/thanks.html*")
    fake.wait_type("page", count=4)
    page.evaluate("seam('track', 'Sentinel')")
    fake.wait_type("track")
    assert not [m for m in fake.messages() if m["type"] == "form"]


# --- delivery -----------------------------------------------------------------------------------


def test_failed_posts_are_retried_with_the_same_message_id(fake: FakeSeam, page: Page) -> None:
    fake.statuses = [503, 429]
    fake.pages["/p.html"] = html()
    page.goto(fake.url("/p.html"))
    (view,) = fake.wait_type("page")
    tries = [
        a
        for a in fake.attempts
        if any(m["messageId"] == view["messageId"] for m in a.body["batch"])
    ]
    assert [a.status for a in tries] == [503, 429, 200]


def test_rejected_posts_are_not_retried(fake: FakeSeam, page: Page) -> None:
    fake.statuses = [400]
    fake.pages["/p.html"] = html()
    page.goto(fake.url("/p.html"))
    loaded(page)
    with fake.cond:
        fake.cond.wait_for(lambda: fake.attempts, timeout=15)  # the page view, refused
    page.evaluate("seam('track', 'Later')")
    fake.wait_type("track")
    assert [a.status for a in fake.attempts] == [400, 200]
    assert [m["type"] for m in fake.messages()] == ["track"]


def test_unsent_queue_left_by_an_earlier_page_is_delivered(fake: FakeSeam, page: Page) -> None:
    fake.pages["/p.html"] = html()
    fake.pages["/blank.html"] = "<!doctype html><title>blank</title>"
    page.goto(fake.url("/blank.html"))
    leftover = {
        "type": "track",
        "event": "Left Behind",
        "messageId": "00000000-0000-4000-8000-000000000001",
        "anonymousId": "v-1",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "context": {},
    }
    page.evaluate("m => localStorage.setItem('seam_q:dead', JSON.stringify([m]))", leftover)
    page.goto(fake.url("/p.html"))
    (msg,) = fake.wait_type("track", event="Left Behind")
    assert msg == leftover
    loaded(page)
    page.wait_for_function("!Object.keys(localStorage).some(k => k.startsWith('seam_q:'))")


def test_events_are_batched(fake: FakeSeam, page: Page) -> None:
    fake.pages["/p.html"] = html(attrs='data-auto-page="false"')
    page.goto(fake.url("/p.html"))
    loaded(page)
    page.evaluate("for (let i = 0; i < 25; i++) seam('track', 'E' + i)")
    msgs = fake.wait_type("track", count=25)
    assert [m["event"] for m in msgs] == [f"E{i}" for i in range(25)]
    assert all(len(a.body["batch"]) <= 10 for a in fake.attempts)
    assert len(fake.attempts) <= 4


# --- the demo site (src/seam/demo), served as `seam serve --demo` would ----------------------


def test_every_demo_page_carries_the_snippet_with_the_key_placeholder() -> None:
    pages = sorted(DEMO.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "pricing.html", "docs.html", "signup.html"}
    for p in pages:
        assert 'src="/seam.js" data-key="__SEAM_WRITE_KEY__"' in p.read_text(), p.name


def test_demo_signup_login_and_logout(fake: FakeSeam, context: BrowserContext, page: Page) -> None:
    page.goto(fake.url("/demo/index.html"))
    loaded(page)
    vid = page.evaluate("seam('anonymousId')")
    page.click("text=Docs")
    loaded(page)
    page.click("#toc >> text=Installation")
    fake.wait_for(
        lambda m: m["type"] == "page" and m["context"]["page"]["search"] == "?topic=install"
    )

    page.goto(fake.url("/demo/signup.html"))
    loaded(page)
    page.fill("[name=email]", "Ada@Example.com")
    page.fill("[name=name]", "Ada")
    page.fill("[type=password]", "hunter2-secret")
    page.click("button[type=submit]")
    page.wait_for_url("**/welcome.html")
    (form,) = fake.wait_type("form")
    assert form["traits"] == {"email": "ada@example.com", "name": "Ada"}
    assert form["anonymousId"] == vid
    welcome = fake.wait_for(
        lambda m: m["type"] == "page" and m["context"]["page"]["path"].endswith("/welcome.html")
    )
    assert welcome[0]["context"]["page"]["search"] == ""  # the form fields were stripped

    page.goto(fake.url("/demo/login.html"))
    loaded(page)
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html")
    (ident,) = fake.wait_type("identify")
    assert ident["userId"] == "usr_ada"
    assert ident["traits"] == {"email": "ada@example.com"}
    app_view = fake.wait_for(
        lambda m: m["type"] == "page" and m["context"]["page"]["path"].endswith("/app.html")
    )
    assert app_view[0]["context"]["external_contact_id"] == "usr_ada"

    loaded(page)
    page.click("#logout")
    page.wait_for_url("**/index.html")
    loaded(page)
    assert "seam_external_contact_id" not in cookies(context)
    assert page.evaluate("seam('anonymousId')") != vid
    assert all(a.body["writeKey"] == "wk_demo" for a in fake.attempts)
    assert all("hunter2" not in a.raw for a in fake.attempts)


# --- resilience: failing endpoint, big events, bad stored ids, hidden tabs ---------------------


def set_visibility(page: Page, state: str) -> None:
    """Headless tabs stay visible: fake a tab switch (hidden) and the return (visible)."""
    page.evaluate(
        """s => {
          Object.defineProperty(document, 'visibilityState', {value: s, configurable: true});
          document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


def wait_posted(fake: FakeSeam, pred: Callable[[dict[str, Any]], bool]) -> None:
    """Wait for a post (acknowledged or not) carrying a message matching `pred`."""
    with fake.cond:
        assert fake.cond.wait_for(
            lambda: any(pred(m) for a in fake.attempts for m in a.body["batch"]), timeout=15
        )


def heal(fake: FakeSeam) -> None:
    with fake.cond:
        fake.statuses.clear()


def test_messages_in_retry_are_kept_after_a_beacon_at_navigation(
    fake: FakeSeam, page: Page
) -> None:
    fake.statuses = [503] * 1000
    fake.pages["/a.html"] = html('<a id="next" href="/b.html">next</a>')
    fake.pages["/b.html"] = html()
    page.goto(fake.url("/a.html"))
    loaded(page)
    with fake.cond:  # the page view, refused and retried: the tracker knows sends fail
        assert fake.cond.wait_for(lambda: len(fake.attempts) >= 2, timeout=15)
        view_id = fake.attempts[0].body["batch"][0]["messageId"]
    page.click("#next")  # pagehide: page_leave (+ the page view in retry) go by beacon, refused
    page.wait_for_url("**/b.html")
    wait_posted(fake, lambda m: m["type"] == "page_leave")
    heal(fake)

    # The next page adopts them from localStorage and delivers them.
    fake.wait_for(lambda m: m["messageId"] == view_id)
    (leave,) = fake.wait_type("page_leave")
    assert leave["properties"]["page_message_id"] == view_id


def test_messages_in_retry_are_kept_after_a_beacon_when_the_tab_is_hidden(
    fake: FakeSeam, page: Page
) -> None:
    fake.statuses = [503] * 1000
    fake.pages["/a.html"] = html()
    page.goto(fake.url("/a.html"))
    loaded(page)
    with fake.cond:  # the page view, refused and retried: the tracker knows sends fail
        assert fake.cond.wait_for(lambda: len(fake.attempts) >= 2, timeout=15)
    set_visibility(page, "hidden")  # page_leave beaconed while the endpoint fails
    wait_posted(fake, lambda m: m["type"] == "page_leave")
    assert page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('seam_q:'))"
        ".some(k => localStorage.getItem(k).includes('page_leave'))"
    )
    heal(fake)
    set_visibility(page, "visible")
    fake.wait_type("page_leave")  # by the next retry of this page
    page.wait_for_function("!Object.keys(localStorage).some(k => k.startsWith('seam_q:'))")


def test_messages_beaconed_before_the_endpoint_ever_answered_are_kept_until_acknowledged(
    fake: FakeSeam, page: Page
) -> None:
    """A new visitor hides the tab before the tracker's first send: nothing vouches for the
    endpoint yet (it is down), so what the beacon carried stays queued until a send of it
    is acknowledged, instead of being forgotten."""
    fake.statuses = [503] * 1000
    fake.pages["/a.html"] = html()
    page.goto(fake.url("/a.html"))
    loaded(page)
    set_visibility(page, "hidden")  # within the first second: all of it leaves by beacon
    wait_posted(fake, lambda m: m["type"] == "page_leave")
    with fake.cond:
        first = fake.attempts[0]
    # sendBeacon's string body is text/plain;charset=UTF-8, the tracker's fetch text/plain.
    assert "charset" in first.content_type.lower()
    assert {m["type"] for m in first.body["batch"]} == {"page", "page_leave"}
    heal(fake)
    set_visibility(page, "visible")
    fake.wait_type("page")  # delivered after all, by an acknowledged send
    fake.wait_type("page_leave")
    page.wait_for_function("!Object.keys(localStorage).some(k => k.startsWith('seam_q:'))")


def test_an_event_over_32_kb_is_dropped_and_later_events_flow(fake: FakeSeam, page: Page) -> None:
    fake.pages["/p.html"] = html(attrs='data-auto-page="false"')
    page.goto(fake.url("/p.html"))
    loaded(page)
    page.evaluate("seam('track', 'Huge', {blob: '漢'.repeat(11000)}); seam('track', 'After')")
    fake.wait_type("track", event="After")
    assert all("Huge" not in a.raw for a in fake.attempts)


def test_request_bodies_stay_under_the_keepalive_cap_in_utf8_bytes(
    fake: FakeSeam, page: Page
) -> None:
    fake.pages["/p.html"] = html(attrs='data-auto-page="false"')
    page.goto(fake.url("/p.html"))
    loaded(page)
    # ~26,000 characters but ~76 KB of UTF-8: over Chrome's 64 KB keepalive cap as one body.
    page.evaluate("for (let i = 0; i < 10; i++) seam('track', 'E' + i, {t: '漢'.repeat(2500)})")
    msgs = fake.wait_type("track", count=10)
    assert sorted(m["event"] for m in msgs) == sorted(f"E{i}" for i in range(10))
    assert all(len(a.raw.encode()) < 64 * 1024 for a in fake.attempts)
    assert all("tries" not in m for m in msgs)  # the retry counter stays in the browser


def test_many_requests_in_a_row_are_not_refused_by_the_keepalive_budget(
    fake: FakeSeam, page: Page
) -> None:
    # Chrome counts a keepalive request against a 64 KB budget until its response is read.
    fake.pages["/p.html"] = html(attrs='data-auto-page="false"')
    page.goto(fake.url("/p.html"))
    loaded(page)
    page.evaluate("for (let i = 0; i < 40; i++) seam('track', 'E' + i, {t: 'x'.repeat(2500)})")
    msgs = fake.wait_type("track", count=40)
    assert sorted(m["event"] for m in msgs) == sorted(f"E{i}" for i in range(40))
    assert all(a.status == 200 for a in fake.attempts)


def test_a_batch_that_always_fails_is_given_up_so_later_events_flow(
    fake: FakeSeam, page: Page
) -> None:
    fake.poison = "Poison"
    fake.pages["/p.html"] = html(attrs='data-auto-page="false"')
    page.clock.install()
    page.goto(fake.url("/p.html"))
    loaded(page)
    page.evaluate("seam('track', 'Poison')")
    with fake.cond:
        assert fake.cond.wait_for(lambda: fake.attempts, timeout=15)
    page.evaluate("seam('track', 'Later')")  # joins the failing batch's retries
    for _ in range(40):  # 40 minutes of backoff at most
        if any(m.get("event") == "Later" for m in fake.messages()):
            break
        count = len(fake.attempts)
        page.clock.fast_forward(61_000)
        with fake.cond:
            fake.cond.wait_for(lambda n=count: len(fake.attempts) > n, timeout=2)
    fake.wait_for(lambda m: m.get("event") == "Later", timeout=5)
    assert 5 <= len([a for a in fake.attempts if "Poison" in a.raw]) <= 25
    assert not [m for m in fake.messages() if m.get("event") == "Poison"]


PLACEHOLDERS = ["undefined", "NULL", "anonymous", "0", "-1", "Guest", "nan", "true", "false"]
PLACEHOLDERS += ["none", "nil"]


def test_placeholder_anonymous_ids_are_replaced(
    fake: FakeSeam, context: BrowserContext, page: Page
) -> None:
    fake.pages["/blank.html"] = "<!doctype html><title>blank</title>"
    fake.pages["/p.html"] = html()
    page.goto(fake.url("/blank.html"))
    for value in PLACEHOLDERS:
        page.evaluate(
            "v => { localStorage.setItem('seam_vid', v); document.cookie = 'seam_vid=' + v; }",
            value,
        )
        page.goto(fake.url(f"/p.html?_seam={value}.{int(time.time())}"))
        loaded(page)
        vid = page.evaluate("seam('anonymousId')")
        assert len(vid) == UUID_LEN, value
        assert cookies(context)["seam_vid"] == vid
        assert page.evaluate("localStorage.getItem('seam_vid')") == vid
    pages = fake.wait_type("page", count=len(PLACEHOLDERS))
    assert all(len(m["anonymousId"]) == UUID_LEN for m in pages)


def test_a_page_view_shown_again_reports_running_totals(fake: FakeSeam, page: Page) -> None:
    fake.pages["/long.html"] = html('<div style="height:5000px">tall</div>')
    page.goto(fake.url("/long.html"))
    loaded(page)
    (view,) = fake.wait_type("page")
    page.wait_for_timeout(200)
    set_visibility(page, "hidden")
    (first,) = fake.wait_type("page_leave")
    page.wait_for_timeout(300)  # hidden time does not count
    set_visibility(page, "visible")
    page.wait_for_timeout(400)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    set_visibility(page, "hidden")
    first, second = fake.wait_type("page_leave", count=2)
    assert first["properties"]["page_message_id"] == view["messageId"]
    assert second["properties"]["page_message_id"] == view["messageId"]
    assert second["messageId"] != first["messageId"]
    assert first["properties"]["duration_ms"] >= 150
    duration = second["properties"]["duration_ms"] - first["properties"]["duration_ms"]
    assert 350 <= duration < 1500
    assert first["properties"]["scroll_depth"] < 100
    assert second["properties"]["scroll_depth"] == 100
    assert second["context"]["page"] == first["context"]["page"]
    page.evaluate("window.dispatchEvent(new Event('pagehide'))")  # nothing new since: no repeat
    page.evaluate("seam('track', 'Sentinel')")
    fake.wait_type("track")
    assert [m["type"] for m in fake.messages()].count("page_leave") == 2
    assert [m["type"] for m in fake.messages()].count("page") == 1


def test_a_page_call_queued_before_load_is_the_automatic_page_view(
    fake: FakeSeam, page: Page
) -> None:
    fake.pages["/q.html"] = html(body="<script>seam('page'); seam('track', 'One')</script>")
    fake.pages["/n.html"] = html(
        body="<script>seam('track', 'Two'); seam('page', 'Home', {section: 'top'})</script>"
    )
    page.goto(fake.url("/q.html"))
    fake.wait_type("track", event="One")
    page.goto(fake.url("/n.html"))
    fake.wait_type("track", event="Two")
    loaded(page)
    page.evaluate("seam('track', 'Sentinel')")
    fake.wait_type("track", event="Sentinel")
    views = [m for m in fake.messages() if m["type"] == "page"]
    assert [v["context"]["page"]["path"] for v in views] == ["/q.html", "/n.html"]
    assert views[1]["name"] == "Home"
    assert views[1]["properties"]["section"] == "top"
    assert views[1]["properties"]["path"] == "/n.html"
    leaves = fake.wait_type("page_leave")  # only the one of /q.html, left for /n.html
    assert [m["properties"]["page_message_id"] for m in leaves] == [views[0]["messageId"]]


def test_spa_page_view_waits_for_the_title_the_router_sets(fake: FakeSeam, page: Page) -> None:
    fake.pages["/app"] = html(title="App")
    page.goto(fake.url("/app"))
    loaded(page)
    (first,) = fake.wait_type("page")
    page.evaluate(
        "history.pushState({}, '', '/app/next'); setTimeout(() => document.title = 'Next', 30)"
    )
    second = fake.wait_type("page", count=2)[1]
    (leave,) = fake.wait_type("page_leave")
    assert second["context"]["page"]["title"] == "Next"
    assert second["properties"]["title"] == "Next"
    assert leave["properties"]["page_message_id"] == first["messageId"]
    assert leave["context"]["page"]["title"] == "App"
    assert leave["timestamp"] <= second["timestamp"]  # both made at navigation time

    # Quick navigations are each a page view; one left early takes the title of then.
    page.evaluate(
        "history.pushState({}, '', '/app/a'); document.title = 'A';"
        "history.pushState({}, '', '/app/b'); setTimeout(() => document.title = 'B', 30)"
    )
    views = fake.wait_type("page", count=4)
    assert [(v["context"]["page"]["path"], v["context"]["page"]["title"]) for v in views[2:]] == [
        ("/app/a", "A"),
        ("/app/b", "B"),
    ]
