"""The dashboard over plain HTTP against a real `seam serve`, on both backends.

A dashboard user is made with `seam user create --generate-password` for the test's workspace,
signs in through the login form (double-submit CSRF cookie) and posts forms with the session's
CSRF token, as a browser would. Pages are read with html.parser.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from e2e.support import Server, Workspace, ago, iso, uid

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class Link:
    href: str
    text: str
    title: str | None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self._open: list[tuple[dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open.append((dict(attrs), []))

    def handle_data(self, data: str) -> None:
        for _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            attrs, text = self._open.pop()
            self.links.append(
                Link(attrs.get("href") or "", "".join(text).strip(), attrs.get("title"))
            )


def links(page: str) -> list[Link]:
    parser = _Links()
    parser.feed(page)
    return parser.links


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def alert(page: str) -> str:
    found = re.search(r'<p class="alert error" role="alert">(.*?)</p>', page, re.S)
    assert found, page[:3000]
    return text_of(found.group(1))


def audit_items(page: str) -> dict[str, list[str]]:
    """The person page's "Identity decisions" card: each entry's HTML, by action."""
    card = page.split('id="h-audit"', 1)[1].split("</section>", 1)[0]
    items: dict[str, list[str]] = {}
    for item in re.findall(r"<li[^>]*>(.*?)</li>", card, re.S):
        action = re.search(r'class="badge action (\w+)"', item)
        assert action, item
        items.setdefault(action.group(1), []).append(item)
    return items


@dataclass
class Dashboard:
    client: httpx.Client
    ws: Workspace
    csrf: str = ""
    email: str = ""

    @property
    def base(self) -> str:
        return f"/app/w/{self.ws.id}/"

    def get(self, path: str, status: int = 200) -> str:
        url = path if path.startswith(("/", "http")) else self.base + path
        response = self.client.get(url)
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        return response.text

    def post(self, path: str, form: dict[str, str], status: int = 303) -> httpx.Response:
        response = self.client.post(self.base + path, data={"csrf_token": self.csrf, **form})
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        return response

    def person(self, contact_id: str) -> str:
        return self.get(f"people/{contact_id}")


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, page[:2000]
    return html.unescape(found.group(1))


@contextmanager
def _signed_in(server: Server, workspace: Workspace, *role: str) -> Iterator[Dashboard]:
    """A user of the test's workspace only (`role`: the CLI's `--role` and its value, or
    nothing for the default), signed in."""
    email = f"{uid('user-')}@example.com"
    made = server.cli(
        "user", "create", email, "--workspace", workspace.id, *role, "--generate-password"
    )
    password = made.stdout.rsplit("password (shown only this once):", 1)[1].strip()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        login = client.get("/app/login")
        signed_in = client.post(
            "/app/login",
            data={
                "csrf_token": _hidden(login.text, "csrf_token"),
                "email": email,
                "password": password,
                "next": f"/app/w/{workspace.id}/",
            },
        )
        assert signed_in.status_code == 303, signed_in.text[:2000]
        board = Dashboard(client, workspace, email=email)
        board.csrf = _hidden(board.get(""), "csrf_token")
        yield board


@pytest.fixture
def dashboard(server: Server, workspace: Workspace) -> Iterator[Dashboard]:
    """An admin of the test's workspace (the default role), signed in."""
    with _signed_in(server, workspace) as board:
        yield board


@pytest.fixture
def viewer(server: Server, workspace: Workspace) -> Iterator[Dashboard]:
    with _signed_in(server, workspace, "--role", "viewer") as board:
        yield board


def _settings_form(**fields: str) -> dict[str, str]:
    return {"domains": "example.com", "identity_verification": "off", **fields}


def _stored_domains(board: Dashboard) -> str:
    found = re.search(r'<textarea id="domains"[^>]*>(.*?)</textarea>', board.get("settings"), re.S)
    assert found
    return html.unescape(found.group(1))


# ---------------------------------------------------------------------------------------------
# settings


