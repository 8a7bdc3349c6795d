"""`hall report year|bimonth` and `hall simulate year|plan`: thin skins over hub.year (docs/year.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from hallctl.commands import add_hall_args, hall_and_data


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="年度报表与双月讲评 · the annual table and the bimonthly review")
    rsub = report.add_subparsers(dest="report_command", metavar="SUBCOMMAND")
    report.set_defaults(func=lambda args: report.print_help() or 0)

    yr = rsub.add_parser("year", help="年度报表 · the year's cases, tickets, waits, satisfaction, reviews")
    yr.add_argument("--year", type=int, required=True, help="the year, e.g. 2016")
    yr.add_argument("--format", choices=("text", "json", "html", "xlsx"), default="text",
                    help="text (default), json, html (one page with charts, prints to A4) or xlsx (a sheet per figure)")
    yr.add_argument("--out", metavar="FILE", default=None,
                    help="where to write (html and xlsx: default year-Y.html / year-Y.xlsx; json, text: stdout)")
    add_hall_args(yr)
    yr.set_defaults(func=cmd_report_year)

    bm = rsub.add_parser("bimonth", help="双月讲评 · one bimonthly review: ranking, 红旗窗口, 服务标兵, bottom, 出勤费")
    bm.add_argument("--year", type=int, required=True, help="the year, e.g. 2016")
    bm.add_argument("--period", type=int, required=True, help="1 (Jan–Feb) … 6 (Nov–Dec)")
    bm.add_argument("--json", action="store_true", help="JSON instead of text")
    add_hall_args(bm)
    bm.set_defaults(func=cmd_report_bimonth)

    simulate = sub.add_parser("simulate", help="模拟一年与窗口测算 · a simulated year, window planning")
    ssub = simulate.add_subparsers(dest="simulate_command", metavar="SUBCOMMAND")
    simulate.set_defaults(func=lambda args: simulate.print_help() or 0)

    sy = ssub.add_parser("year", help="模拟一年 · write a whole simulated year into an empty data folder")
    sy.add_argument("--year", type=int, required=True, help="e.g. 2016")
    sy.add_argument("--seed", type=int, default=None, help="random seed (default: config/year.toml's)")
    sy.add_argument("--from", dest="start", default=None, metavar="D", help="first date (default: 1 January)")
    sy.add_argument("--to", dest="end", default=None, metavar="D", help="last date (default: 31 December)")
    sy.add_argument("--params", metavar="FILE", default=None, help="simulation parameters (default: config/year.toml)")
    sy.add_argument("--json", action="store_true", help="print the headline figures as JSON")
    add_hall_args(sy)
    sy.set_defaults(func=cmd_simulate_year)

    sp = ssub.add_parser("plan", help="窗口测算 · replay a queue's arrivals with 2..5 windows beside Erlang C")
    sp.add_argument("--queue", required=True, help="queue id, e.g. A")
    sp.add_argument("--windows", default="2..5", help="how many windows: 2..5 (default), 3 or 2,4")
    sp.add_argument("--year", type=int, default=None, help="the arrivals of this year")
    sp.add_argument("--from", dest="start", default=None, metavar="D", help="or from this date …")
    sp.add_argument("--to", dest="end", default=None, metavar="D", help="… to this date")
    sp.add_argument("--chart", metavar="FILE", default=None, help="the chart (SVG; default plan-QUEUE.svg)")
    sp.add_argument("--json", action="store_true", help="JSON instead of text")
    add_hall_args(sp)
    sp.set_defaults(func=cmd_simulate_plan)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _fail(command: str, text: str) -> int:
    print(f"hall {command}: {text}", file=sys.stderr)
    return 2


def _span(args, command: str) -> tuple[date, date] | None:
    try:
        if args.year is not None and not (args.start or args.end):
            return date(args.year, 1, 1), date(args.year, 12, 31)
        first = date.fromisoformat(args.start) if args.start else date(args.year, 1, 1)
        last = date.fromisoformat(args.end) if args.end else date(args.year or first.year, 12, 31)
    except (TypeError, ValueError):
        return None
    return (first, last) if first <= last else None


def cmd_report_year(args) -> int:
    from hub.year.render import table_text, write_html, write_xlsx
    from hub.year.report import YearReportError, year_report

    hall, data = hall_and_data(args)
    try:
        table, rows = year_report(hall, data / "hub.db", args.year, progress=_say)
    except YearReportError as err:
        return _fail("report year", str(err))
    if args.format in ("html", "xlsx"):
        out = Path(args.out or f"year-{args.year}.{args.format}")
        if args.format == "html":
            write_html(table, out)
        else:
            write_xlsx(table, rows, out, progress=_say)
        print(f"已写入 {out} · written {out}")
        return 0
    text = json.dumps(table, ensure_ascii=False, indent=1) + "\n" if args.format == "json" else table_text(table)
    if args.out and args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"已写入 {args.out} · written {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_report_bimonth(args) -> int:
    from hub.year.render import review_text
    from hub.year.report import YearReportError, bimonth_report

    hall, data = hall_and_data(args)
    if not 1 <= args.period <= 6:
        return _fail("report bimonth", "--period 1 到 6 (1 = 1–2月) · 1 to 6 (1 = Jan–Feb)")
    try:
        r = bimonth_report(hall, data / "hub.db", args.year, args.period, progress=_say)
    except YearReportError as err:
        return _fail("report bimonth", str(err))
    sys.stdout.write(json.dumps(r, ensure_ascii=False, indent=1) + "\n" if args.json else review_text(r))
    return 0


def cmd_simulate_year(args) -> int:
    from hall.settings import load_year_simulation
    from hub.year.render import table_text
    from hub.year.report import summary, year_report
    from hub.year.simulate import SimulationError, simulate

    hall, data = hall_and_data(args)
    span = _span(args, "simulate year")
    if span is None:
        return _fail("simulate year", "--from/--to: 日期格式 YYYY-MM-DD，且不早于开始 · dates as YYYY-MM-DD, in order")
    sim = load_year_simulation(args.params, hall)
    started = time.perf_counter()
    try:
        simulate(hall, sim, data, *span, seed=args.seed, progress=_say)
    except SimulationError as err:
        return _fail("simulate year", str(err))
    seconds = time.perf_counter() - started
    table, _ = year_report(hall, data / "hub.db", args.year, progress=_say)
    if args.json:
        print(json.dumps(summary(table, seconds), ensure_ascii=False))
    else:
        sys.stdout.write(table_text(table))
        print(f"用时 {seconds:.1f} 秒 · took {seconds:.1f} s; 数据 data: {data / 'hub.db'}")
    return 0


def cmd_simulate_plan(args) -> int:
    from hub.year.plan import PlanError, chart_svg, parse_counts, plan, plan_text, read_arrivals

    hall, data = hall_and_data(args)
    if hall.catalogue.queue(args.queue) is None:
        return _fail("simulate plan", f"--queue {args.queue!r}: 没有这个队列 · no such queue")
    if args.year is None and not (args.start and args.end):
        return _fail("simulate plan", "--year Y 或 --from D --to D · give --year or --from and --to")
    span = _span(args, "simulate plan")
    if span is None:
        return _fail("simulate plan", "--from/--to: 日期格式 YYYY-MM-DD，且不早于开始 · dates as YYYY-MM-DD, in order")
    try:
        counts = parse_counts(args.windows)
        arrivals = read_arrivals(data / "hub.db", args.queue, *span)
        result = plan(arrivals, counts, [(s.start, s.end) for s in hall.hours.open], progress=_say)
    except PlanError as err:
        return _fail("simulate plan", str(err))
    chart = Path(args.chart or f"plan-{args.queue}.svg")
    chart.write_text(chart_svg(result, args.queue), encoding="utf-8")
    result["chart"] = str(chart)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        sys.stdout.write(plan_text(result, args.queue))
        print(f"图表 chart: {chart}")
    return 0
