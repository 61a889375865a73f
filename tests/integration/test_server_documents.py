"""The server's own documents on a real process: /metrics (opt-in, admin only), /openapi.json
(its documented message shape is what the server accepts), /seam.js, and `seam serve` on an
empty directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.routing import Route

from e2e.support import free_port, wait_until_healthy
from seam.app import create_app
from seam.settings import Settings

SEAM = str(Path(sys.executable).with_name("seam"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """`seam serve` in an empty directory, with metrics on: (url, write key, secret key)."""
    workdir = tmp_path_factory.mktemp("serve")
    port = free_port()
    log = (workdir / "serve.log").open("wb")
    env = {**os.environ, "SEAM_METRICS": "1"}
    env.pop("SEAM_DATABASE_URL", None)
    proc = subprocess.Popen(
        [SEAM, "serve", "--port", str(port)],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, workdir / "serve.log")
        printed = (workdir / "serve.log").read_text()
        write_key = re.search(r"write key:\s+(wk_\S+)", printed)
        secret_key = re.search(r"secret key:\s+(sk_\S+)", printed)
        assert write_key and secret_key, printed
        assert (workdir / "seam.db").exists()
        yield url, write_key.group(1), secret_key.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_serve_on_an_empty_directory_prints_working_keys(served: tuple[str, str, str]) -> None:
    url, write_key, secret_key = served
    r = httpx.post(f"{url}/v1/page", json={"anonymousId": "first-visitor"}, auth=(write_key, ""))
    assert r.status_code == 200
    r = httpx.get(f"{url}/v1/visitors/first-visitor", auth=(secret_key, ""))
    assert r.status_code == 200


def test_metrics_need_an_admin_key_and_count_events(served: tuple[str, str, str]) -> None:
    url, write_key, secret_key = served
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", auth=(write_key, "")).status_code == 403
    httpx.post(f"{url}/v1/track", json={"anonymousId": "m", "event": "x"}, auth=(write_key, ""))
    text = httpx.get(f"{url}/metrics", auth=(secret_key, "")).text
    accepted = re.search(r"^seam_events_accepted_total (\d+)$", text, re.M)
    assert accepted and int(accepted.group(1)) >= 1
    assert "seam_commit_seconds_count" in text
    # Every answer is counted by status, the ingest fast path's and the router's alike.
    ok = re.search(r'^seam_requests_total\{status="200"\} (\d+)$', text, re.M)
    refused = re.search(r'^seam_requests_total\{status="401"\} (\d+)$', text, re.M)
    assert ok and int(ok.group(1)) >= 1, text
    assert refused and int(refused.group(1)) >= 1, text
    assert re.search(r"^seam_enrichment_lag_seconds \d+\.\d+$", text, re.M), text


def test_openapi_documents_the_ingestion_endpoints(served: tuple[str, str, str]) -> None:
    url, write_key, _ = served
    doc = httpx.get(f"{url}/openapi.json").json()
    for path in ("/v1/identify", "/v1/track", "/v1/batch", "/v1/collect", "/v1/events"):
        assert path in doc["paths"]
    message = doc["components"]["schemas"]["Message"]["properties"]
    # Every documented Segment field is one the server accepts in a message.
    documented = {
        k: "x"
        for k in message
        if k
        not in {
            "type",
            "context",
            "properties",
            "traits",
            "integrations",
            "timestamp",
            "sentAt",
            "previousId",
            "groupId",
            *("user_id", "external_id", "anonymous_id", "previous_id", "group_id"),  # aliases
        }
    }
    documented["anonymousId"] = "doc-visitor"
    documented.pop("userId", None)
    r = httpx.post(f"{url}/v1/track", json=documented, auth=(write_key, ""))
    assert r.status_code == 200, r.text
    # ...and its answer is the documented one.
    answer = doc["paths"]["/v1/track"]["post"]["responses"]["200"]["content"]["application/json"]
    success = doc["components"]["schemas"][answer["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(r.json()) == set(success["required"]) == set(success["properties"])


def test_openapi_documents_every_api_route_and_no_other(served: tuple[str, str, str]) -> None:
    url, _, _ = served
    doc = httpx.get(f"{url}/openapi.json").json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    served_routes = {
        (route.path_format, method)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith(("/v1/", "/healthz"))
        for method in route.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert documented == served_routes
    for path, ops in doc["paths"].items():
        for op in ops.values():
            in_path = {p["name"] for p in op.get("parameters", ()) if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), path


def test_tracker_is_served_with_caching_headers(served: tuple[str, str, str]) -> None:
    url, _, _ = served
    r = httpx.get(f"{url}/seam.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
    again = httpx.get(f"{url}/seam.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_tracker_is_sent_gzipped_to_browsers_that_take_it(served: tuple[str, str, str]) -> None:
    url, _, _ = served
    plain = httpx.get(f"{url}/seam.js", headers={"Accept-Encoding": "identity"})
    zipped = httpx.get(f"{url}/seam.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 1.5
    assert zipped.content == plain.content  # httpx inflates it
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert "accept-encoding" in zipped.headers["vary"].lower()


# (path, body, whether the server accepts it): each rule of SPEC §3 the schema can state.
_AGREEMENT: list[tuple[str, Any, bool]] = [
    ("/v1/track", {"anonymousId": "doc-a", "event": "Signed Up"}, True),
    ("/v1/track", {"userId": 42, "event": "Signed Up"}, True),
    ("/v1/track", {"user_id": "doc-u", "event": "Signed Up", "type": "track"}, True),
    ("/v1/track", {"event": "Signed Up"}, False),
    ("/v1/track", {"userId": None, "anonymousId": None, "event": "Signed Up"}, False),
    ("/v1/track", {"anonymousId": "doc-a", "event": None}, False),
    ("/v1/track", {"anonymousId": " Undefined ", "event": "Signed Up"}, False),
    ("/v1/track", {"anonymousId": "[object Object]", "event": "Signed Up"}, False),
    ("/v1/track", {"userId": 0, "event": "Signed Up"}, False),
    ("/v1/track", {"userId": 1e300, "event": "Signed Up"}, False),
    ("/v1/track", {"anonymous_id": {}, "userId": "doc-u", "event": "Signed Up"}, False),
    ("/v1/track", {"anonymousId": "   ", "event": "Signed Up"}, False),
    ("/v1/track", {"anonymousId": "a" * 256, "event": "Signed Up"}, False),
    ("/v1/track", {"anonymousId": "doc-a"}, False),
    ("/v1/track", {"anonymousId": "doc-a", "event": ""}, False),
    ("/v1/track", {"anonymousId": "doc-a", "event": "x", "type": "page"}, False),
    ("/v1/page", {"anonymousId": "doc-a", "name": "Docs"}, True),
    ("/v1/group", {"userId": "doc-u", "group_id": "doc-g"}, True),
    ("/v1/group", {"userId": "doc-u"}, False),
    ("/v1/alias", {"previousId": "doc-a", "userId": "doc-u"}, True),
    ("/v1/alias", {"previousId": "doc-a"}, False),
    ("/v1/alias", {"userId": "doc-u"}, False),
    ("/v1/identify", {"userId": "doc-u", "traits": {"plan": "pro"}}, True),
    ("/v1/identify", {"traits": {"plan": "pro"}}, False),
    ("/v1/batch", {"batch": [{"type": "track", "anonymousId": "doc-a", "event": "x"}]}, True),
    ("/v1/batch", {"batch": [{"anonymousId": "doc-a", "event": "x"}]}, False),
    ("/v1/batch", {"batch": [{"type": None, "anonymousId": "doc-a", "event": "x"}]}, False),
]


@pytest.mark.parametrize(("path", "body", "accepted"), _AGREEMENT)
def test_the_openapi_schema_of_a_message_accepts_what_the_server_accepts(
    served: tuple[str, str, str], path: str, body: Any, accepted: bool
) -> None:
    url, _, secret_key = served
    doc = httpx.get(f"{url}/openapi.json").json()
    ref = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**ref, "components": doc["components"]})
    r = httpx.post(f"{url}{path}", json=body, auth=(secret_key, ""))
    if path == "/v1/batch":  # a batch is stored in part: the message counts
        assert r.status_code == 200, r.text
        assert (r.json()["rejected"] == []) is accepted, r.text
    else:
        assert (r.status_code == 200) is accepted, r.text
    assert validator.is_valid(body) is accepted, list(validator.iter_errors(body))
