"""Segment's own browser SDK (analytics-next, from npm) with its `apiHost` pointed at a real
Seam, in headless Chromium: anonymous page views and events, then identify, stitched on one
timeline; from a domain that is not the workspace's, nothing is stored.

The SDK is installed by `make test` (`npm ci` in tests/browser/sdk)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from e2e.support import free_port, wait_until_healthy

pytestmark = pytest.mark.browser

SEAM = str(Path(sys.executable).with_name("seam"))
SDK = Path(__file__).resolve().parent / "sdk/node_modules/@segment/analytics-next/dist/umd/index.js"


@dataclass
class Setup:
    seam_url: str
    write_key: str
    api: httpx.Client
    site_port: int


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if not SDK.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SDK} is missing: `make test` installs it")
        pytest.skip("analytics-next is not installed (run `make test`)")
    tmp = tmp_path_factory.mktemp("segment-sdk")
    db = f"sqlite:///{tmp / 'seam.db'}"
    subprocess.run([SEAM, "migrate", "--db", db], check=True, capture_output=True)
    created = subprocess.run(
        [SEAM, "workspace", "create", "ajs", "--domain", "a.test", "--json", "--db", db],
        check=True,
        capture_output=True,
        text=True,
    )
    ws = json.loads(created.stdout)
    port = free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SEAM, "serve", "--db", db, "--port", str(port)], stdout=out, stderr=out
        )
    seam_url = f"http://127.0.0.1:{port}"
    site = ThreadingHTTPServer(("127.0.0.1", 0), _site(ws["write_key"], port))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        wait_until_healthy(seam_url, proc, log)
        with httpx.Client(base_url=seam_url, auth=(ws["secret_key"], ""), timeout=30) as api:
            yield Setup(seam_url, ws["write_key"], api, site.server_address[1])
    finally:
        site.shutdown()
        site.server_close()
        proc.terminate()
        proc.wait(timeout=15)


def _site(write_key: str, seam_port: int) -> type[BaseHTTPRequestHandler]:
    """The customer's site: the SDK file, and a page that loads it with Seam as its API host
    (settings given inline, so nothing is fetched from Segment's CDN)."""
    settings = {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": f"127.0.0.1:{seam_port}/v1",
                "protocol": "http",
            }
        }
    }
    page = (
        "<!doctype html><html><head><title>Pricing</title>"
        '<link rel="icon" href="data:,"><script src="/analytics-next.js"></script><script>'
        "window.loaded = AnalyticsNext.AnalyticsBrowser.load("
        f"{{writeKey: {json.dumps(write_key)}, cdnSettings: {json.dumps(settings)}}})"
        ".then(([analytics]) => analytics);"
        "</script></head><body>pricing</body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            body, kind = (
                (SDK.read_bytes(), "application/javascript")
                if path == "/analytics-next.js"
                else (page, "text/html; charset=utf-8")
            )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _events(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    r = api.get("/v1/events", params={"order": "asc", "limit": 100, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def _eventually_events(api: httpx.Client, count: int, **params: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        found = _events(api, **params)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_analytics_next_anonymous_events_join_the_identified_contact(
    browser: Browser, setup: Setup
) -> None:
    page = browser.new_page()
    try:
        page.goto(f"http://a.test:{setup.site_port}/pricing")
        anonymous_id = page.evaluate(
            """async () => {
                const analytics = await window.loaded;
                await analytics.page();
                await analytics.track('Viewed Plans', {plan: 'pro'});
                await analytics.identify('usr-ajs-1', {email: 'ada@example.com'});
                return analytics.user().anonymousId();
            }"""
        )
    finally:
        page.close()

    stored = _eventually_events(setup.api, 3, anonymous_id=anonymous_id)
    assert [e["type"] for e in stored] == ["page", "track", "identify"]
    assert {e["context"]["library"]["name"] for e in stored} == {"analytics.js"}
    contacts = setup.api.get("/v1/contacts", params={"external_id": "usr-ajs-1"}).json()["data"]
    assert len(contacts) == 1
    contact_id = contacts[0]["id"]
    assert {e["contact_id"] for e in stored} == {contact_id}
    timeline = _events(setup.api, contact_id=contact_id)
    assert [(e["type"], e["attribution"]["via"]) for e in timeline] == [
        ("page", "identify"),
        ("track", "identify"),
        ("identify", "user_id"),
    ]
    assert timeline[0]["context"]["page"]["path"] == "/pricing"


def test_analytics_next_on_a_foreign_domain_stores_nothing(browser: Browser, setup: Setup) -> None:
    page = browser.new_page()
    try:
        page.goto(f"http://c.test:{setup.site_port}/pricing")
        anonymous_id = page.evaluate(
            """async () => {
                const analytics = await window.loaded;
                await analytics.track('Foreign Click');
                return analytics.user().anonymousId();
            }"""
        )
        page.wait_for_timeout(500)
    finally:
        page.close()
    assert _events(setup.api, anonymous_id=anonymous_id) == []
