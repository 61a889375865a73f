"""Harness of the black-box suites (tests/e2e, tests/compat): server process, workspaces, HTTP.

A real `seam serve` process per backend (SQLite file, fresh PostgreSQL database), started once per
session, and a fresh workspace per test made with the SPEC's own CLI (`seam workspace create`).
Tests talk to the server over HTTP only.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

SEAM = str(Path(sys.executable).with_name("seam"))
PG_ADMIN_URL = os.environ.get("SEAM_E2E_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
STARTUP_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _json_from_output(text: str) -> Any:
    """The JSON document a `--json` command printed (tolerating a banner line before it)."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
        if start < 0:
            raise
        return json.loads(text[start:])


@dataclass
class Server:
    backend: str
    db_url: str
    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def cli(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `seam ARGS --db URL` (`stdin` its input) and return the finished process."""
        done = subprocess.run(
            [SEAM, *args, "--db", self.db_url],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            env=_cli_env(),
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"seam {' '.join(args)} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def cli_json(self, *args: str) -> Any:
        return _json_from_output(self.cli(*args).stdout)

    def beside(self, log_path: Path) -> Server:
        """Another server on this one's database and a free port, not started yet."""
        return Server(self.backend, self.db_url, f"http://127.0.0.1:{free_port()}", log_path)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SEAM_DATABASE_URL", None)
    env["SEAM_KEY_CACHE_SECONDS"] = "0"
    env["SEAM_ENRICH_INTERVAL"] = "1"
    return env


def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"seam_e2e_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(server: Server, *options: str, env: dict[str, str] | None = None) -> None:
    """Migrate, then run `seam serve` on the server's database and port with `options` (and
    the settings `env` gives)."""
    server.cli("migrate")
    port = int(server.base_url.rsplit(":", 1)[1])
    env = {**_cli_env(), **(env or {})}
    log = server.log_path.open("wb")
    command = [SEAM, "serve", "--db", server.db_url, "--host", "127.0.0.1", "--port", str(port)]
    command += options
    if os.environ.get("SEAM_E2E_WORKERS"):  # e.g. 2: the same suite against a multi-process server
        command += ["--workers", os.environ["SEAM_E2E_WORKERS"]]
    server.process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    log.close()
    try:
        wait_until_healthy(server.base_url, server.process, server.log_path, STARTUP_TIMEOUT)
    except AssertionError:
        stop_server(server)
        raise


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0
) -> None:
    """Wait for a started `seam serve` to answer /healthz; fail with its log if it exits or
    takes longer than `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"seam serve exited:\n{log.read_text()[-4000:]}"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"seam serve not healthy:\n{log.read_text()[-4000:]}"
        time.sleep(0.1)


def stop_server(server: Server) -> None:
    proc = server.process
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


# ---------------------------------------------------------------------------------------------
# HTTP helpers


def app_token(claims: dict[str, Any], key: Any, algorithm: str) -> str:
    """A token of the customer's app: it expires in 5 minutes unless the claims say when."""
    return jwt.encode({"exp": int(time.time()) + 300, **claims}, key, algorithm=algorithm)


def basic(key: str) -> dict[str, str]:
    """Segment style: the key as the HTTP Basic username, empty password."""
    token = base64.b64encode(f"{key}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def gzipped(body: Any) -> bytes:
    return gzip_module.compress(json.dumps(body).encode())


def expect(response: httpx.Response, status: int = 200) -> Any:
    """Assert the status (showing the body on failure) and return the decoded JSON."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}, "
        f"expected {status}: {response.text[:2000]}"
    )
    return response.json()


def expect_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert an error in the SPEC envelope with this status (and code) and return `error`."""
    body = expect(response, status)
    assert body.get("status") == "error", body
    error = body.get("error")
    assert isinstance(error, dict), body
    assert {"code", "message", "details", "request_id"} <= set(error), body
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str), body
    assert isinstance(error["details"], list), body
    assert isinstance(error["request_id"], str) and error["request_id"], body
    if code is not None:
        assert error["code"] == code, body
    return error


