"""The annual table on paper: text for the terminal, one self-contained HTML page with inline SVG charts
(viewable offline, printable to A4), and an Excel workbook with a sheet per figure holding the rows it counts.

Render only: every figure comes from the table hub/year/rules.py computed.
"""

from __future__ import annotations

import html
from pathlib import Path

from hub.year.report import QUERIES, SOURCES

FIGURE_LABELS = {
    "cases_accepted": ("受理件数", "cases accepted"),
    "cases_finished": ("办结件数", "cases finished"),
    "cases_on_time": ("按时办结", "finished on time"),
    "on_time_rate": ("按时办结率", "on-time rate"),
    "compression": ("审批时限压缩", "time limits compressed"),
    "errors": ("差错件数", "errors"),
    "error_rate": ("差错率", "error rate"),
    "complaints": ("投诉件数", "complaints"),
    "complaint_rate": ("投诉率", "complaint rate"),
    "satisfaction": ("满意率", "satisfaction"),
    "tickets_issued": ("取号", "tickets issued"),
    "tickets_served": ("办结号", "tickets served"),
    "median_wait_min": ("等候中位数（分钟）", "median wait (min)"),
    "p90_wait_min": ("等候90%分位（分钟）", "90th percentile wait (min)"),
    "windows": ("服务窗口", "windows in use"),
    "staff": ("窗口工作人员", "staff at windows"),
    "departments": ("进驻部门", "departments"),
    "services": ("办理事项", "service items in use"),
    "red_flag_windows": ("红旗窗口", "red flag windows"),
    "service_stars": ("服务标兵", "service stars"),
    "allowance_total": ("出勤费合计（元）", "attendance allowance (yuan)"),
}
RATES = {"on_time_rate", "compression", "error_rate", "complaint_rate"}


def _pct(x) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def figure_value(table: dict, key: str) -> str:
    if key in ("red_flag_windows", "service_stars", "allowance_total"):
        return f"{table[key]:,}"
    value = table["totals"][key]
    if key == "satisfaction":
        return f"{_pct(value['rate'])} ({value['ratings']:,} 条评价 ratings)"
    if key in RATES:
        return _pct(value)
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value}"


# ---------------------------------------------------------------- text

def table_text(table: dict) -> str:
    lines = [f"{table['hall']['name']} {table['year']} 年度报表 · {table['hall']['name_en']} annual table {table['year']}",
             ""]
    for key, (zh, en) in FIGURE_LABELS.items():
        lines.append(f"  {zh} {en}: {figure_value(table, key)}")
    lines += ["", "双月讲评 bimonthly reviews:"]
    for r in table["reviews"]:
        lines.append(f"  {r['label']}: 红旗窗口 red flag {', '.join(w['window'] for w in r['red_flag_windows']) or '-'}"
                     f"; 服务标兵 stars {', '.join(p['name'] for p in r['service_stars']) or '-'}"
                     f"; 末位 bottom {', '.join(p['name'] for p in r['bottom']['people']) or '-'}"
                     f"; 出勤费 allowance {r['allowance_total']:,} 元")
    return "\n".join(lines) + "\n"


