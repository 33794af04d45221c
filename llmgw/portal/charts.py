"""Charts as SVG, for the portal's usage pages: pure functions, numbers in, one `<svg>` string out.

Two shapes: `time_chart` (stacked bars over time buckets, one series per label, a legend) and
`bar_chart` (horizontal bars, a breakdown). Both are readable without JavaScript and without the
stylesheet: a `<title>` and `<desc>` (role="img"), axis titles, value labels, and a `<title>`
tooltip on every bar. Every bar also carries its numbers in `data-label`, `data-bucket` (time
charts) and `data-value`, and its geometry is proportional to that value, so tests check what a
chart says by reading it. Labels are user and model names: every one is escaped, control
characters replaced (XML cannot carry them), long ones shortened on screen (never in `data-label`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Literal

__all__ = ["EMPTY", "OTHER", "Point", "bar_chart", "format_value", "nice_ceiling", "time_chart"]

Unit = Literal["count", "usd"]
Grain = Literal["hour", "day", "month"]

EMPTY = "No requests in this range."
OTHER = "(others)"
# Colour-blind-safe (Okabe-Ito order, then greys); "other" is always the last, grey.
_PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#7f7f7f")
_OTHER_COLOUR = "#b0b4ba"
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_LABEL_CHARS = 24


@dataclass(frozen=True, slots=True)
class Point:
    """One series' value in one time bucket (`bucket`: its start, unix seconds)."""

    bucket: float
    label: str
    value: float


def _clean(label: str) -> str:
    """A label XML can carry: control characters (and lone surrogates) replaced."""
    return "".join(
        "\ufffd" if ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" else c for c in label
    )


