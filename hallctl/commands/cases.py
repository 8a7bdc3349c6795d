"""`hall cases simulate|report`: thin skins over hub.cases (the rules, the scenario runner and the report)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hallctl.commands import add_hall_args, hall_and_data


def register(sub: argparse._SubParsersAction) -> None:
    cases = sub.add_parser("cases", help="办件与电子监察: simulate case deadlines, report cases · cases and deadlines")
    csub = cases.add_subparsers(dest="cases_command", metavar="SUBCOMMAND")
    cases.set_defaults(func=lambda args: cases.print_help() or 0)

    sim = csub.add_parser("simulate", help="模拟办件 · run a script of case operations through the rules")
    sim.add_argument("file", type=Path, help='scenario JSON: {"steps": [{"at", "op", "case", ...}]}')
    sim.add_argument("--config", metavar="FILE", default=None,
                     help="hall.toml whose calendar and closing time are used (default: the shipped hall)")
    sim.add_argument("--json", action="store_true", help="print the results as JSON")
    sim.set_defaults(func=cmd_simulate)

    rep = csub.add_parser("report", help="办件报表 · cases accepted in a period: on time, late, cards, compression")
    rep.add_argument("--from", dest="start", required=True, metavar="D", help="first date, YYYY-MM-DD")
    rep.add_argument("--to", dest="end", required=True, metavar="D", help="last date, YYYY-MM-DD (included)")
    rep.add_argument("--format", choices=("text", "json", "xlsx"), default="text", help="text (default), json or xlsx")
    rep.add_argument("--out", metavar="FILE", default=None,
                     help="where to write (xlsx: required; json and text: default standard output)")
    add_hall_args(rep)
    rep.set_defaults(func=cmd_report)


def cmd_simulate(args) -> int:
    from hallctl.commands import simulate_scenario
    from hub.cases import scenario

    def line(n, step, entry) -> str:
        verdict = "成功 ok     " if entry["ok"] else "拒绝 refused"
        on_time = {True: "按时 on time", False: "超期 late", None: ""}[entry["on_time"]]
        return (f"{n:4} {step.at.isoformat()} {step.op:<8} {step.case:<14} {verdict} {entry['status'] or '-':<9} "
                f"期限 deadline {entry['deadline'] or '-':<10} {entry['card'] or '-':<6} {on_time}")

    return simulate_scenario(args, scenario, line)


def cmd_report(args) -> int:
    from datetime import date

    from hall.clock import now
    from hub.cases.report import cases_report, report_text, write_xlsx

    hall, data = hall_and_data(args)
    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError:
        print("hall cases report: --from/--to: 日期格式应为 YYYY-MM-DD · expected YYYY-MM-DD", file=sys.stderr)
        return 2
    if end < start:
        print("hall cases report: --to 早于 --from · --to comes before --from", file=sys.stderr)
        return 2
    if args.format == "xlsx" and not args.out:
        print("hall cases report: --format xlsx 需要 --out FILE · xlsx needs --out FILE", file=sys.stderr)
        return 2
    db_path = data / "hub.db"
    if not db_path.exists():
        print(f"hall cases report: {db_path}: 没有中心数据库 · no hub database here", file=sys.stderr)
        return 2
    report = cases_report(db_path, hall, start, end, now(hall.tz))
    if args.format == "xlsx":
        write_xlsx(report, Path(args.out))
        print(f"已写入 {args.out} · written {args.out}", file=sys.stderr)
        return 0
    text = json.dumps(report, ensure_ascii=False, indent=1) + "\n" if args.format == "json" else report_text(report)
    if args.out and args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
