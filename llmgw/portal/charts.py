"""Charts as SVG, for the portal's usage pages: pure functions, numbers in, one `<svg>` string out.

Two shapes: `time_chart` (stacked bars over time buckets, one series per label, a legend) and
`bar_chart` (horizontal bars, a breakdown). Both are readable without JavaScript and without the
stylesheet: a `<title>` and `<desc>` (role="img"), axis titles, value labels, and a `<title>`
tooltip on every bar. Every bar also carries its numbers in `data-label`, `data-bucket` (time
charts) and `data-value`, and its geometry is proportional to that value, so tests check what a
chart says by reading it. Labels are user and model names: every one is escaped, control
characters replaced (XML cannot carry them), long ones shortened on screen (never in `data-label`).

Charts fit any width at a readable size: an `<svg>` 100% wide with no viewBox, its horizontal
geometry in percentages of that width and its vertical geometry and its text in pixels, so a phone
gets the same 11-12 px text as a desktop (a viewBox would scale the text with the width: 5 px on a
phone). The value axis's gutter is a percentage wide enough for its labels on a phone; two in three
time labels are `minor`, which the stylesheet hides on a narrow screen.
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
_LEGEND_CHARS = 20  # two legend columns side by side on a phone
# The value axis's labels sit in a left gutter, in percent of the width (the rest of the geometry
# is): wide enough for the longest label on a phone (about 340 px of chart, 6.5 px per character).
_PHONE_PX, _CHAR_PX = 340, 6.5


def _gutter(tick_texts: Sequence[str]) -> float:
    """The left gutter, in percent of the chart's width, that holds these axis labels on a phone."""
    widest = max(len(t) for t in tick_texts) * _CHAR_PX + 10
    return min(16.0, max(5.0, widest / _PHONE_PX * 100))


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


def _short(label: str, most: int = _LABEL_CHARS) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


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


def _svg_open(title: str, desc: str, height: int, kind: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{kind}" role="img" '
        f'width="100%" height="{height}" {_FONT}>',
        f"<title>{_text(title)}</title>",
        f"<desc>{_text(desc)}</desc>",
        f'<text x="50%" y="18" text-anchor="middle" font-size="14" font-weight="600">{_text(title)}</text>',
    ]


def _pct(value: float) -> str:
    """A horizontal position or width, in percent of the chart's width."""
    return f"{value:.4f}".rstrip("0").rstrip(".") + "%"


def _anchor_at(x: float) -> str:
    """A label at `x` percent kept inside the chart: from its start near the left edge, its end near
    the right one, else centred."""
    return "start" if x < 6 else "end" if x > 94 else "middle"


def _empty(title: str, kind: str) -> str:
    height = 90
    parts = _svg_open(title, EMPTY, height, kind)
    parts[0] = parts[0].replace("<svg ", '<svg data-empty="true" ', 1)
    parts.append(f'<text x="50%" y="56" text-anchor="middle" fill="#6b7380">{_text(EMPTY)}</text></svg>')
    return "".join(parts)