def _text(value: str) -> str:
    return escape(_clean(value), quote=True)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _num(value: float) -> str:
    """A value exactly, for `data-value`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def format_value(value: float, unit: Unit = "count") -> str:
    """Short, for axes and labels: 950, 1.2k, 3.4M, 5.6G; dollars as $0.0123, $4.56, $1.2k."""
    if unit == "usd":
        if value == 0:
            return "$0"
        if 0 < abs(value) < 0.0001:
            return "<$0.0001"
        if abs(value) < 0.1:
            return f"${value:.4f}".rstrip("0")
        if abs(value) < 1000:
            return f"${value:,.2f}"
        return "$" + format_value(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            short = f"{value / limit:.1f}".removesuffix(".0")
            return f"{short}{suffix}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def nice_ceiling(value: float) -> float:
    """The axis maximum for `value`: the next 1, 2, 2.5 or 5 times 10^k at or above it (1 for 0)."""
    if value <= 0:
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-12):
            return step * power
    return 10 * power  # unreachable: value < 10 * power


def _ticks(top: float, unit: Unit) -> list[float]:
    """Round steps from 0 to `top` (a nice ceiling): fifths of 1, 2.5 or 5 times 10^k, quarters of
    2 times 10^k; whole numbers only for a small count."""
    if unit == "count" and top <= 5:
        steps = int(top)
    else:
        lead = top / 10 ** math.floor(math.log10(top))
        steps = 4 if math.isclose(lead, 2) else 5
    return [top * i / steps for i in range(steps + 1)]


def _colours(labels: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, label in enumerate(labels):
        out[label] = _OTHER_COLOUR if label == OTHER and i == len(labels) - 1 else _PALETTE[i % len(_PALETTE)]
    return out


def _top_labels(totals: dict[str, float], top: int) -> list[str]:
    """Labels by total, largest first (ties by name); past `top`, the rest become one `OTHER`."""
    ranked = sorted(totals, key=lambda label: (-totals[label], label))
    if len(ranked) <= top:
        return ranked
    return [*ranked[: top - 1], OTHER]


def _bucket_text(bucket: float, grain: Grain, first: bool) -> str:
    at = datetime.fromtimestamp(bucket, UTC)
    if grain == "month":
        return at.strftime("%b %Y")
    if grain == "day":
        return at.strftime("%b %d")
    return at.strftime("%b %d %H:%M") if first or at.hour == 0 else at.strftime("%H:%M")


def _bucket_title(bucket: float, grain: Grain) -> str:
    at = datetime.fromtimestamp(bucket, UTC)
    return at.strftime({"month": "%B %Y", "day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00 UTC"}[grain])


def _svg_open(title: str, desc: str, width: int, height: int, kind: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{kind}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"{_FONT}>",
        f"<title>{_text(title)}</title>",
        f"<desc>{_text(desc)}</desc>",
        f'<text x="{width / 2:g}" y="18" text-anchor="middle" font-size="14" font-weight="600">'
        f"{_text(title)}</text>",
    ]


def _empty(title: str, width: int, kind: str) -> str:
    height = 90
    parts = _svg_open(title, EMPTY, width, height, kind)
    parts[0] = parts[0].replace("<svg ", '<svg data-empty="true" ', 1)
    parts.append(
        f'<text x="{width / 2:g}" y="56" text-anchor="middle" fill="#6b7380">{_text(EMPTY)}</text></svg>'
    )
    return "".join(parts)


def time_chart(
    title: str,
    points: Sequence[Point],
    *,
    grain: Grain,
    y_title: str,
    unit: Unit = "count",
    top: int = 8,
    width: int = 720,
) -> str:
    """Stacked bars, one per time bucket, one colour per label (the `top` - 1 largest labels by
    total; the rest summed as "other"). Buckets are the points' own (zero-filled by the caller);
    a zero value draws no bar. No value above zero at all: a chart that says `EMPTY`."""
    if not any(p.value > 0 for p in points):
        return _empty(title, width, "time")
    totals: dict[str, float] = {}
    for p in points:
        totals[p.label] = totals.get(p.label, 0.0) + p.value
    labels = [label for label in _top_labels(totals, top) if label == OTHER or totals[label] > 0]
    kept = set(labels)
    stacks: dict[float, dict[str, float]] = {}
    for p in points:
        label = p.label if p.label in kept else OTHER
        stack = stacks.setdefault(p.bucket, {})
        stack[label] = stack.get(label, 0.0) + p.value
    buckets = sorted(stacks)
    y_max = nice_ceiling(max(sum(s.values()) for s in stacks.values()))
    colours = _colours(labels)

    left, right, top_px, plot_h = 64, 12, 34, 200
    legend_rows = math.ceil(len(labels) / 3)
    height = top_px + plot_h + 52 + 20 * legend_rows
    plot_w = width - left - right
    base = top_px + plot_h
    slot = plot_w / len(buckets)
    bar_w = max(slot * 0.8, 1.0)
    first, last = _bucket_title(buckets[0], grain), _bucket_title(buckets[-1], grain)
    summary = ", ".join(f"{_clean(label)} {format_value(_total(label, stacks), unit)}" for label in labels)
    desc = f"Stacked bars by {grain}, {first} to {last}. Totals: {summary}."
    parts = _svg_open(title, desc, width, height, "time")

    for tick in _ticks(y_max, unit):  # y axis: grid line and value label per tick
        y = base - tick / y_max * plot_h
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.2f}" y2="{y:.2f}" stroke="#dde1e7"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.2f}" text-anchor="end" class="tick">'
            f"{_text(format_value(tick, unit))}</text>"
        )
    parts.append(
        f'<text transform="translate(14 {top_px + plot_h / 2:g}) rotate(-90)" text-anchor="middle" '
        f'class="axis-title">{_text(y_title)}</text>'
    )
    every = max(1, math.ceil(len(buckets) / 8))  # at most 8 time labels
    for i, bucket in enumerate(buckets):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(base)
        for label in labels:
            value = stacks[bucket].get(label, 0.0)
            if value <= 0:
                continue
            h = value / y_max * plot_h
            y -= h
            tip = f"{_clean(label)}, {_bucket_title(bucket, grain)}: {format_value(value, unit)}"
            parts.append(
                f'<rect x="{x:.2f}" y="{y:.4f}" width="{bar_w:.2f}" height="{h:.4f}" '
                f'fill="{colours[label]}" data-label="{_text(label)}" data-bucket="{_num(bucket)}" '
                f'data-value="{_num(value)}"><title>{_text(tip)}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.2f}" y="{base + 16}" text-anchor="middle" class="tick">'
                f"{_text(_bucket_text(bucket, grain, i == 0))}</text>"
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="#6b7380"/>')
    parts.append(
        f'<text x="{left + plot_w / 2:g}" y="{base + 36}" text-anchor="middle" class="axis-title">'
        f"Time (UTC, per {grain})</text>"
    )
    for i, label in enumerate(labels):  # legend, three to a row
        lx = left + (i % 3) * (plot_w / 3)
        ly = base + 52 + (i // 3) * 20
        parts.append(
            f'<g class="legend" data-label="{_text(label)}">'
            f'<rect x="{lx:.2f}" y="{ly - 10}" width="12" height="12" fill="{colours[label]}"/>'
            f'<text x="{lx + 18:.2f}" y="{ly}">{_text(_short(label))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _total(label: str, stacks: dict[float, dict[str, float]]) -> float:
    return sum(s.get(label, 0.0) for s in stacks.values())


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    x_title: str,
    unit: Unit = "count",
    top: int = 10,
    width: int = 720,
) -> str:
    """Horizontal bars, largest first: the `top` - 1 largest labels and the rest summed as
    "other". Nothing above zero: a chart that says `EMPTY`."""
    totals: dict[str, float] = {}
    for label, value in items:
        totals[label] = totals.get(label, 0.0) + value
    if not any(v > 0 for v in totals.values()):
        return _empty(title, width, "bars")
    labels = _top_labels(totals, top)
    kept = set(labels)
    values = {label: 0.0 for label in labels}
    for label, value in totals.items():
        values[label if label in kept else OTHER] += value
    x_max = nice_ceiling(max(values.values()))
    colours = _colours(labels)

    left, right, top_px, row = 190, 70, 34, 24
    height = top_px + row * len(labels) + 44
    plot_w = width - left - right
    desc = "Horizontal bars: " + ", ".join(
        f"{_clean(label)} {format_value(values[label], unit)}" for label in labels
    )
    parts = _svg_open(title, desc + ".", width, height, "bars")
    for i, label in enumerate(labels):
        y = top_px + i * row
        value = values[label]
        w = value / x_max * plot_w
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{_text(_short(label))}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.4f}" height="{row - 6}" fill="{colours[label]}" '
            f'data-label="{_text(label)}" data-value="{_num(value)}">'
            f"<title>{_text(f'{_clean(label)}: {format_value(value, unit)}')}</title></rect>"
            f'<text x="{left + w + 6:.2f}" y="{y + 15}" class="value">'
            f"{_text(format_value(value, unit))}</text>"
        )
    base = top_px + row * len(labels)
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="#6b7380"/>')
    for tick in _ticks(x_max, unit):
        x = left + tick / x_max * plot_w
        parts.append(
            f'<text x="{x:.2f}" y="{base + 15}" text-anchor="middle" class="tick">'
            f"{_text(format_value(tick, unit))}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:g}" y="{base + 34}" text-anchor="middle" class="axis-title">'
        f"{_text(x_title)}</text></svg>"
    )
    return "".join(parts)