class ReconnectingTransport(httpx.HTTPTransport):
    """Retries once when a kept-alive connection turns out to be closed.

    uvicorn closes the connection after a 500; without this, the *next* test reusing that pooled
    connection would fail with a ReadError and blame the wrong request. A server that really drops
    requests still fails: the retry on a fresh connection fails the same way.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
            return super().handle_request(request)


def http_client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30, transport=ReconnectingTransport())


@dataclass
class Workspace:
    """A workspace of the running server, with the keys `seam workspace create` printed."""

    server: Server
    http: httpx.Client
    id: str
    name: str
    write_key: str
    secret_key: str
    raw: dict[str, Any] = field(default_factory=dict)

    # -- requests ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        auth: str = "bearer",
        params: dict[str, Any] | None = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers: dict[str, str] = {}
        if key is not None and auth == "basic":
            all_headers.update(basic(key))
        elif key is not None and auth == "bearer":
            all_headers.update(bearer(key))
        all_headers.update(headers or {})
        kwargs: dict[str, Any] = {"headers": all_headers, "params": params}
        if content is not None:
            kwargs["content"] = content
        elif body is not None:
            kwargs["json"] = body
        return self.http.request(method, path, **kwargs)

    def write(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        """POST with the write key the way browsers/Segment SDKs send it (Basic username)."""
        return self.request("POST", path, body, key=self.write_key, auth="basic", **kw)

    def secret(
        self, path: str, body: Any = None, *, method: str = "POST", **kw: Any
    ) -> httpx.Response:
        """A server-to-server call with the secret key (Bearer)."""
        return self.request(method, path, body, key=self.secret_key, auth="bearer", **kw)

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, key=key or self.secret_key, params=clean)

    # -- typed shortcuts ------------------------------------------------------------------------

    def identify(self, body: dict[str, Any], *, secret: bool = True) -> dict[str, Any]:
        response = self.secret("/v1/identify", body) if secret else self.write("/v1/identify", body)
        return expect(response)

    def send(self, kind: str, body: dict[str, Any], *, secret: bool = False) -> dict[str, Any]:
        response = self.secret(f"/v1/{kind}", body) if secret else self.write(f"/v1/{kind}", body)
        return expect(response)

    def batch(self, messages: list[dict[str, Any]], *, secret: bool = False, **extra: Any) -> Any:
        body = {"batch": messages, **extra}
        response = self.secret("/v1/batch", body) if secret else self.write("/v1/batch", body)
        return expect(response)

    def events_page(self, **params: Any) -> dict[str, Any]:
        for name, value in list(params.items()):
            if isinstance(value, bool):
                params[name] = "true" if value else "false"
        return expect(self.get("/v1/events", **params))

    def events(self, **params: Any) -> list[dict[str, Any]]:
        """Every event matching the filters, following cursors."""
        params.setdefault("order", "asc")
        params.setdefault("limit", 100)
        out: list[dict[str, Any]] = []
        for _ in range(1000):
            page = self.events_page(**params)
            out.extend(page["data"])
            if not page.get("next_cursor"):
                return out
            params["cursor"] = page["next_cursor"]
        raise AssertionError("cursor pagination did not end")

    def contact(self, contact_id: str) -> dict[str, Any]:
        return expect(self.get(f"/v1/contacts/{contact_id}"))["data"]

    def contacts(self, **params: Any) -> list[dict[str, Any]]:
        return expect(self.get("/v1/contacts", **params))["data"]

    def contact_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        found = self.contacts(external_id=external_id)
        assert len(found) <= 1, found
        return self.contact(found[0]["id"]) if found else None

    def visitor(self, anonymous_id: str) -> dict[str, Any]:
        return expect(self.get(f"/v1/visitors/{anonymous_id}"))["data"]

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        return expect(self.get("/v1/audit", **params))["data"]

    def quarantine(self, **params: Any) -> list[dict[str, Any]]:
        return expect(self.get("/v1/quarantine", **params))["data"]

    def import_contacts(self, records: list[dict[str, Any]]) -> Any:
        """POST /v1/contacts/import (SPEC §8) with the secret key."""
        return expect(self.secret("/v1/contacts/import", {"records": records}))

    # -- CLI --------------------------------------------------------------------------------------

    def update(self, *args: str) -> dict[str, Any]:
        """`seam workspace update ID ARGS --json`."""
        return self.server.cli_json("workspace", "update", self.id, *args, "--json")

    def create_key(self, *scopes: str) -> dict[str, Any]:
        args: list[str] = []
        for scope in scopes:
            args += ["--scope", scope]
        return self.server.cli_json("key", "create", "--workspace", self.id, *args, "--json")

    def revoke_key(self, key_id: str) -> None:
        self.server.cli("key", "revoke", key_id)


def create_workspace(server: Server, http: httpx.Client, *domains: str) -> Workspace:
    name = f"ws-{secrets.token_hex(5)}"
    args = ["workspace", "create", name]
    for domain in domains or ("example.com",):
        args += ["--domain", domain]
    raw = server.cli_json(*args, "--json")
    return Workspace(
        server=server,
        http=http,
        id=str(raw["id"]),
        name=raw["name"],
        write_key=raw["write_key"],
        secret_key=raw["secret_key"],
        raw=raw,
    )


# ---------------------------------------------------------------------------------------------
# values


def uid(prefix: str = "") -> str:
    return f"{prefix}{secrets.token_hex(8)}"


ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def iso(moment: datetime) -> str:
    """The SPEC's timestamp format: 2026-06-09T12:00:00.000Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(UTC)


def ago(**delta: float) -> datetime:
    return now() - timedelta(**delta)


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Poll `check` until it returns a truthy value (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s: {result!r}")
        time.sleep(interval)