@pytest.mark.parametrize(
    ("domain", "says"),
    [
        ("com", "is a top-level domain"),
        ("*", "is not a host name"),
        ("..", "is not a host name"),
        ("evil<script>.com", "is not a host name"),
    ],
)
def test_settings_refuse_a_domain_that_is_not_a_site(
    dashboard: Dashboard, domain: str, says: str
) -> None:
    refused = dashboard.post("settings", _settings_form(domains=f"shop.test\n{domain}"), 400)
    assert says in alert(refused.text)
    assert domain in alert(refused.text)
    assert "<script>" not in refused.text
    assert _stored_domains(dashboard) == "example.com"  # nothing saved


def test_settings_store_domains_lower_cased(dashboard: Dashboard) -> None:
    dashboard.post("settings", _settings_form(domains="Shop.Example.ORG, localhost\nexample.com"))
    assert _stored_domains(dashboard) == "example.com\nlocalhost\nshop.example.org"


def _pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_settings_refuse_a_public_key_that_does_not_load_and_keep_the_secret(
    dashboard: Dashboard,
) -> None:
    dashboard.post("settings", _settings_form(jwt_secret=secrets.token_urlsafe(40)))
    assert "An HS256 secret is set." in dashboard.get("settings")
    garbage = "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----"
    refused = dashboard.post("settings", _settings_form(jwt_public_key=garbage), 400)
    assert "is not a PEM public key" in alert(refused.text)
    ed = _pem(ed25519.Ed25519PrivateKey.generate())
    refused = dashboard.post("settings", _settings_form(jwt_public_key=ed), 400)
    assert "RSA (RS256) or EC (ES256)" in alert(refused.text)
    assert "An HS256 secret is set." in dashboard.get("settings")
    # A key that loads replaces the secret.
    rsa_key = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    dashboard.post("settings", _settings_form(jwt_public_key=rsa_key))
    assert "A public key (RS256/ES256) is set." in dashboard.get("settings")


# ---------------------------------------------------------------------------------------------
# ids


def test_the_identity_log_tells_contacts_and_keys_made_together_apart(
    dashboard: Dashboard, workspace: Workspace
) -> None:
    # UUIDv7s made within a minute share their first characters (a timestamp).
    second_key = workspace.create_key("events:write", "contacts:write")["key"]
    contact_ids = {workspace.identify({"userId": uid("usr_")})["contact_id"] for _ in range(4)}
    other = expect_ok(
        workspace.request("POST", "/v1/identify", {"userId": uid("usr_")}, key=second_key)
    )
    contact_ids.add(other["contact_id"])

    page = dashboard.get("identity?action=contact_created")
    shown = {link.href.rsplit("/", 1)[1]: link for link in links(page) if "/people/" in link.href}
    assert set(shown) >= contact_ids
    assert len({shown[c].text for c in contact_ids}) == len(contact_ids), shown
    for full, link in shown.items():
        assert link.title == full and full.endswith(link.text.strip("…")), link
    by = dict(re.findall(r'<td class="mono small" title="([^"]+)">([^<]+)</td>', page))
    assert len(by) == 2, by  # the workspace's secret key and the second key
    assert len(set(by.values())) == 2, by
    for full, text in by.items():
        assert full.endswith(text.strip("…")), (full, text)


def expect_ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------------------------------
# two-contact decisions on a person's page


def _counterparts(item: str) -> list[tuple[str, str]]:
    """(role, contact id) of the contacts an audit entry links to."""
    return [
        (role.strip(), href.rsplit("/", 1)[1])
        for role, href in re.findall(r"· ([a-z ]+) <a class=\"mono\" href=\"([^\"]+)\"", item)
    ]


