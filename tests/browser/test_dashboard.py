"""The dashboard in real headless Chromium against a real `seam serve` (SQLite file).

Data is seeded over the public HTTP API the way an app would send it: anonymous page views
with the write key, then an identify with the secret key. The tests then do what a person
checking Seam does: sign in, find the person, read the back-filled pre-login pages and the
attribution of an event, spot a refused binding, manage keys, and get refused where they must.

Screenshots of the main pages are written to a temporary directory, or to docs/screenshots/
when SEAM_SCREENSHOTS=docs (how the README's images are made).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402

from e2e.support import free_port, wait_until_healthy  # noqa: E402

pytestmark = pytest.mark.browser

SEAM = str(Path(sys.executable).with_name("seam"))
ROOT = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD = "admin@example.com", "correct horse battery"
PRE_LOGIN_PATHS = ["/", "/pricing", "/docs/identity", "/signup"]


@dataclass
class Seam:
    url: str
    db_url: str
    acme: dict[str, Any]
    globex: dict[str, Any]
    ada_id: str
    eve_id: str
    globex_contact_id: str

    def path(self, rest: str = "") -> str:
        return f"{self.url}/app/w/{self.acme['id']}/{rest}"


def _cli(db_url: str, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SEAM_DATABASE_URL"}
    done = subprocess.run(
        [SEAM, *args, "--db", db_url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _seed(http: httpx.Client, acme: dict[str, Any], globex: dict[str, Any]) -> tuple[str, ...]:
    write, secret = (acme["write_key"], ""), (acme["secret_key"], "")
    start = datetime.now(UTC) - timedelta(hours=2)
    for i, path in enumerate(PRE_LOGIN_PATHS):
        r = http.post(
            "/v1/page",
            auth=write,
            json={
                "anonymousId": "anon-ada-laptop",
                "messageId": f"pv-{i}",
                "timestamp": _iso(start + timedelta(minutes=3 * i)),
                "name": path,
                "properties": {"path": path, "title": f"Example {path}"},
                "context": {
                    "session_id": "sess-morning",
                    "page": {"path": path, "url": f"https://example.com{path}"},
                },
            },
        )
        assert r.status_code == 200, r.text
    leave = http.post(
        "/v1/track",
        auth=write,
        json={
            "anonymousId": "anon-ada-laptop",
            "event": "page_leave",
            "timestamp": _iso(start + timedelta(minutes=10)),
            "properties": {"duration_ms": 95_000, "scroll_depth": 80, "page_message_id": "pv-3"},
            "context": {"session_id": "sess-morning", "page": {"path": "/signup"}},
        },
    )
    assert leave.status_code == 200, leave.text
    ada = http.post(
        "/v1/identify",
        auth=secret,
        json={
            "userId": "usr_ada",
            "anonymousId": "anon-ada-laptop",
            "traits": {"email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"},
        },
    ).json()
    assert ada["events_linked"] >= len(PRE_LOGIN_PATHS), ada
    track = http.post(
        "/v1/track",
        auth=write,
        json={
            "anonymousId": "anon-ada-laptop",
            "event": "Plan upgraded",
            "properties": {"plan": "pro"},
            "context": {"session_id": "sess-later", "page": {"path": "/billing"}},
        },
    )
    assert track.status_code == 200
    # A second person claims the same device: the binding must be refused and audited.
    eve = http.post(
        "/v1/identify",
        auth=secret,
        json={"userId": "usr_eve", "anonymousId": "anon-ada-laptop", "traits": {"name": "Eve"}},
    ).json()
    assert eve["visitor_bound"] is False
    for n in range(3):
        http.post(
            "/v1/page",
            auth=write,
            json={"anonymousId": f"anon-visitor-{n}", "context": {"page": {"path": "/blog"}}},
        )
    other = http.post(
        "/v1/identify",
        auth=(globex["secret_key"], ""),
        json={"userId": "usr_globex", "traits": {"email": "g@globex.test"}},
    ).json()
    return ada["contact_id"], eve["contact_id"], other["contact_id"]


@pytest.fixture(scope="module")
def seam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seam]:
    tmp = tmp_path_factory.mktemp("dashboard")
    db_url = f"sqlite:///{tmp / 'seam.db'}"
    _cli(db_url, "migrate")
    acme = json.loads(
        _cli(db_url, "workspace", "create", "acme", "--domain", "example.com", "--json")
    )
    globex = json.loads(
        _cli(db_url, "workspace", "create", "globex", "--domain", "globex.test", "--json")
    )
    # The admin belongs to acme only: globex's people must stay invisible.
    _cli(
        db_url,
        "user",
        "create",
        EMAIL,
        "--workspace",
        acme["id"],
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SEAM_DATABASE_URL"}
    env.update(SEAM_KEY_CACHE_SECONDS="0", SEAM_ENRICH_INTERVAL="1")
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [SEAM, "serve", "--db", db_url, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, tmp / "server.log")
        with httpx.Client(base_url=url, timeout=30) as http:
            ada_id, eve_id, globex_id = _seed(http, acme, globex)
        yield Seam(url, db_url, acme, globex, ada_id, eve_id, globex_id)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Page, seam: Seam, next_path: str = "") -> None:
    page.goto(f"{seam.url}/app/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_signed_out_visitors_are_sent_to_the_sign_in_page(page: Page, seam: Seam) -> None:
    page.goto(seam.path(f"people/{seam.ada_id}"))
    assert "/app/login" in page.url
    expect(page.get_by_role("heading", name="Sign in to Seam")).to_be_visible()
    # Signing in returns to the page that was asked for.
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith(f"/people/{seam.ada_id}")


def test_a_wrong_password_is_refused(page: Page, seam: Seam) -> None:
    page.goto(f"{seam.url}/app/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    assert page.context.cookies() == [] or all(
        c["name"] != "seam_session" for c in page.context.cookies()
    )


def test_the_session_cookie_is_httponly_and_lax(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    cookie = next(c for c in page.context.cookies() if c["name"] == "seam_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/app"


def test_find_the_person_and_see_back_filled_pre_login_pages(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    page.get_by_role("link", name="People").click()
    page.get_by_label("Search people").fill("ada@example")
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row").filter(has_text="usr_ada")
    expect(row).to_contain_text("ada@example.com")
    expect(row).to_contain_text("identified")
    row.get_by_role("link", name="Ada Lovelace").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    session = page.locator("section.session").filter(has_text="sess-morning")
    backfilled = session.locator("li.event.backfilled.type-page")
    expect(backfilled).to_have_count(len(PRE_LOGIN_PATHS))
    for path in PRE_LOGIN_PATHS:
        expect(backfilled.filter(has_text=path).first).to_contain_text("back-filled")
    # The later event was attributed at ingest through the bound device: not back-filled.
    later = page.locator("li.event").filter(has_text="Plan upgraded")
    expect(later).not_to_have_class(re.compile("backfilled"))
    # Traits carry their source; the device shows how it was bound.
    expect(page.get_by_role("row").filter(has_text="plan")).to_contain_text("identify")
    expect(page.locator(".devices")).to_contain_text("anon-ada-laptop")
    expect(page.locator(".devices")).to_contain_text("via identify")


def test_an_event_explains_its_attribution(page: Page, seam: Seam) -> None:
    sign_in(page, seam, f"/app/w/{seam.acme['id']}/people/{seam.ada_id}")
    event = page.locator("li.event.type-page").filter(has_text="/pricing")
    event.locator("summary").focus()
    page.keyboard.press("Enter")  # keyboard-operable: <details>/<summary>
    body = event.locator(".ev-body")
    expect(body).to_be_visible()
    expect(body.locator(".attribution")).to_contain_text("via identify")
    expect(body).to_contain_text("before this person was identified")
    expect(body.locator(".audit-mini")).to_contain_text("visitor_bound")
    expect(body.locator(".audit-mini")).to_contain_text("anon-ada-laptop")


def test_page_leave_time_on_page_and_scroll_depth(page: Page, seam: Seam) -> None:
    sign_in(page, seam, f"/app/w/{seam.acme['id']}/people/{seam.ada_id}")
    # Page views before the last one of the session get their time from the next page view.
    pricing = page.locator("li.event.type-page").filter(has_text="/pricing")
    expect(pricing.locator(".ev-metrics")).to_contain_text("3m 00s")


def test_the_identity_log_highlights_a_refused_binding(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    page.get_by_role("link", name="Identity log").click()
    refused = page.locator("tr.alarm").filter(has_text="visitor_bind_refused")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("anon-ada-laptop")
    expect(refused).to_contain_text("visitor_bound_to_other_contact")
    # Filtering by action keeps only those entries.
    page.get_by_label("Action").select_option("visitor_bind_refused")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(1)


def test_create_a_key_shown_once_then_revoke_it(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Secret key").check()
    for scope in ("events:write", "contacts:write", "events:read", "admin"):
        page.get_by_label(scope, exact=True).uncheck()
    page.get_by_label("contacts:read", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_label("The new key").input_value()
    assert new_key.startswith("sk_")
    expect(page.locator(".new-key")).to_contain_text("only this once")
    auth = {"Authorization": f"Bearer {new_key}"}
    assert httpx.get(f"{seam.url}/v1/contacts", headers=auth).status_code == 200

    keys_before = page.locator("tr[data-key-id]").count()
    page.reload()  # re-sends the POST: it must not mint a second key
    expect(page.get_by_role("alert")).to_contain_text("already sent")
    assert new_key not in page.content()
    assert page.locator("tr[data-key-id]").count() == keys_before
    page.goto(seam.path("settings"))
    assert new_key not in page.content()
    row = page.locator("tr[data-key-id]").filter(has_text=new_key[:7])
    expect(row).to_contain_text("contacts:read")
    row.get_by_role("link", name=re.compile("Revoke")).click()
    page.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.locator("tr[data-key-id]").filter(has_text=new_key[:7])).to_contain_text("revoked")
    assert httpx.get(f"{seam.url}/v1/contacts", headers=auth).status_code == 401


def test_settings_refuse_a_short_jwt_secret_and_keep_the_old_state(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    page.goto(seam.path("settings"))
    page.get_by_label("New HS256 secret").fill("too-short")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 32 bytes")
    page.goto(seam.path("settings"))
    expect(page.locator("body")).to_contain_text("Not configured.")


def test_another_workspaces_person_is_not_found(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    # A globex contact under the acme workspace the user may see...
    response = page.goto(seam.path(f"people/{seam.globex_contact_id}"))
    assert response is not None and response.status == 404
    # ...and under globex itself, which the user is not a member of: the same answer.
    response = page.goto(f"{seam.url}/app/w/{seam.globex['id']}/people/{seam.globex_contact_id}")
    assert response is not None and response.status == 404
    assert "g@globex.test" not in page.content()
    # The switcher lists only the user's workspaces.
    page.goto(seam.path())
    options = page.locator("#ws-switch option").all_inner_texts()
    assert options == ["acme"]


def test_a_post_without_the_csrf_token_is_refused(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    # Same cookies as the signed-in page, but no form token: what a cross-site form sends.
    refused = page.request.post(seam.path(f"people/{seam.eve_id}/erase"), form={"confirmed": "yes"})
    assert refused.status == 403
    wrong = page.request.post(
        seam.path("keys"), form={"csrf_token": "forged", "kind": "secret", "scopes": "admin"}
    )
    assert wrong.status == 403
    # Nothing happened: Eve still exists.
    response = page.goto(seam.path(f"people/{seam.eve_id}"))
    assert response is not None and response.status == 200


def test_merge_then_erase_behind_confirmations(page: Page, seam: Seam) -> None:
    with httpx.Client(base_url=seam.url) as http:
        auth = (seam.acme["secret_key"], "")
        keep = http.post("/v1/identify", auth=auth, json={"userId": "usr_keep"}).json()
        # A contact known only by email (a CRM record), seen on a device through a form.
        imported = http.post(
            "/v1/contacts/import",
            auth=auth,
            json={"records": [{"email": "d@x.io", "traits": {"name": "Dup"}}]},
        )
        assert imported.status_code == 200, imported.text
        refused = http.post("/v1/identify", auth=auth, json={"userId": "usr_other_dup"}).json()
    sign_in(page, seam, f"/app/w/{seam.acme['id']}/people/{keep['contact_id']}")
    # Two contacts with different external ids cannot merge: said before any confirmation.
    page.get_by_role("link", name=re.compile("Merge another contact")).click()
    page.get_by_label(re.compile("Contact to merge in")).fill(refused["contact_id"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be merged")
    page.get_by_label(re.compile("Contact to merge in")).fill("d@x.io")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".card.mini").nth(1)).to_contain_text("d@x.io")  # the confirmation
    page.get_by_role("button", name="Yes, merge").click()
    expect(page.get_by_role("status")).to_contain_text("merged")
    expect(page.get_by_role("row").filter(has_text="name")).to_contain_text("Dup")
    page.goto(seam.path("people?q=d%40x.io"))
    expect(page.get_by_role("row").filter(has_text="d@x.io")).to_contain_text("usr_keep")

    page.goto(seam.path(f"people/{keep['contact_id']}"))
    page.get_by_role("link", name=re.compile("Erase this person")).click()
    page.get_by_role("button", name="Yes, erase everything").click()
    expect(page.get_by_role("status")).to_contain_text("erased")
    assert page.goto(seam.path(f"people/{keep['contact_id']}")).status == 404  # type: ignore[union-attr]


def test_move_a_device_behind_a_confirmation(page: Page, seam: Seam) -> None:
    with httpx.Client(base_url=seam.url) as http:
        auth = (seam.acme["secret_key"], "")
        http.post(
            "/v1/page",
            auth=(seam.acme["write_key"], ""),
            json={"anonymousId": "anon-shared-ipad", "context": {"page": {"path": "/kiosk"}}},
        )
        wrong = http.post(
            "/v1/identify", auth=auth, json={"userId": "usr_kid", "anonymousId": "anon-shared-ipad"}
        ).json()
        http.post("/v1/identify", auth=auth, json={"userId": "usr_parent"})
    sign_in(page, seam, f"/app/w/{seam.acme['id']}/people/{wrong['contact_id']}")
    page.get_by_role("link", name=re.compile("Move to another person")).click()
    page.get_by_label(re.compile("Move to")).fill("usr_parent")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".card.mini").nth(1)).to_contain_text("usr_parent")
    page.get_by_role("button", name="Yes, move the device").click()
    expect(page.get_by_role("status")).to_contain_text("moved")
    expect(page.get_by_role("heading", level=1)).to_have_text("usr_parent")
    expect(page.locator(".devices")).to_contain_text("anon-shared-ipad")
    expect(page.locator(".devices")).to_contain_text("via admin")
    page.goto(seam.path("identity?action=visitor_moved"))
    expect(page.locator("table.audit tbody tr")).to_contain_text("user:")


def test_visitors_whose_ids_look_like_paths_open_their_own_page(page: Page, seam: Seam) -> None:
    # Chromium resolves `..` segments, `%2E%2E` ones too (WHATWG URL): the links must not.
    odd = ["slash/../../settings", "..", "."]
    with httpx.Client(base_url=seam.url) as http:
        for anonymous_id in odd:
            r = http.post(
                "/v1/page",
                auth=(seam.acme["write_key"], ""),
                json={"anonymousId": anonymous_id, "context": {"page": {"path": "/odd"}}},
            )
            assert r.status_code == 200, r.text
    sign_in(page, seam)
    for anonymous_id in odd:
        page.goto(seam.path("visitors"))
        page.get_by_role("link", name=anonymous_id, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Visitor {anonymous_id}")


def test_sign_out_ends_the_session(page: Page, seam: Seam) -> None:
    sign_in(page, seam)
    page.get_by_role("button", name="Sign out").click()
    page.goto(seam.path("people"))
    assert "/app/login" in page.url


def _seed_a_month(seam: Seam) -> None:
    """A month of traffic so the overview charts have a shape: visitors browse for a few days,
    some of them sign up (identify), which back-fills their earlier page views."""
    import random

    rng = random.Random(7)
    now = datetime.now(UTC)
    paths = ["/", "/pricing", "/docs", "/docs/identity", "/blog/launch", "/signup", "/changelog"]
    batch, identifies = [], []
    for v in range(60):
        first_day = rng.randint(0, 29)
        for n in range(rng.randint(2, 9)):
            when = now - timedelta(days=first_day - rng.randint(0, min(first_day, 4)), minutes=n)
            path = rng.choices(paths, weights=[9, 6, 4, 3, 2, 2, 1])[0]
            batch.append(
                {
                    "type": "page",
                    "anonymousId": f"anon-m{v}",
                    "timestamp": _iso(when),
                    "properties": {"path": path},
                    "context": {"page": {"path": path}, "session_id": f"s-m{v}"},
                }
            )
        if v % 3 == 0:
            identifies.append(
                {
                    "type": "identify",
                    "anonymousId": f"anon-m{v}",
                    "userId": f"usr_m{v}",
                    "traits": {
                        "email": f"user{v}@example.com",
                        "name": rng.choice(
                            ["Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret"]
                        )
                        + f" {v}",
                    },
                }
            )
    with httpx.Client(base_url=seam.url, timeout=30) as http:
        r = http.post("/v1/batch", auth=(seam.acme["write_key"], ""), json={"batch": batch})
        assert r.status_code == 200, r.text
        r = http.post("/v1/batch", auth=(seam.acme["secret_key"], ""), json={"batch": identifies})
        assert r.status_code == 200, r.text


def test_screenshots_of_the_main_pages(page: Page, seam: Seam, tmp_path: Path) -> None:
    _seed_a_month(seam)
    out = (
        ROOT / "docs" / "screenshots" if os.environ.get("SEAM_SCREENSHOTS") == "docs" else tmp_path
    )
    out.mkdir(parents=True, exist_ok=True)
    sign_in(page, seam)
    shots = {
        "overview": seam.path("?fresh=1"),
        "people": seam.path("people"),
        "person": seam.path(f"people/{seam.ada_id}"),
        "identity-log": seam.path("identity?anonymous_id=anon-ada-laptop"),
        "settings": seam.path("settings"),
    }
    for name, url in shots.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, name
        if name == "person":
            page.locator("li.event.type-page").filter(has_text="/pricing").locator(
                "summary"
            ).click()
        page.screenshot(path=str(out / f"dashboard-{name}.png"), full_page=name != "person")
        assert (out / f"dashboard-{name}.png").stat().st_size > 10_000