def time_chart(
    title: str,
    points: Sequence[Point],
    *,
    grain: Grain,
    y_title: str,
    unit: Unit = "count",
    top: int = 8,
) -> str:
    """Stacked bars, one per time bucket, one colour per label (the `top` - 1 largest labels by
    total; the rest summed as "other"). Buckets are the points' own (zero-filled by the caller);
    a zero value draws no bar. No value above zero at all: a chart that says `EMPTY`."""
    if not any(p.value > 0 for p in points):
        return _empty(title, "time")
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

    top_px, plot_h = 56, 200
    legend_rows = math.ceil(len(labels) / 2)
    height = top_px + plot_h + 52 + 20 * legend_rows
    base = top_px + plot_h
    ticks = _ticks(y_max, unit)
    tick_texts = [format_value(tick, unit) for tick in ticks]
    left = _gutter(tick_texts)
    slot = (100 - left) / len(buckets)  # percent of the width per bucket
    bar_w = slot * 0.8
    first, last = _bucket_title(buckets[0], grain), _bucket_title(buckets[-1], grain)
    summary = ", ".join(f"{_clean(label)} {format_value(_total(label, stacks), unit)}" for label in labels)
    desc = f"Stacked bars by {grain}, {first} to {last}. Totals: {summary}."
    parts = _svg_open(title, desc, height, "time")
    parts.append(f'<text x="0" y="36" class="axis-title">{_text(y_title)}</text>')

    for tick, text in zip(ticks, tick_texts, strict=True):  # y axis: grid line and value label per tick
        y = base - tick / y_max * plot_h
        parts.append(f'<line x1="{_pct(left)}" x2="100%" y1="{y:.2f}" y2="{y:.2f}" stroke="#dde1e7"/>')
        parts.append(
            f'<text x="{_pct(left)}" dx="-5" y="{y + 4:.2f}" text-anchor="end" class="tick y">'
            f"{_text(text)}</text>"
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
                f'<rect x="{_pct(x)}" y="{y:.4f}" width="{_pct(bar_w)}" height="{h:.4f}" '
                f'fill="{colours[label]}" data-label="{_text(label)}" data-bucket="{_num(bucket)}" '
                f'data-value="{_num(value)}"><title>{_text(tip)}</title></rect>'
            )
        if i % every == 0:
            # The first label starts at its bar (it is the longest: it carries the date), one near
            # the right edge ends at its bar, the others are centred on theirs.
            at, anchor = x + bar_w / 2, "middle"
            if i == 0:
                at, anchor = x, "start"
            elif at > 94:
                at, anchor = x + bar_w, "end"
            kind = "tick minor" if (i // every) % 3 else "tick"  # a phone shows every third
            parts.append(
                f'<text x="{_pct(at)}" y="{base + 16}" text-anchor="{anchor}" class="{kind}">'
                f"{_text(_bucket_text(bucket, grain, i == 0))}</text>"
            )
    parts.append(f'<line x1="{_pct(left)}" x2="100%" y1="{base}" y2="{base}" stroke="#6b7380"/>')
    parts.append(
        f'<text x="{_pct(left + (100 - left) / 2)}" y="{base + 36}" text-anchor="middle" class="axis-title">'
        f"Time (UTC, per {grain})</text>"
    )
    for i, label in enumerate(labels):  # legend, two to a row
        lx = _pct(50 * (i % 2))
        ly = base + 56 + (i // 2) * 20
        parts.append(
            f'<g class="legend" data-label="{_text(label)}"><title>{_text(label)}</title>'
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{colours[label]}"/>'
            f'<text x="{lx}" dx="18" y="{ly}">{_text(_short(label, _LEGEND_CHARS))}</text></g>'
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
) -> str:
    """Horizontal bars, largest first: the `top` - 1 largest labels and the rest summed as
    "other". Nothing above zero: a chart that says `EMPTY`."""
    totals: dict[str, float] = {}
    for label, value in items:
        totals[label] = totals.get(label, 0.0) + value
    if not any(v > 0 for v in totals.values()):
        return _empty(title, "bars")
    labels = _top_labels(totals, top)
    kept = set(labels)
    values = {label: 0.0 for label in labels}
    for label, value in totals.items():
        values[label if label in kept else OTHER] += value
    x_max = nice_ceiling(max(values.values()))
    colours = _colours(labels)

    # A row per label: its name, and under it the bar with its value at its end; the bars take the
    # full width (85% for the largest, the rest for its value), so they keep their length on a phone.
    top_px, row, reach = 34, 36, 85.0
    height = top_px + row * len(labels) + 44
    desc = "Horizontal bars: " + ", ".join(
        f"{_clean(label)} {format_value(values[label], unit)}" for label in labels
    )
    parts = _svg_open(title, desc + ".", height, "bars")
    for i, label in enumerate(labels):
        y = top_px + i * row
        value = values[label]
        w = value / x_max * reach
        parts.append(
            f'<text x="0" y="{y + 13}">{_text(_short(label))}</text>'
            f'<rect x="0" y="{y + 18}" width="{_pct(w)}" height="14" fill="{colours[label]}" '
            f'data-label="{_text(label)}" data-value="{_num(value)}">'
            f"<title>{_text(f'{_clean(label)}: {format_value(value, unit)}')}</title></rect>"
            f'<text x="{_pct(w)}" dx="6" y="{y + 29}" class="value">{_text(format_value(value, unit))}</text>'
        )
    base = top_px + row * len(labels)
    parts.append(f'<line x1="0" x2="{_pct(reach)}" y1="{base}" y2="{base}" stroke="#6b7380"/>')
    for tick in _ticks(x_max, unit):
        x = tick / x_max * reach
        parts.append(
            f'<text x="{_pct(x)}" y="{base + 15}" text-anchor="{_anchor_at(x)}" class="tick">'
            f"{_text(format_value(tick, unit))}</text>"
        )
    parts.append(
        f'<text x="{_pct(reach / 2)}" y="{base + 34}" text-anchor="middle" class="axis-title">'
        f"{_text(x_title)}</text></svg>"
    )
    return "".join(parts)