def test_a_person_page_names_the_other_contact_of_each_decision(
    dashboard: Dashboard, workspace: Workspace
) -> None:
    device = uid("anon-")
    workspace.send("page", {"anonymousId": device, "context": {"page": {"path": "/"}}})
    owner = workspace.identify({"userId": uid("usr_"), "anonymousId": device})["contact_id"]
    claim = workspace.identify({"userId": uid("usr_"), "anonymousId": device})
    assert claim["visitor_bound"] is False
    refused = claim["contact_id"]

    # A refused binding: each side links the other one, never itself.
    on_owner = audit_items(dashboard.person(owner))["visitor_bind_refused"]
    assert [_counterparts(i) for i in on_owner] == [[("refused contact", refused)]]
    on_refused = audit_items(dashboard.person(refused))["visitor_bind_refused"]
    assert [_counterparts(i) for i in on_refused] == [[("device owner", owner)]]

    # An identifier held by another contact.
    email = f"{uid()}@example.com"
    holder = workspace.identify({"userId": uid("usr_"), "traits": {"email": email}})["contact_id"]
    claimer = workspace.identify({"userId": uid("usr_"), "traits": {"email": email}})["contact_id"]
    on_holder = audit_items(dashboard.person(holder))["identifier_conflict"]
    assert [_counterparts(i) for i in on_holder] == [[("claimed by", claimer)]]
    on_claimer = audit_items(dashboard.person(claimer))["identifier_conflict"]
    assert [_counterparts(i) for i in on_claimer] == [[("held by", holder)]]

    # A device moved by an admin from the owner to the holder.
    form = {"anonymous_id": device, "target": holder, "confirmed": "yes"}
    dashboard.post(f"people/{owner}/move", form)
    on_owner = audit_items(dashboard.person(owner))["visitor_moved"]
    assert [_counterparts(i) for i in on_owner] == [[("moved to", holder)]]
    on_holder = audit_items(dashboard.person(holder))["visitor_moved"]
    assert [_counterparts(i) for i in on_holder] == [[("moved from", owner)]]

    # A contact without an external id merged into the refused contact.
    crm_email = f"{uid()}@example.com"
    workspace.import_contacts([{"email": crm_email}])
    (merged,) = (c["id"] for c in workspace.contacts(email=crm_email))
    dashboard.post(f"people/{refused}/merge", {"other": merged, "confirmed": "yes"})
    on_kept = audit_items(dashboard.person(refused))["contacts_merged"]
    assert [_counterparts(i) for i in on_kept] == [[("merged contact", merged)]]


# ---------------------------------------------------------------------------------------------
# ids in URL paths


SLASHED = "slash/../../settings"


def _resolve(board: Dashboard, page_path: str, href: str) -> str:
    """Where a link of the page leads (RFC 3986 resolution, as httpx and browsers do)."""
    return urljoin(f"{board.client.base_url}{board.base}{page_path}", href)


def test_anonymous_ids_with_slashes_and_dots_link_to_their_own_page(
    dashboard: Dashboard, workspace: Workspace
) -> None:
    odd = [SLASHED, "..", ".", "a b?c#d%2F"]
    for anonymous_id in odd:
        workspace.send("page", {"anonymousId": anonymous_id, "context": {"page": {"path": "/"}}})
    bound = workspace.identify({"userId": uid("usr_"), "anonymousId": SLASHED})["contact_id"]
    visitors_page = dashboard.get("visitors")
    by_id = {link.text: link.href for link in links(visitors_page) if "visitors/" in link.href}
    assert by_id[".."] == f"{dashboard.base}visitors/?anonymous_id=.."
    for anonymous_id in odd[1:]:
        target = _resolve(dashboard, "visitors", by_id[anonymous_id])
        assert target.startswith(f"{dashboard.client.base_url}{dashboard.base}visitors/"), target
        page = dashboard.get(target)
        assert f'<h1>Visitor <span class="mono">{html.escape(anonymous_id)}</span></h1>' in page

    # A bound device: linked from its person's page and from the identity log.
    person = dashboard.person(bound)
    identity = dashboard.get("identity?action=visitor_bound")
    for page_path, page in ((f"people/{bound}", person), ("identity", identity)):
        (href,) = {link.href for link in links(page) if link.text == SLASHED}
        assert href == f"{dashboard.base}visitors/slash%2F%2E%2E%2F%2E%2E%2Fsettings"
        target = _resolve(dashboard, page_path, href)
        assert target.startswith(f"{dashboard.client.base_url}{dashboard.base}visitors/"), target
        assert f'Visitor <span class="mono">{SLASHED}</span>' in dashboard.get(target)

    # The path form opens them too (the server decodes %2F and %2E before routing).
    for raw in ("visitors/%2E%2E", "visitors/slash%2F..%2F..%2Fsettings"):
        assert "<h1>Visitor" in dashboard.get(raw)