def review_text(r: dict) -> str:
    lines = [f"{r['hall']['name']} 双月讲评 {r['label']} · bimonthly review", ""]
    lines.append("红旗窗口 red flag windows: " + ("; ".join(
        f"{w['window']} {w['name']} ({w['composite']})" for w in r["red_flag_windows"]) or "-"))
    lines.append("服务标兵 service stars: " + ("; ".join(
        f"{p['name']} {p['staff']} 窗口 {p['window']} ({p['composite']})" for p in r["service_stars"]) or "-"))
    lines.append("末位窗口 bottom windows: " + ("; ".join(
        f"{w['window']} ({w['composite']})" for w in r["bottom"]["windows"]) or "-"))
    lines.append("末位人员 bottom people: " + ("; ".join(
        f"{p['name']} {p['staff']} ({p['composite']})" for p in r["bottom"]["people"]) or "-"))
    lines += ["", "排名 rank  工号 staff  姓名 name   窗口 window  考勤 attendance  好评 good  综合 composite  出勤费 allowance"]
    for p in r["people"]:
        pay = p.get("allowance", {}).get("amount", "-")
        lines.append(f"{p['rank']:>4}  {p['staff']:<8} {p['name']:<6} {p['window'] or '-':>4}  {p['attendance']:>6}  "
                     f"{_pct(p['good_rate']):>8}  {p['composite']:>7}  {pay}")
    lines.append(f"\n出勤费合计 allowance total: {r['allowance_total']:,} 元 ({r['allowance_people']} 人 people)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- SVG charts

def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def bars_by_month(months: list[dict]) -> str:
    """Cases and tickets by month: two bars a month."""
    w, h, left, bottom = 680, 240, 56, 34
    top = max([m["cases"] for m in months] + [m["tickets"] for m in months] + [1])
    step = (w - left - 10) / 12
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="办件与取号 cases and tickets by month">']
    for i in range(5):
        value = top * i / 4
        y = h - bottom - (h - bottom - 16) * i / 4
        out.append(f'<line x1="{left}" x2="{w - 6}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{value:,.0f}</text>')
    for i, m in enumerate(months):
        x = left + i * step + 4
        for j, (key, cls) in enumerate((("cases", "c1"), ("tickets", "c2"))):
            bh = (h - bottom - 16) * m[key] / top
            out.append(f'<rect x="{x + j * (step - 8) / 2:.1f}" y="{h - bottom - bh:.1f}" width="{(step - 8) / 2:.1f}" '
                       f'height="{bh:.1f}" class="{cls}"><title>{m["month"]}月 {key} {m[key]:,}</title></rect>')
        out.append(f'<text x="{x + (step - 8) / 2:.1f}" y="{h - bottom + 16}" class="tick" text-anchor="middle">'
                   f'{m["month"]}月</text>')
    out.append(f'<rect x="{left}" y="{h - 12}" width="10" height="10" class="c1"/><text x="{left + 14}" y="{h - 3}" '
               f'class="tick">办件 cases</text><rect x="{left + 110}" y="{h - 12}" width="10" height="10" class="c2"/>'
               f'<text x="{left + 124}" y="{h - 3}" class="tick">取号 tickets</text></svg>')
    return "".join(out)


def heatmap(waits: dict) -> str:
    """Mean wait by hour of issue (columns) and weekday (rows): in a hall where most people are called at once the
    median is 0 nearly everywhere, the mean shows where the lines form (median and p90 in each cell's title)."""
    hours = waits["hours"]
    if not hours:
        return "<p>没有等候数据 · no waits</p>"
    cell, left, top = 52, 76, 22
    w, h = left + cell * len(hours) + 8, top + 26 * 7 + 30
    values = [v for v in waits["mean_wait_min"].values() if v is not None]
    worst = max(values + [1.0])
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="等候热力图 waits by hour and weekday">']
    for j, hour in enumerate(hours):
        out.append(f'<text x="{left + j * cell + cell / 2}" y="{top - 6}" class="tick" text-anchor="middle">'
                   f'{hour:02d}时</text>')
    for d, name in enumerate(waits["weekdays"]):
        y = top + d * 26
        out.append(f'<text x="{left - 6}" y="{y + 17}" class="tick" text-anchor="end">{_esc(name)}</text>')
        for j, hour in enumerate(hours):
            value = waits["mean_wait_min"].get(f"{d},{hour}")
            median, p90 = waits["median_wait_min"].get(f"{d},{hour}"), waits["p90_wait_min"].get(f"{d},{hour}")
            count = waits["tickets"].get(f"{d},{hour}", 0)
            if value is None:
                out.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="24" class="empty"/>')
                continue
            share = value / worst
            color = f"rgb({255},{int(245 - 160 * share)},{int(220 - 200 * share)})"
            out.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="24" fill="{color}">'
                       f'<title>{_esc(name)} {hour:02d}:00 平均 mean {value}, 中位 median {median}, p90 {p90} min '
                       f'({count} 张 tickets)</title></rect>'
                       f'<text x="{left + j * cell + cell / 2 - 1}" y="{y + 16}" class="cell" text-anchor="middle">'
                       f'{value:.1f}</text>')
    out.append(f'<text x="{left}" y="{h - 6}" class="tick">每格为该时段取号的平均等候（分钟）· each cell: mean wait in '
               f'minutes of the tickets taken in that hour</text></svg>')
    return "".join(out)


