"""A key's requests per day as an inline SVG: one stacked bar a day (let through at the
bottom, then each refusal code), a legend, and words for those who do not see it.

Pure: a series in, markup out. No script, no font to fetch, and no ``<style>`` or
``style=""`` either (only presentation attributes, which a page's Content-Security-Policy
does not block). Screen readers read ``role="img"`` with its ``<title>`` and ``<desc>``
(the same sentence ``usage_summary`` gives, for a caption); each bar has its own
``<title>`` saying that day's figures, which a pointer shows as a tooltip."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from keyseal import errors
from keyseal.domain.activity import DayUsage

WIDTH = 720
PLOT_TOP, PLOT_HEIGHT = 16, 180
PLOT_LEFT, PLOT_RIGHT = 48, 12
LEGEND_ROW = 20
OK_COLOUR = "#0072b2"
#: Okabe and Ito's palette, told apart with every kind of colour blindness (its sky blue,
#: nearest the let-through blue, last), then greys
REFUSAL_COLOURS = ("#d55e00", "#e69f00", "#cc79a7", "#009e73", "#f0e442", "#000000",
                   "#56b4e9", "#666666", "#999999")
TEXT_COLOUR = "#1f2328"
GRID_COLOUR = "#d0d7de"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"


def render_usage_chart(series: Sequence[DayUsage], *, label: str = "this key",
                       chart_id: str = "usage-chart") -> str:
    """The SVG for ``series`` (oldest day first, as ``requests_per_day`` returns it).
    ``label`` names the key in the title (the key's label, or its apiKey); ``chart_id``
    prefixes the element ids, so several charts fit on one page. Every text in it is
    escaped here, so a template may insert the result as it is (``Markup(svg)``)."""
    codes = sorted({code for day in series for code in day.refusals})
    colours = {code: REFUSAL_COLOURS[i % len(REFUSAL_COLOURS)] for i, code in enumerate(codes)}
    peak = max((day.total for day in series), default=0)
    scale = _nice_ceiling(peak)
    legend_rows = 1 + len(codes)
    height = PLOT_TOP + PLOT_HEIGHT + 28 + legend_rows * LEGEND_ROW + 8
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    days = len(series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img" id="{_attr(chart_id)}" '
        f'aria-labelledby="{_attr(title_id)} {_attr(desc_id)}" font-family="{FONT}" '
        f'font-size="12" fill="{TEXT_COLOUR}">',
        f'<title id="{_attr(title_id)}">Requests per day for {escape(label)}, '
        f'last {days} days</title>',
        f'<desc id="{_attr(desc_id)}">{escape(usage_summary(series))}</desc>',
    ]
    parts += _grid(scale)
    parts += _bars(series, scale, colours)
    parts += _day_labels(series)
    parts += _legend(codes, colours, PLOT_TOP + PLOT_HEIGHT + 28)
    parts.append("</svg>")
    return "\n".join(parts)


def usage_summary(series: Sequence[DayUsage]) -> str:
    """The chart in one or two sentences."""
    if not series:
        return "No days to show."
    days = len(series)
    first, last = series[0].day.isoformat(), series[-1].day.isoformat()
    total = sum(day.total for day in series)
    if total == 0:
        return f"No requests in the {days} days from {first} to {last}."
    ok = sum(day.ok for day in series)
    by_code: dict[str, int] = {}
    for day in series:
        for code, n in day.refusals.items():
            by_code[code] = by_code.get(code, 0) + n
    refused = total - ok
    text = (f"{_n(total, 'request')} in the {days} days from {first} to {last}: "
            f"{ok} let through, {refused} refused")
    if by_code:
        text += " (" + ", ".join(f"{n} with code {code}, {_code_name(code)}"
                                 for code, n in sorted(by_code.items())) + ")"
    busiest = max(series, key=lambda day: day.total)
    return text + f". Busiest day: {busiest.day.isoformat()}, {_n(busiest.total, 'request')}."


def _grid(scale: int) -> list[str]:
    parts = []
    right = WIDTH - PLOT_RIGHT
    for fraction in (0, 0.5, 1):
        value = round(scale * fraction)
        y = PLOT_TOP + PLOT_HEIGHT - PLOT_HEIGHT * fraction
        parts.append(f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
                     f'stroke="{GRID_COLOUR}" stroke-width="1" aria-hidden="true"/>')
        parts.append(f'<text x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'aria-hidden="true">{value}</text>')
    return parts


def _bars(series: Sequence[DayUsage], scale: int, colours: dict[str, str]) -> list[str]:
    if not series:
        return []
    slot = (WIDTH - PLOT_LEFT - PLOT_RIGHT) / len(series)
    width = max(slot * 0.7, 1.0)
    bottom = PLOT_TOP + PLOT_HEIGHT
    parts = []
    for i, day in enumerate(series):
        x = PLOT_LEFT + i * slot + (slot - width) / 2
        parts.append(f'<g class="bar" data-day="{day.day.isoformat()}">'
                     f'<title>{escape(_day_text(day))}</title>')
        # an invisible full-height target, so a day without requests has a tooltip too
        parts.append(f'<rect x="{x:.1f}" y="{PLOT_TOP}" width="{width:.1f}" '
                     f'height="{PLOT_HEIGHT}" fill="#000000" fill-opacity="0"/>')
        y = float(bottom)
        stack = [("0", day.ok, OK_COLOUR)] + [(code, n, colours[code])
                                              for code, n in sorted(day.refusals.items())]
        for code, n, colour in stack:
            if n <= 0 or scale <= 0:
                continue
            h = PLOT_HEIGHT * n / scale
            y -= h
            parts.append(f'<rect class="segment" data-code="{code}" data-count="{n}" '
                         f'x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"/>')
        parts.append("</g>")
    return parts


def _day_labels(series: Sequence[DayUsage]) -> list[str]:
    """The first, middle and last days under the axis (thirty labels would not fit)."""
    if not series:
        return []
    slot = (WIDTH - PLOT_LEFT - PLOT_RIGHT) / len(series)
    y = PLOT_TOP + PLOT_HEIGHT + 16
    parts = []
    for i in sorted({0, len(series) // 2, len(series) - 1}):
        x = PLOT_LEFT + (i + 0.5) * slot
        anchor = "start" if i == 0 and len(series) > 1 else \
            "end" if i == len(series) - 1 and len(series) > 1 else "middle"
        if anchor == "start":
            x -= slot / 2
        elif anchor == "end":
            x += slot / 2
        parts.append(f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" aria-hidden="true">'
                     f'{series[i].day.isoformat()}</text>')
    return parts


def _legend(codes: Sequence[str], colours: dict[str, str], top: int) -> list[str]:
    entries = [("0", "Let through (code 0)", OK_COLOUR)] + [
        (code, f"Refused: {code} {_code_name(code)}", colours[code]) for code in codes]
    parts = ['<g class="legend" aria-hidden="true">']
    for row, (code, text, colour) in enumerate(entries):
        y = top + row * LEGEND_ROW
        parts.append(f'<g class="legend-entry" data-code="{code}">'
                     f'<rect x="{PLOT_LEFT}" y="{y}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{PLOT_LEFT + 18}" y="{y + 10}">{escape(text)}</text></g>')
    parts.append("</g>")
    return parts


def _day_text(day: DayUsage) -> str:
    text = f"{day.day.isoformat()}: {_n(day.total, 'request')}"
    if day.total:
        text += f", {day.ok} let through"
        text += "".join(f", {n} refused with {code}" for code, n in sorted(day.refusals.items()))
    return text


def _nice_ceiling(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value`` (0 stays 0)."""
    if value <= 0:
        return 0
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


_NAMES: dict[str, str] = {}
for _error in vars(errors).values():
    if isinstance(_error, errors.ErrorCode):
        _NAMES.setdefault(_error.code, _error.message)


def _code_name(code: str) -> str:
    """The catalogue's words for a code, short enough for a legend line."""
    name = _NAMES.get(code, "")
    name = name.replace("{0}", "…").replace("{1}", "…").rstrip(".")
    return name if len(name) <= 60 else name[:59] + "…"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _attr(value: str) -> str:
    return escape(value, quote=True)