def _times_on_page(page: str) -> dict[str, str]:
    """Page name -> the time on page its timeline entry shows ("42s*": derived), for the
    entries that show one."""
    shown = {}
    for entry in page.split('<li class="event')[1:]:
        detail = re.search(r'<span class="ev-detail mono">([^<]+)</span>', entry)
        time_on_page = re.search(r'<span title="Time on page[^"]*">([^<]+) on page</span>', entry)
        if detail and time_on_page:
            shown[html.unescape(detail.group(1))] = html.unescape(time_on_page.group(1))
    return shown


def test_the_timelines_show_time_on_page_derived_from_the_next_page_view(
    dashboard: Dashboard, workspace: Workspace
) -> None:
    anonymous_id, session = uid("vid_"), uid("sess_")
    start = ago(hours=2)
    workspace.batch(
        [
            {
                "type": "page",
                "anonymousId": anonymous_id,
                "messageId": f"{anonymous_id}-{name}",
                "name": name,
                "timestamp": iso(start + timedelta(seconds=offset)),
                "context": {"session_id": session},
            }
            for name, offset in (("first", 0), ("second", 42), ("measured", 100), ("last", 4000))
        ]
    )
    workspace.send(  # the measured page view's own beacon: its time is not derived
        "track",
        {
            "anonymousId": anonymous_id,
            "event": "page_leave",
            "properties": {"duration_ms": 95_000, "page_message_id": f"{anonymous_id}-measured"},
        },
    )
    expected = {"first": "42s*", "second": "58s*", "measured": "1m 35s"}
    assert _times_on_page(dashboard.get(f"visitors/{anonymous_id}")) == expected
    contact_id = workspace.identify({"userId": uid("usr_"), "anonymousId": anonymous_id})[
        "contact_id"
    ]
    assert _times_on_page(dashboard.person(contact_id)) == expected


# ---------------------------------------------------------------------------------------------
# trait values


def test_a_name_that_is_not_a_string_shows_as_json(
    dashboard: Dashboard, workspace: Workspace
) -> None:
    contact = workspace.identify({"userId": uid("usr_"), "traits": {"name": {"first": "Obj"}}})
    people = dashboard.get("people")
    names = [link.text for link in links(people) if link.href.endswith(contact["contact_id"])]
    assert names == ['{"first":"Obj"}']
    h1 = re.search(r"<h1>(.*?)</h1>", dashboard.person(contact["contact_id"]), re.S)
    assert h1 and text_of(h1.group(1)) == '{"first":"Obj"}'