def satisfaction_bars(windows: list[dict]) -> str:
    rows = [(w["window"], w["satisfaction"]["rate"], w["satisfaction"]["ratings"]) for w in windows
            if w["satisfaction"]["rate"] is not None]
    if not rows:
        return "<p>没有评价 · no ratings</p>"
    low = min(r for _, r, _ in rows)
    floor = max(0.0, min(0.9, int(low * 20) / 20))
    bar_h, left, w = 14, 70, 680
    h = 24 + bar_h * len(rows) + 20
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="各窗口满意率 satisfaction by window">']
    span = w - left - 70
    for i in range(5):
        value = floor + (1 - floor) * i / 4
        x = left + span * i / 4
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="16" y2="{h - 18}" class="grid"/>'
                   f'<text x="{x:.1f}" y="12" class="tick" text-anchor="middle">{value * 100:.1f}%</text>')
    for i, (window, rate, count) in enumerate(rows):
        y = 20 + i * bar_h
        length = span * (rate - floor) / (1 - floor) if rate > floor else 0
        out.append(f'<text x="{left - 6}" y="{y + 11}" class="tick" text-anchor="end">{_esc(window)}号窗</text>'
                   f'<rect x="{left}" y="{y + 1}" width="{length:.1f}" height="{bar_h - 3}" class="c1">'
                   f'<title>{_esc(window)}号窗口 {rate * 100:.2f}% ({count} 条 ratings)</title></rect>'
                   f'<text x="{left + length + 4:.1f}" y="{y + 11}" class="tick">{rate * 100:.1f}% · {count}</text>')
    out.append(f'<text x="{left}" y="{h - 4}" class="tick">横轴从 {floor * 100:.0f}% 起 · the axis starts at '
               f'{floor * 100:.0f}%</text></svg>')
    return "".join(out)


