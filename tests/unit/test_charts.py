"""The portal's SVG charts (llmgw/portal/charts.py), read back as XML: the numbers each bar encodes,
geometry proportional to them, escaping of hostile labels, and the edge cases (nothing, one point,
huge values, many labels)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from llmgw.portal.charts import (
    EMPTY,
    OTHER,
    Point,
    bar_chart,
    format_value,
    nice_ceiling,
    time_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
DAY = 86400.0
T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("data-value") is not None]


def encoded(root: ET.Element) -> dict[tuple[str, float], float]:
    return {
        (r.get("data-label", ""), float(r.get("data-bucket", "nan"))): float(r.get("data-value", "nan"))
        for r in bars(root)
    }


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0, "count", "0"),
        (950, "count", "950"),
        (1000, "count", "1k"),
        (1234, "count", "1.2k"),
        (3_400_000, "count", "3.4M"),
        (5_600_000_000, "count", "5.6G"),
        (2.5, "count", "2.5"),
        (0, "usd", "$0"),
        (0.0123, "usd", "$0.0123"),
        (0.05, "usd", "$0.05"),
        (0.00001, "usd", "<$0.0001"),
        (4.5, "usd", "$4.50"),
        (1234.5, "usd", "$1.2k"),
    ],
)
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (23, 25), (180, 200), (0.03, 0.05), (3_400_000, 5_000_000)],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_time_chart_encodes_every_value_with_proportional_stacked_heights() -> None:
    points = [
        Point(T0, "gpt", 10),
        Point(T0, "claude", 5),
        Point(T0 + DAY, "gpt", 0),
        Point(T0 + DAY, "claude", 7),
        Point(T0 + 2 * DAY, "gpt", 3),
        Point(T0 + 2 * DAY, "claude", 0),
    ]
    root = parse(time_chart("Requests", points, grain="day", y_title="Requests"))
    assert encoded(root) == {
        ("gpt", T0): 10,
        ("claude", T0): 5,
        ("claude", T0 + DAY): 7,
        ("gpt", T0 + 2 * DAY): 3,
    }
    ratios = {float(r.get("height", "0")) / float(r.get("data-value", "1")) for r in bars(root)}
    assert max(ratios) - min(ratios) < 1e-3  # one scale for every bar
    first = [r for r in bars(root) if float(r.get("data-bucket", "0")) == T0]
    ys = sorted((float(r.get("y", "0")), float(r.get("height", "0"))) for r in first)
    assert ys[0][0] + ys[0][1] == pytest.approx(ys[1][0], abs=1e-3)  # stacked: one on top of the other
    all_text = texts(root)
    assert "Requests" in all_text and "Time (UTC, per day)" in all_text  # axis titles
    assert {"0", "5", "10", "15", "20"} <= set(all_text)  # y labels up to the nice ceiling of 15
    assert "2.5" not in all_text
    assert "Nov 01" in all_text and "Nov 03" in all_text
    legend = [g.get("data-label") for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert legend == ["gpt", "claude"]  # largest total first
    assert all(r.find(f"{SVG}title") is not None for r in bars(root))


def test_a_hostile_label_is_escaped_everywhere() -> None:
    evil = '"><script>alert(1)</script><a href="javascript:x">\x00&'
    for svg in (
        time_chart("Requests", [Point(T0, evil, 2)], grain="hour", y_title="Requests"),
        bar_chart("By user", [(evil, 2)], x_title="Requests"),
    ):
        assert "<script" not in svg and "<a " not in svg
        root = parse(svg)  # still well-formed XML
        assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}a"))
        label = bars(root)[0].get("data-label")
        assert label == evil.replace("\x00", "\ufffd")


def test_nothing_in_range_says_so() -> None:
    for svg in (
        time_chart("Requests", [], grain="day", y_title="Requests"),
        time_chart("Requests", [Point(T0, "gpt", 0)], grain="day", y_title="Requests"),
        bar_chart("By model", [("gpt", 0)], x_title="Requests"),
    ):
        root = parse(svg)
        assert root.get("data-empty") == "true" and not bars(root)
        assert EMPTY in texts(root)


@pytest.mark.parametrize(
    ("top", "unit", "ticks"),
    [
        (2, "count", ["0", "1", "2"]),
        (5, "count", ["0", "1", "2", "3", "4", "5"]),
        (10, "count", ["0", "2", "4", "6", "8", "10"]),
        (25, "count", ["0", "5", "10", "15", "20", "25"]),
        (2000, "count", ["0", "500", "1k", "1.5k", "2k"]),
        (0.5, "usd", ["$0", "$0.10", "$0.20", "$0.30", "$0.40", "$0.50"]),
    ],
)
def test_y_axis_ticks_are_round(top: float, unit: str, ticks: list[str]) -> None:
    root = parse(time_chart("T", [Point(T0, "a", top)], grain="day", y_title="Y", unit=unit))  # type: ignore[arg-type]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick y"]
    assert labels == ticks


def test_a_single_point() -> None:
    root = parse(time_chart("Cost", [Point(T0, "gpt", 0.25)], grain="hour", y_title="USD", unit="usd"))
    (bar,) = bars(root)
    assert float(bar.get("data-value", "0")) == 0.25
    assert float(bar.get("height", "0")) == pytest.approx(200 * 0.25 / 0.25)  # the whole plot height
    assert "$0.25" in texts(root) and "Nov 01 00:00" in texts(root)


def test_huge_values_get_short_axis_labels() -> None:
    points = [Point(T0, "gpt", 3_400_000_000), Point(T0 + DAY, "gpt", 1_200_000)]
    root = parse(time_chart("Tokens", points, grain="day", y_title="Tokens"))
    assert {"0", "1G", "2G", "3G", "4G", "5G"} <= set(texts(root))
    assert encoded(root)[("gpt", T0)] == 3_400_000_000


def test_many_labels_fold_into_other() -> None:
    points = [Point(T0, f"model-{i:02}", float(i + 1)) for i in range(12)]
    root = parse(time_chart("Requests", points, grain="day", y_title="Requests", top=5))
    values = encoded(root)
    assert values[(OTHER, T0)] == sum(range(1, 9))  # the 8 smallest
    assert {label for label, _ in values} == {"model-11", "model-10", "model-09", "model-08", OTHER}
    assert sum(values.values()) == sum(range(1, 13))

    chart = parse(
        bar_chart("By model", [(f"m{i}", float(i)) for i in range(1, 13)], x_title="Requests", top=3)
    )
    assert [(r.get("data-label"), float(r.get("data-value", "0"))) for r in bars(chart)] == [
        ("m12", 12),
        ("m11", 11),
        (OTHER, sum(range(1, 11))),
    ]


def test_bar_chart_widths_are_proportional_and_sorted() -> None:
    root = parse(
        bar_chart("Cost by user", [("bob", 1.5), ("ada", 6.0), ("cy", 3.0)], x_title="USD", unit="usd")
    )
    rows = [
        (r.get("data-label"), float(r.get("data-value", "0")), float(r.get("width", "0").removesuffix("%")))
        for r in bars(root)
    ]
    assert [label for label, _, _ in rows] == ["ada", "cy", "bob"]
    scale = {width / value for _, value, width in rows}
    assert max(scale) - min(scale) < 1e-3
    assert {"$6.00", "$1.50", "USD"} <= set(texts(root))


def test_many_hours_get_at_most_eight_time_labels() -> None:
    points = [Point(T0 + h * 3600, "gpt", 1) for h in range(168)]
    root = parse(time_chart("Requests", points, grain="hour", y_title="Requests"))
    time_labels = [
        t for t in root.iter(f"{SVG}text") if "tick" in (t.get("class") or "") and ":" in (t.text or "")
    ]
    assert 1 <= len(time_labels) <= 8
    assert len(bars(root)) == 168
