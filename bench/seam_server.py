"""A real Seam, black-box: `seam migrate`, `workspace create`, `serve` on the server core."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, update

from bench.procs import BenchError, free_port, run, server
from seam.store.engine import normalize_url
from seam.store.tables import workspaces

# The `seam` next to this interpreter, unless SEAM_BIN names another (e.g. an installed build).
SEAM = os.environ.get("SEAM_BIN") or str(Path(sys.executable).with_name("seam"))
# Far above anything one core can serve: the benchmark measures throughput, not the limiter.
BENCH_RATE_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class Workspace:
    id: str
    write_key: str
    secret_key: str

    @property
    def basic_auth(self) -> str:
        """`Authorization` value a server-side Segment SDK would send with the secret key."""
        return "Basic " + base64.b64encode(f"{self.secret_key}:".encode()).decode()


@dataclass(frozen=True)
class SeamInstance:
    url: str
    db_url: str
    workspace: Workspace
    log: Path


def _last_json_object(out: str) -> dict[str, object]:
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return dict(json.loads(out))


def _help(*args: str) -> str:
    try:
        return run([SEAM, *args, "--help"], timeout=30)
    except BenchError:
        return ""


def prepare(db_url: str, workdir: Path) -> Workspace:
    """Migrate, create the `bench` workspace, lift its rate limit."""
    run([SEAM, "migrate", "--db", db_url], cwd=workdir)
    out = run(
        [SEAM, "workspace", "create", "bench", "--domain", "localhost", "--json", "--db", db_url],
        cwd=workdir,
    )
    created = _last_json_object(out)
    ws = Workspace(str(created["id"]), str(created["write_key"]), str(created["secret_key"]))
    _lift_rate_limit(db_url, ws.id, workdir)
    return ws


def _lift_rate_limit(db_url: str, workspace_id: str, workdir: Path) -> None:
    """The default 1,000 req/s per key would turn a throughput test into a 429 test.

    Uses `seam workspace update --rate-limit` when the CLI has it, else sets the workspace's
    `rate_limit` column directly (before the server starts, so nothing is cached).
    """
    if "--rate-limit" in _help("workspace", "update"):
        limit = str(BENCH_RATE_LIMIT)
        cmd = [SEAM, "workspace", "update", workspace_id, "--rate-limit", limit, "--json"]
        run([*cmd, "--db", db_url], cwd=workdir)
        return
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                update(workspaces)
                .where(workspaces.c.id == workspace_id)
                .values(rate_limit=BENCH_RATE_LIMIT)
            )
    finally:
        engine.dispose()


@contextlib.contextmanager
def serve(
    db_url: str, workdir: Path, *, env: dict[str, str] | None = None, name: str = "seam-serve"
) -> Iterator[SeamInstance]:
    """Prepare the database, run `seam serve` pinned to the server core until the block ends.

    Its output goes to `<workdir>/<name>.log`; `env` adds SEAM_* settings.
    """
    workspace = prepare(db_url, workdir)
    port = free_port()
    cmd = [SEAM, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port)]
    if "--workers" in _help("serve"):
        cmd += ["--workers", "1"]
    log = workdir / f"{name}.log"
    # Belt and braces: the default per-key limit, should the workspace setting not apply.
    env = {"SEAM_RATE_LIMIT": str(BENCH_RATE_LIMIT), **(env or {})}
    with server(cmd, port=port, log=log, cwd=workdir, env=env):
        yield SeamInstance(f"http://127.0.0.1:{port}", db_url, workspace, log)
