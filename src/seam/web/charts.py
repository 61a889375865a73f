"""Server-side SVG charts: no JavaScript, no CDN, readable by screen readers (each chart has a
title, a description and per-bar <title>s; the page also offers the numbers as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Bar:
    label: str  # x-axis label, e.g. "06-09"
    total: float
    part: float  # the highlighted share of `total` (attributed events)
    hint: str  # the tooltip


def day_label(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%m-%d")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _frame(title: str, desc: str, body: list[str], css: str) -> Markup:
    svg = (
        f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{css}-title {css}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{css}-title">{escape(title)}</title>'
        f'<desc id="{css}-desc">{escape(desc)}</desc>{"".join(body)}</svg>'
    )
    return Markup(svg)


def _axes(maximum: float, fmt: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    for i in range(5):
        value = maximum * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt.format(value))}</text>"
        )
    return out


def stacked_bars(bars: Sequence[Bar], *, title: str, desc: str, css: str) -> Markup:
    """Bars of `total` with the `part` drawn in the accent colour from the baseline."""
    maximum = _nice_max(max((b.total for b in bars), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bars), 1)
    body = _axes(maximum, "{:,.0f}")
    for i, b in enumerate(bars):
        x = LEFT + i * slot + slot * 0.15
        w = slot * 0.7
        h_total = plot_h * b.total / maximum
        h_part = plot_h * b.part / maximum
        base = TOP + plot_h
        body.append(
            f'<g class="bar"><title>{escape(b.hint)}</title>'
            f'<rect class="total" x="{x:.1f}" y="{base - h_total:.1f}" width="{w:.1f}" '
            f'height="{h_total:.1f}"/>'
            f'<rect class="part" x="{x:.1f}" y="{base - h_part:.1f}" width="{w:.1f}" '
            f'height="{h_part:.1f}"/></g>'
        )
        if i % 5 == 0 or i == len(bars) - 1:
            body.append(
                f'<text class="tick" x="{x + w / 2:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(b.label)}</text>'
            )
    return _frame(title, desc, body, css)


def share_line(
    points: Sequence[tuple[str, float | None, str]], *, title: str, desc: str, css: str
) -> Markup:
    """A line of percentages (0 to 100); days without events (None) break the line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    body = _axes(100, "{:.0f}%")
    segments: list[list[tuple[float, float]]] = [[]]
    for i, (label, value, hint) in enumerate(points):
        x = LEFT + i * slot + slot / 2
        if i % 5 == 0 or i == len(points) - 1:
            body.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        if value is None:
            segments.append([])
            continue
        y = TOP + plot_h - plot_h * value / 100
        segments[-1].append((x, y))
        body.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{escape(hint)}</title></circle>"
        )
    for seg in segments:
        if len(seg) > 1:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            body.insert(5, f'<polyline class="line" points="{pts}"/>')
    return _frame(title, desc, body, css)


def meter(fraction: float, label: str) -> Markup:
    """A small horizontal bar for table rows (top pages)."""
    width = max(0.0, min(1.0, fraction)) * 100
    return Markup(
        f'<svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}"><rect class="meter-bg" width="100" height="8"/>'
        f'<rect class="meter-fg" width="{width:.1f}" height="8"/></svg>'
    )
