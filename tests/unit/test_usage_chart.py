"""The activity chart's SVG: well-formed, one stacked bar a day in proportion, a legend
naming each code, words for screen readers, and nothing a strict page would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from keyseal.domain.activity import DayUsage
from keyseal.http.usage_chart import render_usage_chart, usage_summary

SVG = "{http://www.w3.org/2000/svg}"
LAST = date(2026, 11, 21)


def _series() -> list[DayUsage]:
    days = [DayUsage(LAST - timedelta(days=29 - i)) for i in range(30)]
    days[-1] = DayUsage(LAST, 40, {"50113": 8, "50105": 2})
    days[-3] = DayUsage(LAST - timedelta(days=2), 20)
    return days


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_it_parses_and_says_what_it_shows() -> None:
    root = _parse(render_usage_chart(_series(), label="tradebot <live>"))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert title.text == "Requests per day for tradebot <live>, last 30 days"  # escaped, parsed back
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text == usage_summary(_series())
    assert desc.text is not None and desc.text.startswith(
        "70 requests in the 30 days from 2026-10-23 to 2026-11-21: 60 let through, 10 refused")
    assert "8 with code 50113, Invalid Sign" in desc.text
    assert "Busiest day: 2026-11-21, 50 requests." in desc.text


def test_one_bar_a_day_stacked_in_proportion() -> None:
    root = _parse(render_usage_chart(_series()))
    bars = root.findall(f".//{SVG}g[@class='bar']")
    assert len(bars) == 30
    assert [b.get("data-day") for b in bars][-1] == "2026-11-21"
    last = {s.get("data-code"): s for s in bars[-1].findall(f"{SVG}rect[@class='segment']")}
    assert set(last) == {"0", "50105", "50113"}
    heights = {code: float(s.get("height", 0)) for code, s in last.items()}
    assert heights["0"] == 5 * heights["50113"] == 20 * heights["50105"]
    # stacked: each segment sits on the one below it, let-through at the bottom
    tops = sorted((float(s.get("y", 0)), code) for code, s in last.items())
    assert [code for _, code in tops] == ["50113", "50105", "0"]
    assert abs(float(last["50113"].get("y", 0)) + heights["50113"]
               - float(last["50105"].get("y", 0))) < 0.2
    assert all(not b.findall(f"{SVG}rect[@class='segment']") for b in bars[:-3])
    tooltip = bars[-1].find(f"{SVG}title")
    assert tooltip is not None and tooltip.text == (
        "2026-11-21: 50 requests, 40 let through, 2 refused with 50105, 8 refused with 50113")
    zero_tip = bars[0].find(f"{SVG}title")
    assert zero_tip is not None and zero_tip.text == "2026-10-23: 0 requests"


def test_the_legend_names_each_code_with_its_bar_colour() -> None:
    root = _parse(render_usage_chart(_series()))
    entries = root.findall(f".//{SVG}g[@class='legend-entry']")
    assert [e.get("data-code") for e in entries] == ["0", "50105", "50113"]
    texts = ["".join(e.itertext()) for e in entries]
    assert texts == ["Let through (code 0)", 'Refused: 50105 Request header "OK-ACCESS-PASSPHRASE" incorrect',
                     "Refused: 50113 Invalid Sign"]
    swatches = [e.find(f"{SVG}rect") for e in entries]
    fills = [s.get("fill") if s is not None else None for s in swatches]
    assert len(set(fills)) == 3  # a colour each
    for code, fill in zip(("0", "50105", "50113"), fills, strict=True):
        segment = root.find(f".//{SVG}rect[@data-code='{code}']")
        assert segment is not None and segment.get("fill") == fill


def test_no_script_no_style_no_external_reference() -> None:
    svg = render_usage_chart(_series())
    root = _parse(svg)
    for element in root.iter():
        assert element.tag not in (f"{SVG}script", f"{SVG}style", f"{SVG}image", f"{SVG}a")
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
        assert not any("href" in name for name in element.attrib)
    assert "@import" not in svg and "url(" not in svg


def test_a_quiet_month_and_distinct_ids() -> None:
    quiet = [DayUsage(LAST - timedelta(days=29 - i)) for i in range(30)]
    root = _parse(render_usage_chart(quiet, chart_id="key-1"))
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == (
        "No requests in the 30 days from 2026-10-23 to 2026-11-21.")
    assert len(root.findall(f".//{SVG}g[@class='bar']")) == 30
    assert not root.findall(f".//{SVG}rect[@class='segment']")
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert ids == {"key-1", "key-1-title", "key-1-desc"}
    assert _parse(render_usage_chart([])).find(f"{SVG}desc") is not None
