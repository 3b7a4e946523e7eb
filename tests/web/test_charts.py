"""The SVG charts: well-formed SVG, values and labels shown, markup in labels escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from seatwise.web.charts import MAX_DOTS, bar_chart, line_chart, lines_chart, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    return ET.fromstring(str(svg))


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_bar_chart_draws_one_bar_per_item_scaled_to_the_largest() -> None:
    root = _parse(bar_chart([("E3", 40), ("E5", 10), ("F3", 0)], title="Seats"))
    bars = list(root.iter(f"{SVG}rect"))
    widths = [float(r.attrib["width"]) for r in bars]
    assert len(bars) == 3
    assert widths[0] == pytest.approx(4 * widths[1]) and widths[2] == 0
    assert {"E3", "E5", "F3", "40", "10", "0"} <= set(_texts(root))
    assert root.find(f"{SVG}title").text == "Seats"  # type: ignore[union-attr]


def test_stacked_bar_chart_stacks_segments_and_writes_the_total() -> None:
    svg = stacked_bar_chart(
        ["Microsoft 365 E3", "Teams"],
        [("Assigned", [30, 5]), ("Unused", [10, 0])],
        title="Purchased vs assigned",
    )
    root = _parse(svg)
    segments = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    tips = [r.find(f"{SVG}title").text for r in segments]  # type: ignore[union-attr]
    assert tips == [
        "Microsoft 365 E3 · Assigned: 30",
        "Microsoft 365 E3 · Unused: 10",
        "Teams · Assigned: 5",
    ]
    first, second = segments[0], segments[1]
    assert float(second.attrib["x"]) == pytest.approx(
        float(first.attrib["x"]) + float(first.attrib["width"])
    )
    texts = _texts(root)
    assert "40" in texts and "5" in texts and "Assigned" in texts and "Unused" in texts


def test_stacked_bar_chart_refuses_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="has 1 values for 2"):
        stacked_bar_chart(["a", "b"], [("s", [1])], title="t")


def test_line_chart_puts_higher_values_higher() -> None:
    root = _parse(line_chart([("2026-11-01", 10), ("2026-11-02", 20)], title="Active users"))
    dots = list(root.iter(f"{SVG}circle"))
    assert len(dots) == 2
    assert float(dots[1].attrib["cy"]) < float(dots[0].attrib["cy"])
    assert float(dots[1].attrib["cx"]) > float(dots[0].attrib["cx"])
    assert "2026-11-01" in _texts(root) and "2026-11-02" in _texts(root)


def test_a_single_point_and_no_points() -> None:
    one = _parse(line_chart([("2026-11-20", 5)], title="t", unit="GB"))
    assert not list(one.iter(f"{SVG}circle")), "one day is a figure, not a lone dot"
    assert "5 GB" in _texts(one) and any("2026-11-20" in t for t in _texts(one))
    assert "No history yet." in _texts(_parse(line_chart([], title="t")))
    assert "Nothing" in _texts(_parse(bar_chart([], title="t", empty="Nothing")))
    assert "No data yet." in _texts(_parse(stacked_bar_chart([], [], title="t")))


def test_lines_chart_draws_one_line_per_series_with_a_legend() -> None:
    root = _parse(
        lines_chart(
            ["2026-11-01", "2026-11-02", "2026-11-03"],
            [("Assigned", [80, 85, 90]), ("Purchased", [100, 100, 120])],
            title="Licences",
        )
    )
    lines = list(root.iter(f"{SVG}polyline"))
    assert [line.attrib["stroke"] for line in lines] == ["#2456c9", "#9bb4ea"]
    tips = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]  # type: ignore[union-attr]
    assert tips == [
        "2026-11-01 · Assigned: 80",
        "2026-11-02 · Assigned: 85",
        "2026-11-03 · Assigned: 90",
        "2026-11-01 · Purchased: 100",
        "2026-11-02 · Purchased: 100",
        "2026-11-03 · Purchased: 120",
    ]
    texts = _texts(root)
    assert {"Assigned", "Purchased", "2026-11-01", "2026-11-03"} <= set(texts)
    dots = {c.find(f"{SVG}title").text: c for c in root.iter(f"{SVG}circle")}  # type: ignore[union-attr]
    # One y scale and one x position per label for both lines.
    assigned = float(dots["2026-11-03 · Assigned: 90"].attrib["cy"])
    purchased = float(dots["2026-11-01 · Purchased: 100"].attrib["cy"])
    same_x = dots["2026-11-01 · Assigned: 80"].attrib["cx"]
    assert purchased < assigned and dots["2026-11-01 · Purchased: 100"].attrib["cx"] == same_x


def test_lines_chart_wants_enough_points_and_matching_series() -> None:
    short = lines_chart(["2026-11-01"], [("a", [1])], title="t", min_points=2, empty="Too few")
    assert _texts(_parse(short)) == ["Too few"]
    assert "No history yet." in _texts(_parse(lines_chart([], [("a", [])], title="t")))
    with pytest.raises(ValueError, match="has 1 values for 2"):
        lines_chart(["a", "b"], [("s", [1])], title="t")


def test_a_single_line_has_no_legend_and_long_histories_no_dots() -> None:
    one = _parse(line_chart([("d1", 1), ("d2", 2)], title="t"))
    assert [c.find(f"{SVG}title").text for c in one.iter(f"{SVG}circle")] == ["d1: 1", "d2: 2"]  # type: ignore[union-attr]
    assert not list(one.iter(f"{SVG}rect"))
    days = [f"day {i}" for i in range(MAX_DOTS + 1)]
    long = _parse(
        lines_chart(days, [("a", [1.0] * len(days)), ("b", [2.0] * len(days))], title="t")
    )
    assert len(list(long.iter(f"{SVG}polyline"))) == 2
    assert not list(long.iter(f"{SVG}circle"))
    assert {"day 0", f"day {MAX_DOTS}"} <= set(_texts(long))


@pytest.mark.parametrize(
    "chart",
    [
        lambda: bar_chart([(EVIL, 1)], title=EVIL),
        lambda: stacked_bar_chart([EVIL], [(EVIL, [1])], title=EVIL),
        lambda: line_chart([(EVIL, 1), (EVIL, 2)], title=EVIL),
        lambda: lines_chart([EVIL, EVIL], [(EVIL, [1, 2]), ("b", [3, 4])], title=EVIL),
    ],
    ids=["bar", "stacked", "line", "lines"],
)
def test_labels_with_markup_are_escaped(chart: object) -> None:
    svg = chart()  # type: ignore[operator]
    text = str(svg)
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;" in text
    root = _parse(svg)  # still well-formed XML
    assert EVIL in _texts(root) or EVIL in [t.text for t in root.iter(f"{SVG}title")]
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))


def test_long_labels_are_cut_but_kept_whole_in_the_tooltip() -> None:
    long = "Dynamics 365 for Customer Service Enterprise Edition and more"
    root = _parse(stacked_bar_chart([long], [("Assigned", [3])], title="t"))
    shown = [t for t in _texts(root) if t.startswith("Dynamics")]
    assert shown and shown[0].endswith("…") and len(shown[0]) < len(long)
    tips = [t.text for t in root.iter(f"{SVG}title")]
    assert f"{long} · Assigned: 3" in tips


def test_text_is_large_enough_and_the_unit_is_written() -> None:
    root = _parse(line_chart([("d1", 1.5), ("d2", 2.0)], title="t", unit="GB"))
    sizes = {int(t.attrib["font-size"]) for t in root.iter(f"{SVG}text")}
    assert min(sizes) >= 14  # ≥ 11 px on screen at 80 % of the chart's width
    assert "GB" in _texts(root)


def test_a_long_legend_wraps_instead_of_being_clipped() -> None:
    names = ["Active ≤ 7 days", "8–30 days", "31–90 days", "Inactive > 90 days", "Never"]
    svg = stacked_bar_chart(["Teams"], [(n, [1.0]) for n in names], title="t", width=400)
    root = _parse(svg)
    width = float(root.attrib["width"])
    legend = [t for t in root.iter(f"{SVG}text") if t.text in names]
    assert len(legend) == len(names)
    for text in legend:  # each name ends inside the chart (about 0.6 em a character)
        assert float(text.attrib["x"]) + 0.6 * 14 * len(text.text or "") <= width
    assert len({text.attrib["y"] for text in legend}) > 1  # on more than one row
