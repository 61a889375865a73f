"""Several `seam serve` processes on one database, as a multi-process deployment runs them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from e2e.support import free_port, wait_until_healthy

SEAM = str(Path(sys.executable).with_name("seam"))
Cluster = tuple[list[str], str]  # the servers' base URLs, a secret key


@contextlib.contextmanager
def two_servers(
    db_url: str, logs: Path, *, env: dict[str, str] | None = None, rate_limit: int | None = None
) -> Iterator[Cluster]:
    """Two server processes on one database, and a secret key of a fresh workspace (with
    `rate_limit` requests a second, if given)."""
    subprocess.run([SEAM, "migrate", "--db", db_url], check=True, capture_output=True)
    created = subprocess.run(
        [SEAM, "workspace", "create", "race", "--json", "--db", db_url],
        check=True,
        capture_output=True,
        text=True,
    )
    workspace = json.loads(created.stdout)
    secret = workspace["secret_key"]
    if rate_limit is not None:
        limit = ["--rate-limit", str(rate_limit), "--json", "--db", db_url]
        subprocess.run(
            [SEAM, "workspace", "update", workspace["id"], *limit], check=True, capture_output=True
        )
    procs, urls, log_files = [], [], []
    for i in range(2):
        port = free_port()
        log = (logs / f"server{i}.log").open("wb")
        log_files.append(log)
        procs.append(
            subprocess.Popen(
                [SEAM, "serve", "--db", db_url, "--port", str(port)],
                stdout=log,
                stderr=log,
                env={**os.environ, **(env or {})},
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc, i in zip(urls, procs, range(2), strict=True):
            wait_until_healthy(url, proc, logs / f"server{i}.log")
        yield urls, secret
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        for log in log_files:
            log.close()
