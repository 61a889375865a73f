"""The Jinja2 environment of the dashboard and the filters its templates use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from seam.store.jsonb import as_text, dumps

TEMPLATES = Path(__file__).resolve().parent / "templates"
# How many trailing characters of an id the pages show: the last group of a UUIDv7, which is
# random (its first characters are a timestamp, the same for every id made in one minute).
ID_TAIL = 12


def when(us: int | None) -> str:
    """`2026-06-09 12:00:05` (UTC, second precision): what people compare on a timeline."""
    if us is None:
        return "—"
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(us: int | None) -> str:
    if us is None:
        return ""
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s" if seconds else f"{ms} ms"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def as_json(value: Any) -> str:
    """Pretty JSON for <pre> blocks (autoescaped by the template)."""
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def compact_json(value: Any) -> str:
    return dumps(value)


def query(base: str, **params: Any) -> str:
    """`base?k=v…` without the empty parameters (filters keep the URL short)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(kept)}" if kept else base


def segment(value: str) -> str:
    """`value` as one URL path segment. "/" and "." are encoded too: an anonymous id such as
    `a/../../settings` must not make a link that the browser resolves to another page."""
    return quote(value, safe="").replace(".", "%2E")


def visitor_path(anonymous_id: str) -> str:
    """A visitor's page, relative to the workspace's base URL. Browsers resolve a `%2E%2E` or
    `%2E` segment like `..` and `.` (WHATWG URL), so such an id goes in the query instead."""
    if anonymous_id in (".", ".."):
        return query("visitors/", anonymous_id=anonymous_id)
    return f"visitors/{segment(anonymous_id)}"


def short_id(value: str) -> str:
    """`…9f0c2a1b7d3e` for a UUIDv7 (`user:…9f0c2a1b7d3e` for a dashboard user): the part that
    tells ids apart. Pages put the full id in a `title`."""
    prefix, colon, rest = value.rpartition(":")
    if len(rest) <= ID_TAIL + 1:
        return value
    return f"{prefix}{colon}…{rest[-ID_TAIL:]}"


def number(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")  # narrow no-break space: 1 000 000


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        iso=iso,
        duration=duration,
        json=as_json,
        compact_json=compact_json,
        number=number,
        segment=segment,
        visitor_path=visitor_path,
        short_id=short_id,
        text=as_text,
    )
    env.globals["query"] = query
    return env


ENV = _environment()


def render(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    html = ENV.get_template(name).render(context)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            # Pages show personal data: never cached by a shared cache or the back button.
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
            ),
        },
    )
