"""The server-side SVG charts: well-formed, scaled to the largest value, labelled, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from web.charts import Series, bars, cell_bar, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_the_axis_top_is_a_round_number_above_the_largest_value():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 12, 240, 0.3)] == [1, 1, 5, 10, 20, 250, 0.5]


def test_bars_by_hour_one_rect_per_value_heights_in_proportion():
    svg = parse(bars(["09:00", "10:00", "11:00"], [Series("取号", "issued", [10, 5, None]),
                                                   Series("办结", "served", [8, 0, 2], "#1a7f37")],
                     title_zh="按小时", title_en="by hour", chart_id="by-hour"))
    assert svg.get("id") == "by-hour" and svg.get("role") == "img" and "按小时 by hour" in svg.get("aria-label")
    bars_ = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars_) == 5  # a missing value draws no bar; a zero draws a flat one
    heights = {r.find(f"{SVG}title").text: float(r.get("height")) for r in bars_}
    assert heights["09:00 取号 issued: 10"] == 2 * heights["10:00 取号 issued: 5"]
    assert heights["10:00 办结 served: 0"] == 0
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "取号 issued" in texts and "09:00" in texts and "10" in texts  # legend, categories, the axis' top


def test_labels_are_escaped_and_an_empty_chart_still_draws():
    svg = parse(bars(["<b>"], [Series("a&b", "x", [1])], title_zh="<t>", title_en="&"))
    assert any(t.text == "<b>" for t in svg.iter(f"{SVG}text"))
    parse(bars([], [Series("取号", "issued", [])], title_zh="空", title_en="empty"))


def test_a_cell_bar_is_as_long_as_its_share_of_the_column():
    half = str(cell_bar(5, 10))
    assert 'width="50.0"' in half and ">5<" in half
    assert 'width="100.0"' in str(cell_bar(12, 10, label="12 min"))  # never past the cell
    assert "—" in str(cell_bar(None, 10))