def ranking_bars(review: dict) -> str:
    """The windows of one review by composite, red flag windows and the bottom marked."""
    windows = review["windows"]
    red = {w["window"] for w in review["red_flag_windows"]}
    bottom = {w["window"] for w in review["bottom"]["windows"]}
    bar_h, left, w = 14, 118, 680
    h = 24 + bar_h * len(windows) + 8
    scores = [x["composite"] for x in windows] or [0]
    floor = max(0.0, int(min(scores) / 5) * 5 - 5)
    span = w - left - 60
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="窗口排名 ranking of windows">']
    out.append(f'<text x="{left}" y="12" class="tick">综合分 composite, 轴从 {floor:.0f} 起 · axis from {floor:.0f}'
               f'</text>')
    for i, row in enumerate(windows):
        y = 20 + i * bar_h
        cls = "red" if row["window"] in red else "low" if row["window"] in bottom else "c2"
        length = span * (row["composite"] - floor) / (100 - floor) if row["composite"] > floor else 0
        mark = " ★红旗" if row["window"] in red else " ▼末位" if row["window"] in bottom else ""
        out.append(f'<text x="{left - 6}" y="{y + 11}" class="tick" text-anchor="end">{row["rank"]}. '
                   f'{_esc(row["window"])}号 {_esc(row["department"])[:4]}</text>'
                   f'<rect x="{left}" y="{y + 1}" width="{length:.1f}" height="{bar_h - 3}" class="{cls}"/>'
                   f'<text x="{left + length + 4:.1f}" y="{y + 11}" class="tick">{row["composite"]}{mark}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- HTML

STYLE = """
@page { size: A4; margin: 12mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", sans-serif;
       margin: 0 auto; max-width: 186mm; color: #1d2733; font-size: 10.5pt; }
h1 { font-size: 17pt; margin: 6mm 0 1mm; } h2 { font-size: 13pt; margin: 6mm 0 2mm; border-bottom: 2px solid #b3261e; }
h3 { font-size: 11pt; margin: 3mm 0 1mm; }
.en { color: #5b6673; font-weight: normal; font-size: 0.85em; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; font-size: 9pt; }
th, td { border: 1px solid #c9d0d8; padding: 2px 5px; text-align: right; }
th { background: #eef1f4; } td.l, th.l { text-align: left; }
.figures td:first-child { text-align: left; } .figures td.v { font-weight: bold; font-size: 11pt; }
svg text.tick { font-size: 10px; fill: #3b4652; } svg text.cell { font-size: 10px; fill: #1d2733; }
svg .grid { stroke: #dde3e9; stroke-width: 1; } svg .c1 { fill: #b3261e; } svg .c2 { fill: #5a7fa6; }
svg .red { fill: #d32f2f; } svg .low { fill: #8a8f96; } svg .empty { fill: #f4f6f8; }
section { break-inside: avoid; page-break-inside: avoid; }
.note { color: #5b6673; font-size: 8.5pt; }
"""


def _table(headers: list[tuple[str, str]], rows: list[list], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{_esc(zh)}<br><span class="en">{_esc(en)}</span></th>'
                   for i, (zh, en) in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{_esc(v)}</td>' for i, v in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page_html(table: dict) -> str:
    """One self-contained page: no script, no link, no font or image fetched."""
    y, hall = table["year"], table["hall"]
    figures = "".join(f'<tr><td>{zh} <span class="en">{en}</span></td><td class="v">{_esc(figure_value(table, k))}</td>'
                      f'<td class="l note">{_esc(", ".join(table["sources"][k]["rows"]) if k in table["sources"] else "")}'
                      f'</td></tr>' for k, (zh, en) in FIGURE_LABELS.items())
    depts = _table([("部门", "department"), ("受理", "accepted"), ("办结", "finished"), ("按时率", "on time"),
                    ("压缩", "compression"), ("取号", "tickets"), ("满意率", "satisfaction"), ("投诉", "complaints")],
                   [[d["name"] or d["department"], f'{d["cases_accepted"]:,}', f'{d["cases_finished"]:,}',
                     _pct(d["on_time_rate"]), _pct(d["compression"]), f'{d["tickets_issued"]:,}',
                     _pct(d["satisfaction"]["rate"]), d["complaints"]] for d in table["departments"]])
    windows = _table([("窗口", "window"), ("部门", "department"), ("办结号", "served"), ("等候中位", "median wait"),
                      ("受理", "cases"), ("按时率", "on time"), ("满意率", "satisfaction"), ("评价", "ratings"),
                      ("差错", "errors"), ("投诉", "complaints")],
                     [[w["name"], w["department"], f'{w["tickets_served"]:,}', w["median_wait_min"] if
                       w["median_wait_min"] is not None else "-", f'{w["cases_accepted"]:,}', _pct(w["on_time_rate"]),
                       _pct(w["satisfaction"]["rate"]), w["satisfaction"]["ratings"], w["errors"], w["complaints"]]
                      for w in table["windows"]], left=2)
    reviews = _table(
        [("讲评", "review"), ("红旗窗口", "red flag windows"), ("服务标兵", "service stars"),
         ("末位窗口", "bottom windows"), ("末位人员", "bottom people"), ("出勤费", "allowance")],
        [[r["label"], "、".join(f'{w["window"]}号' for w in r["red_flag_windows"]) or "-",
          "、".join(p["name"] for p in r["service_stars"]) or "-",
          "、".join(f'{w["window"]}号' for w in r["bottom"]["windows"]) or "-",
          "、".join(p["name"] for p in r["bottom"]["people"]) or "-", f'{r["allowance_total"]:,} 元']
         for r in table["reviews"]], left=5)
    latest = table["reviews"][-1] if table["reviews"] else None
    ranking = ranking_bars(latest) if latest else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{_esc(hall["name"])} {y} 年度报表 · annual table</title>
<style>{STYLE}</style></head><body>
<h1>{_esc(hall["name"])} {y} 年度工作报表 <span class="en">{_esc(hall["name_en"])} — annual table {y}</span></h1>
<p class="note">生成于 {_esc(table["at"])} · made {_esc(table["at"])}。每个数字都来自中心数据库的存储事件，右列为其数据表 ·
every figure is counted from the hub's stored rows; the right column names the table it comes from.</p>
<section><h2>年度总表 <span class="en">the year's figures</span></h2>
<table class="figures"><tbody>{figures}</tbody></table></section>
<section><h2>每月办件与取号 <span class="en">cases and tickets by month</span></h2>{bars_by_month(table["months"])}</section>
<section><h2>等候时间（按星期与时段）<span class="en">waits by hour of day and weekday</span></h2>{heatmap(table["waits"])}
</section>
<section><h2>各窗口满意率 <span class="en">satisfaction by window</span></h2>{satisfaction_bars(table["windows"])}</section>
<section><h2>双月讲评 <span class="en">bimonthly reviews</span></h2>{reviews}
<h3>{_esc(latest["label"]) if latest else ""} 窗口排名 <span class="en">ranking of the windows</span></h3>{ranking}</section>
<section><h2>各部门 <span class="en">by department</span></h2>{depts}</section>
<section><h2>各窗口 <span class="en">by window</span></h2>{windows}</section>
</body></html>
"""


def write_html(table: dict, path: Path | str) -> None:
    Path(path).write_text(page_html(table), encoding="utf-8")


# ---------------------------------------------------------------- Excel

ROW_SHEETS = [
    ("cases", "办件 cases", ["service", "department", "accepted_at", "days", "legal_days", "status", "suspensions",
                            "finished_at", "window", "accepted_by", "result"]),
    ("tickets", "取号 tickets", ["day", "queue", "service", "status", "window", "issued_at", "called_at"]),
    ("ratings", "评价 ratings", ["day", "window", "staff", "score"]),
    ("followups", "整改与投诉 followups", ["id", "kind", "department", "window", "staff", "opened_at"]),
    ("calls", "叫号 calls", ["day", "window", "staff", "outcome"]),
    ("attendance", "考勤 attendance", ["staff", "date", "workday", "status", "slots"]),
    ("leave", "请假 leave", ["staff", "start", "end", "kind"]),
]


def write_xlsx(table: dict, rows, path: Path | str, progress=None) -> None:
    """A sheet of the figures (each naming the sheet of its rows and the query), sheets of months, departments,
    windows and reviews, and a sheet of rows per kind of fact: every figure can be counted again by hand."""
    from openpyxl import Workbook

    say = progress or (lambda text: None)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("总表 figures")
    ws.append([f"{table['hall']['name']} {table['year']} 年度报表 · annual table"])
    ws.append(["指标 figure", "figure", "数值 value", "数据表 rows (sheet)", "计数方法 how counted", "查询 query"])
    for key, (zh, en) in FIGURE_LABELS.items():
        source = table["sources"].get(key, {})
        kinds = source.get("rows", [])
        sheets = ", ".join(next(label for k, label, _ in ROW_SHEETS if k == kind) for kind in kinds)
        value = table[key] if key in ("red_flag_windows", "service_stars", "allowance_total") else \
            table["totals"][key]
        if key == "satisfaction":
            value = value["rate"]
        ws.append([zh, en, value, sheets, source.get("counts", SOURCES.get(key, ("", ""))[1]),
                   " ; ".join(source.get("query", {}).values())])
    ws = wb.create_sheet("月度 months")
    ws.append(["月 month", "办件 cases", "办结 finished", "取号 tickets", "办结号 served", "评价 ratings",
               "满意率 satisfaction"])
    for m in table["months"]:
        ws.append([m["month"], m["cases"], m["cases_finished"], m["tickets"], m["served"], m["ratings"],
                   m["satisfaction"]])
    ws = wb.create_sheet("部门 departments")
    ws.append(["部门 department", "名称 name", "受理 accepted", "办结 finished", "按时 on time", "按时率 on-time rate",
               "压缩 compression", "取号 tickets", "办结号 served", "满意率 satisfaction", "评价 ratings",
               "投诉 complaints"])
    for d in table["departments"]:
        ws.append([d["department"], d["name"], d["cases_accepted"], d["cases_finished"], d["cases_on_time"],
                   d["on_time_rate"], d["compression"], d["tickets_issued"], d["tickets_served"],
                   d["satisfaction"]["rate"], d["satisfaction"]["ratings"], d["complaints"]])
    ws = wb.create_sheet("窗口 windows")
    ws.append(["窗口 window", "名称 name", "部门 department", "办结号 served", "等候中位 median wait", "受理 cases",
               "按时 on time", "按时率 on-time rate", "满意率 satisfaction", "评价 ratings", "差错 errors",
               "投诉 complaints"])
    for w in table["windows"]:
        ws.append([w["window"], w["name"], w["department"], w["tickets_served"], w["median_wait_min"],
                   w["cases_accepted"], w["cases_on_time"], w["on_time_rate"], w["satisfaction"]["rate"],
                   w["satisfaction"]["ratings"], w["errors"], w["complaints"]])
    ws = wb.create_sheet("讲评 reviews")
    ws.append(["讲评 review", "类别 kind", "名次 rank", "窗口或工号 window or staff", "姓名 name", "综合 composite",
               "考勤 attendance", "好评率 good rate", "评价 ratings", "按时 on time", "办结 finished"])
    for r in table["reviews"]:
        for kind, items, key in (("红旗窗口 red flag", r["red_flag_windows"], "window"),
                                 ("服务标兵 star", r["service_stars"], "staff"),
                                 ("末位窗口 bottom window", r["bottom"]["windows"], "window"),
                                 ("末位人员 bottom person", r["bottom"]["people"], "staff")):
            for x in items:
                ws.append([r["label"], kind, x["rank"], x[key], x.get("name"), x["composite"], x.get("attendance"),
                           x.get("good_rate"), x.get("ratings"), x.get("cases_on_time"), x.get("cases_finished")])
    ws = wb.create_sheet("出勤费 allowance")
    ws.append(["讲评 review", "工号 staff", "姓名 name", "窗口 window", "基数 base", "迟到 late", "早退 early",
               "缺卡 missing", "旷工 absent", "请假 leave", "公出 business", "调休 in lieu", "实发 amount"])
    for r in table["reviews"]:
        for p in r["people"]:
            a = p.get("allowance")
            if a:
                d = a["deductions"]
                ws.append([r["label"], p["staff"], p["name"], p["window"], a["base"], d["late"], d["early"],
                           d["missing"], d["absent"], d["leave"], d["business"], d["in_lieu"], a["amount"]])
    for kind, label, columns in ROW_SHEETS:
        ws = wb.create_sheet(label)
        ws.append([f"查询 query: {QUERIES[kind]}"])
        ws.append(columns)
        data = getattr(rows, kind)
        for row in data:
            ws.append(list(row[:len(columns)]))
        say(f"写入 {label}: {len(data)} 行 / wrote {len(data)} rows")
    wb.save(path)
