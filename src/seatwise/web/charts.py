"""Server-side SVG charts for the UI pages: small pure functions returning `Markup` (bar chart,
stacked bar chart, line chart with one or several lines). Every label is escaped here, so
callers may pass user data. Imports nothing from the product.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = [
    "MAX_DOTS",
    "PALETTE",
    "TEXT",
    "bar_chart",
    "line_chart",
    "lines_chart",
    "stacked_bar_chart",
]

# Colours of the series, in order (readable on white, distinguishable in greyscale).
PALETTE = ("#2456c9", "#9bb4ea", "#1f7a4d", "#a05a00", "#b42318", "#6b4fbb", "#5b6577")
# Past this many points a line chart draws its lines without a dot (and tooltip) per point:
# two years of days would be thousands of elements for dots too close to point at.
MAX_DOTS = 200
_INK = "#1d2433"
_MUTED = "#5b6577"
_GRID = "#dfe3ea"
# Text sizes in the chart's own units: pages show charts at 80% of their width at the least
# (two cards side by side at 1,024 px), so text stays at 11 px or more on screen.
TEXT = 14
SMALL = 14
_CHAR = 0.6  # about the width of one character, in font sizes


def _number(value: float) -> str:
    """A value as a label: whole numbers without decimals, others with at most 1."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _ceiling(value: float) -> float:
    """A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, label: object, anchor: str = "start", size: int = TEXT) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{_INK}" '
        f'text-anchor="{anchor}">{escape(str(label))}</text>'
    )


def _fit(label: str, width: float, size: int = TEXT) -> str:
    """`label` cut with an ellipsis to about `width` units of text (tooltips keep it whole)."""
    room = max(int(width / (_CHAR * size)), 4)
    return label if len(label) <= room else label[: room - 1] + "…"


LEGEND_ROW = 24


def _legend(series: Sequence[str], left: float, y: float, right: float) -> tuple[list[str], int]:
    """A swatch and the name of each series from (`left`, `y`), on as many rows as it takes to
    stay left of `right` (never clipped); the parts and the number of rows."""
    parts = []
    x, rows = left, 1
    for i, name in enumerate(series):
        wide = 34 + _CHAR * TEXT * len(name)
        if x > left and x + wide - 16 > right:
            x, y, rows = left, y + LEGEND_ROW, rows + 1
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 11:.1f}" width="13" height="13" fill="{colour}"/>')
        parts.append(_text(x + 18, y, name))
        x += wide
    return parts, rows


def _empty(title: str, width: int, message: str) -> Markup:
    return _svg(width, 60, title, [_text(width / 2, 35, message, "middle")])


def _figures(
    label: str, series: Sequence[tuple[str, Sequence[float]]], *, title: str, width: int, unit: str
) -> Markup:
    """One day of data: each series' value as a large figure (a lone dot says nothing), with
    the day and a note that the trend starts with the second day."""
    body: list[str] = []
    column = width / len(series)
    for i, (name, values) in enumerate(series):
        x = column * i + column / 2
        figure = f"{_number(values[0])} {unit}".strip()
        body.append(
            f'<text x="{x:.1f}" y="58" font-size="34" font-weight="600" fill="{_INK}" '
            f'text-anchor="middle" class="figure">{escape(figure)}</text>'
        )
        if name:
            body.append(_text(x, 84, name, "middle"))
    note = f"On {label}; the trend is drawn from the second day on."
    body.append(_text(width / 2, 116, _fit(note, width - 20), "middle"))
    return _svg(width, 132, title, body)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    bar_height: int = 24,
    empty: str = "No data yet.",
) -> Markup:
    """Horizontal bars, one per (label, value), with the value at the end of each bar."""
    if not items:
        return _empty(title, width, empty)
    label_w = min(250, 20 + _CHAR * TEXT * max(len(label) for label, _ in items))
    plot_w = width - label_w - 80
    top = max((value for _, value in items), default=0)
    scale = plot_w / top if top > 0 else 0.0
    gap = 8
    height = len(items) * (bar_height + gap) + gap
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_height + gap)
        length = max(value, 0) * scale
        body.append(_text(label_w - 8, y + bar_height * 0.7, _fit(label, label_w - 12), "end"))
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {escape(_number(value))}</title></rect>'
        )
        body.append(_text(label_w + length + 6, y + bar_height * 0.7, _number(value)))
    return _svg(width, height, title, body)


def stacked_bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 560,
    bar_height: int = 24,
    empty: str = "No data yet.",
) -> Markup:
    """Horizontal stacked bars: one bar per category, one segment per (series name, values);
    the total is written at the end of each bar and a legend names the series."""
    if not categories or not series:
        return _empty(title, width, empty)
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)}")
    label_w = min(250, 20 + _CHAR * TEXT * max(len(c) for c in categories))
    plot_w = width - label_w - 80
    totals = [sum(max(v[i], 0) for _, v in series) for i in range(len(categories))]
    top = max(totals, default=0)
    scale = plot_w / top if top > 0 else 0.0
    gap = 8
    body, rows = _legend([name for name, _ in series], 10, 16, width - 4)
    legend_h = 6 + LEGEND_ROW * rows
    height = legend_h + len(categories) * (bar_height + gap) + gap
    for i, category in enumerate(categories):
        y = legend_h + gap + i * (bar_height + gap)
        shown = _fit(category, label_w - 12)
        body.append(_text(label_w - 8, y + bar_height * 0.7, shown, "end"))
        x = float(label_w)
        for s, (name, values) in enumerate(series):
            length = max(values[i], 0) * scale
            if length > 0:
                tip = f"{escape(category)} · {escape(name)}: {escape(_number(values[i]))}"
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{bar_height}" '
                    f'fill="{PALETTE[s % len(PALETTE)]}"><title>{tip}</title></rect>'
                )
            x += length
        body.append(_text(x + 6, y + bar_height * 0.7, _number(totals[i])))
    return _svg(width, height, title, body)


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    height: int = 220,
    empty: str = "No history yet.",
    unit: str = "",
) -> Markup:
    """A line over (x label, value) points in order, with a y axis from 0 and dots; the first
    and last x labels are written under the axis (every label is in the dot's tooltip)."""
    return lines_chart(
        [label for label, _ in points],
        [("", [value for _, value in points])],
        title=title,
        width=width,
        height=height,
        empty=empty,
        unit=unit,
    )


def lines_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 560,
    height: int = 220,
    empty: str = "No history yet.",
    min_points: int = 1,
    unit: str = "",
) -> Markup:
    """Lines over shared x labels, one per (series name, values), on one y axis from 0, with a
    legend when there are several series. Each point has a dot whose tooltip names its label
    (and series); past `MAX_DOTS` points the lines go without dots. The first and last x labels
    are written under the axis; `unit` (e.g. "GB") above the y axis. Fewer than `min_points`
    labels draw `empty` instead; a single label draws each value as a large figure."""
    if not labels or not series or len(labels) < min_points:
        return _empty(title, width, empty)
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)}")
    named = len(series) > 1
    if len(labels) == 1:
        return _figures(labels[0], series, title=title, width=width, unit=unit)
    left, right, top_pad, bottom = 64, 16, 14, 32
    body: list[str] = []
    if named:
        body, rows = _legend([name for name, _ in series], left, 16, width - right)
        top_pad += LEGEND_ROW * rows + 2  # room for the legend
    if unit:
        top_pad += 16  # room for the unit above the axis
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    top = _ceiling(max(max(values) for _, values in series))
    count = len(labels)
    step = plot_w / (count - 1) if count > 1 else 0.0

    def at(i: int, value: float) -> tuple[float, float]:
        x = left + (i * step if count > 1 else plot_w / 2)
        return x, top_pad + plot_h - max(value, 0) / top * plot_h

    for tick in (0.0, top / 2, top):
        y = top_pad + plot_h - tick / top * plot_h
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{_GRID}"/>'
        )
        body.append(_text(left - 6, y + 5, _number(tick), "end", SMALL))
    if unit:
        body.append(_text(4, top_pad - 4, unit, "start", SMALL))
    coords: list[tuple[float, float]] = []
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        coords = [at(i, value) for i, value in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if count > MAX_DOTS:
            continue
        for (x, y), label, value in zip(coords, labels, values, strict=True):
            tip = f"{escape(label)} · {escape(name)}" if named else escape(label)
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{tip}: {escape(_number(value))}</title></circle>"
            )
    base = height - 10
    body.append(_text(coords[0][0], base, labels[0], "start", SMALL))
    if count > 1:
        body.append(_text(coords[-1][0], base, labels[-1], "end", SMALL))
    return _svg(width, height, title, body)