def _sign_in(server: Server, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        form = client.get("/app/login")
        return client.post(
            "/app/login",
            data={
                "csrf_token": _hidden(form.text, "csrf_token"),
                "email": email,
                "password": password,
            },
        )


def test_a_form_with_a_non_ascii_csrf_token_is_refused_not_an_error(
    dashboard: Dashboard, server: Server
) -> None:
    refused = dashboard.client.post(
        dashboard.base + "settings", data={"csrf_token": "\u00e9t\u00e9", **_settings_form()}
    )
    assert refused.status_code == 403, refused.text[:500]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        client.get("/app/login")
        login = client.post(
            "/app/login",
            data={"csrf_token": "\u2603", "email": dashboard.email, "password": "x" * 12},
        )
    assert login.status_code == 403, login.text[:500]
    assert "expired" in alert(login.text)


def test_sign_in_closes_for_a_while_after_five_failures_known_account_or_not(
    server: Server, workspace: Workspace
) -> None:
    """Counted in the database, so every process closes it; an unknown email is answered
    the same way, so a lockout tells nothing about which accounts exist."""
    email = f"{uid('owner-')}@example.com"
    made = server.cli("user", "create", email, "--workspace", workspace.id, "--generate-password")
    password = made.stdout.rsplit("password (shown only this once):", 1)[1].strip()
    for target in (email, f"{uid('nobody-')}@example.com"):
        for _ in range(5):
            assert _sign_in(server, target, "wrong password").status_code == 401
        locked = _sign_in(server, target, password)
        assert locked.status_code == 429, locked.text[:500]
        assert "Too many failed sign-ins" in locked.text
        assert int(locked.headers["retry-after"]) >= 1
    other = f"{uid('other-')}@example.com"
    server.cli("user", "create", other, "--workspace", workspace.id, "--generate-password")
    assert _sign_in(server, other, "wrong password").status_code == 401  # others unaffected


def test_a_successful_sign_in_clears_earlier_failures(server: Server, workspace: Workspace) -> None:
    email = f"{uid('owner-')}@example.com"
    made = server.cli("user", "create", email, "--workspace", workspace.id, "--generate-password")
    password = made.stdout.rsplit("password (shown only this once):", 1)[1].strip()
    for _ in range(4):
        assert _sign_in(server, email, "wrong password").status_code == 401
    assert _sign_in(server, email, password).status_code == 303
    for _ in range(4):
        assert _sign_in(server, email, "wrong password").status_code == 401
    assert _sign_in(server, email, password).status_code == 303


def test_a_new_password_from_the_cli_signs_out_the_old_sessions_and_opens_sign_in(
    dashboard: Dashboard, server: Server
) -> None:
    for _ in range(5):
        assert _sign_in(server, dashboard.email, "wrong password").status_code == 401
    for lock_seconds in (1, 2):  # two more failures, once each lock has passed: a 4 s lock
        time.sleep(lock_seconds + 0.2)
        assert _sign_in(server, dashboard.email, "wrong password").status_code == 401
    made = server.cli("user", "password", dashboard.email, "--generate-password")
    password = made.stdout.rsplit("password (shown only this once):", 1)[1].strip()

    signed_out = dashboard.client.get(dashboard.base)
    assert signed_out.status_code == 303 and "/app/login" in signed_out.headers["location"]
    assert _sign_in(server, dashboard.email, password).status_code == 303  # not locked either
    assert _sign_in(server, dashboard.email, "wrong password").status_code == 401


def test_a_new_password_needs_a_known_user_and_eight_characters(server: Server) -> None:
    unknown = server.cli(
        "user", "password", "nobody@example.com", "--generate-password", check=False
    )
    assert unknown.returncode != 0 and "no user" in unknown.stderr
    short = server.cli(
        "user", "password", "nobody@example.com", "--password-stdin", stdin="short\n", check=False
    )
    assert short.returncode != 0 and "at least 8 characters" in short.stderr


# ---------------------------------------------------------------------------------------------
# addresses that lead nowhere


@pytest.mark.parametrize(
    "path", ["/app/nowhere", "/app/w/nope/people/x/y", "people/no-such-section/deeper"]
)
def test_an_unknown_dashboard_address_is_a_dashboard_page_saying_so(
    dashboard: Dashboard, path: str
) -> None:
    page = dashboard.get(path, status=404)
    assert "<h1>Not found</h1>" in page
    assert "There is no such page here" in page
    assert any(link.href == "/app/" for link in links(page))


def test_an_unknown_dashboard_address_asks_a_stranger_to_sign_in(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/app/nowhere", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login?next=/app/nowhere"


# ---------------------------------------------------------------------------------------------
# roles


def test_a_viewer_reads_people_but_is_offered_no_change(
    viewer: Dashboard, workspace: Workspace
) -> None:
    device = uid("anon-")
    workspace.send("page", {"anonymousId": device})
    contact = workspace.identify({"userId": uid("usr_"), "anonymousId": device})["contact_id"]
    page = viewer.person(contact)
    assert device in page
    hrefs = [link.href for link in links(page)]
    assert not [h for h in hrefs if h.endswith(("/merge", "/erase")) or "/move?" in h]
    assert not [h for h in hrefs if h.endswith("/settings")]
    for section in ("people", "visitors", "identity", ""):
        viewer.get(section)


@pytest.mark.parametrize("action", ["merge", "erase", "move"])
def test_a_viewer_can_neither_open_nor_post_a_change(
    viewer: Dashboard, dashboard: Dashboard, workspace: Workspace, action: str
) -> None:
    device = uid("anon-")
    contact = workspace.identify({"userId": uid("usr_"), "anonymousId": device})["contact_id"]
    other = workspace.identify({"userId": uid("usr_")})["contact_id"]
    refused = viewer.get(f"people/{contact}/{action}", status=403)
    assert "viewer" in text_of(refused)
    form = {"confirmed": "yes", "source": other, "target": other, "anonymous_id": device}
    viewer.post(f"people/{contact}/{action}", form, status=403)
    # Nothing changed: the person is still there, with the device, and no decision was logged.
    page = dashboard.person(contact)
    assert device in page
    assert not {"contacts_merged", "contact_erased", "visitor_moved"} & audit_items(page).keys()
    dashboard.person(other)


def test_a_viewer_sees_no_settings_and_cannot_change_them(
    viewer: Dashboard, dashboard: Dashboard
) -> None:
    before = _stored_domains(dashboard)
    refused = viewer.get("settings", status=403)
    assert "identity_secret" not in refused and "Identity secret" not in refused
    viewer.post("settings", _settings_form(domains="evil.example"), status=403)
    viewer.post("keys", {"kind": "secret", "scopes": "events:write"}, status=403)
    assert _stored_domains(dashboard) == before
    keys = dashboard.get("settings").count("data-key-id=")
    assert keys == 2  # the workspace's own write and secret keys, no new one


def test_an_admin_can_be_made_a_viewer_and_back_with_the_cli(
    dashboard: Dashboard, server: Server, workspace: Workspace
) -> None:
    dashboard.get("settings")
    # Not the workspace's last admin (see the members tests).
    server.cli(
        "user", "create", f"{uid()}@example.com", "--workspace", workspace.id, "--generate-password"
    )
    made = server.cli(
        "user", "grant", dashboard.email, "--workspace", workspace.id, "--role", "viewer"
    )
    assert "viewer" in made.stdout
    dashboard.get("settings", status=403)
    server.cli("user", "grant", dashboard.email, "--workspace", workspace.name)
    dashboard.get("settings")


def test_granting_needs_a_known_user_and_workspace(server: Server, workspace: Workspace) -> None:
    unknown_user = server.cli(
        "user", "grant", "nobody@example.com", "--workspace", workspace.id, check=False
    )
    assert unknown_user.returncode != 0 and "no user" in unknown_user.stderr
    email = f"{uid()}@example.com"
    server.cli("user", "create", email, "--workspace", workspace.id, "--generate-password")
    unknown_ws = server.cli("user", "grant", email, "--workspace", "no-such-ws", check=False)
    assert unknown_ws.returncode != 0 and "no workspace 'no-such-ws'" in unknown_ws.stderr


def test_the_cli_refuses_an_unknown_role(server: Server, workspace: Workspace) -> None:
    made = server.cli(
        "user",
        "create",
        f"{uid()}@example.com",
        "--workspace",
        workspace.id,
        "--role",
        "owner",
        "--generate-password",
        check=False,
    )
    assert made.returncode != 0
    assert "owner" in made.stderr


# -- members ---------------------------------------------------------------------------------


def _members(page: str) -> dict[str, tuple[str, str]]:
    """email -> (role, user id) of the settings page's member table."""
    rows = re.findall(
        r'<tr data-member="([^"]+)" data-role="([^"]+)">.*?members/([^"/]+)"', page, re.S
    )
    return {html.unescape(email): (role, user_id) for email, role, user_id in rows}


def test_an_admin_adds_an_account_changes_its_role_and_removes_it(
    dashboard: Dashboard, server: Server, workspace: Workspace, shared_workspace: Workspace
) -> None:
    with _signed_in(server, shared_workspace) as other:
        here = f"/app/w/{workspace.id}/"
        other.get(here, status=404)
        dashboard.post("members", {"email": other.email.upper(), "role": "viewer"})
        role, other_id = _members(dashboard.get("settings"))[other.email]
        assert role == "viewer"
        other.get(here + "people")
        other.get(here + "settings", status=403)
        refused = other.client.post(
            here + "members", data={"csrf_token": other.csrf, "email": other.email, "role": "admin"}
        )
        assert refused.status_code == 403

        dashboard.post(f"members/{other_id}", {"role": "admin"})
        assert _members(dashboard.get("settings"))[other.email][0] == "admin"
        other.get(here + "settings")

        dashboard.post(f"members/{other_id}", {"remove": "yes"})
        assert other.email not in _members(dashboard.get("settings"))
        other.get(here, status=404)  # at once: memberships are read on every request
        other.get("")  # still a member of their own workspace


def test_the_last_admin_can_neither_step_down_nor_be_removed(
    dashboard: Dashboard, server: Server, workspace: Workspace
) -> None:
    _, me = _members(dashboard.get("settings"))[dashboard.email]
    for form in ({"role": "viewer"}, {"remove": "yes"}):
        refused = dashboard.post(f"members/{me}", form, status=409).text
        assert "needs an admin" in alert(refused)
    assert _members(dashboard.get("settings"))[dashboard.email][0] == "admin"

    # With a second admin, the first may step down; their settings are then closed to them.
    server.cli(
        "user", "create", f"{uid()}@example.com", "--workspace", workspace.id, "--generate-password"
    )
    stepped_down = dashboard.post(f"members/{me}", {"role": "viewer"})
    assert stepped_down.headers["location"] == "/app/"
    dashboard.get("settings", status=403)


def test_adding_a_member_needs_an_existing_account_and_a_role(dashboard: Dashboard) -> None:
    unknown = dashboard.post("members", {"email": "nobody@example.com", "role": "viewer"}, 400)
    assert "No account has that email" in alert(unknown.text)
    bad_role = dashboard.post("members", {"email": dashboard.email, "role": "owner"}, 400)
    assert "admin or viewer" in alert(bad_role.text)
    dashboard.post("members/no-such-user", {"role": "viewer"}, 404)


def test_the_cli_lists_and_revokes_members_but_keeps_an_admin(
    server: Server, workspace: Workspace
) -> None:
    admin, viewer = f"{uid('a')}@example.com", f"{uid('v')}@example.com"
    server.cli("user", "create", admin, "--workspace", workspace.id, "--generate-password")
    server.cli(
        "user",
        "create",
        viewer,
        "--workspace",
        workspace.name,
        "--role",
        "viewer",
        "--generate-password",
    )
    listed = server.cli("user", "list", "--workspace", workspace.id, "--json").stdout
    assert [json.loads(line) for line in listed.splitlines()] == [
        {"workspace_id": workspace.id, "workspace": workspace.name, "email": e, "role": r}
        for e, r in sorted([(admin, "admin"), (viewer, "viewer")])
    ]
    lines = server.cli("user", "list", "--workspace", workspace.id).stdout.splitlines()
    assert lines == sorted(
        [f"{workspace.name}\t{admin}\tadmin", f"{workspace.name}\t{viewer}\tviewer"]
    )

    for args in (("revoke", admin), ("grant", admin, "--role", "viewer")):
        refused = server.cli("user", *args, "--workspace", workspace.id, check=False)
        assert refused.returncode != 0 and "last admin" in refused.stderr
    revoked = server.cli("user", "revoke", viewer, "--workspace", workspace.id)
    assert workspace.name in revoked.stdout
    lines = server.cli("user", "list", "--workspace", workspace.id).stdout.splitlines()
    assert lines == [f"{workspace.name}\t{admin}\tadmin"]
