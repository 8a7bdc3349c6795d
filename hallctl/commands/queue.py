"""`hall queue simulate|report` and `hall window`: thin skins over hub.queue and devices.window_caller."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hallctl.commands import add_hall_args, hall_and_data


def register(sub: argparse._SubParsersAction) -> None:
    queue = sub.add_parser("queue", help="排队叫号: simulate a scripted day, report a day · queue engine and reports")
    qsub = queue.add_subparsers(dest="queue_command", metavar="SUBCOMMAND")
    queue.set_defaults(func=lambda args: queue.print_help() or 0)

    sim = qsub.add_parser("simulate", help="模拟一天 · run a scripted day (JSON) through the queue engine")
    sim.add_argument("file", type=Path, help="scenario JSON: date, optional hall, steps")
    sim.add_argument("--config", metavar="FILE", default=None,
                     help="hall.toml used when the scenario has no hall (default: the shipped hall)")
    sim.add_argument("--json", action="store_true", help="print the outcome as JSON")
    sim.set_defaults(func=cmd_simulate)

    rep = qsub.add_parser("report", help="日报 · one day's queues, windows and totals from the hub database")
    rep.add_argument("--date", required=True, help="YYYY-MM-DD (the hall's local date), today or yesterday")
    add_hall_args(rep)
    fmt = rep.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON")
    fmt.add_argument("--csv", action="store_true", help="CSV: one row per queue, per window and the total")
    fmt.add_argument("--xlsx", metavar="FILE", type=Path,
                     help="Excel workbook into FILE: the totals, queues, windows (with a chart) and staff")
    rep.set_defaults(func=cmd_report)

    win = sub.add_parser("window", help="窗口叫号终端 · the keyboard window caller for a clerk's PC")
    win.add_argument("--window", required=True, help="window id, e.g. 3")
    win.add_argument("--device", default=None, help="device id (default: the window device that lists the window)")
    add_hall_args(win)
    win.add_argument("--port", type=int, default=None, help="broker port (default: the running hall's)")
    win.add_argument("--host", default=None, help="broker host (default: the running hall's)")
    win.set_defaults(func=cmd_window)


def cmd_simulate(args) -> int:
    from hallctl.commands import simulate_scenario
    from hub.queue import scenario

    def line(n, step, entry) -> str:
        what = step.queue or step.window or step.ticket or ""
        if not entry["ok"]:
            return f"{n:4} {step.at} {step.op:<9} {what:<5} 拒绝 refused: {entry['code']}"
        detail = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("op", "ok"))
        return f"{n:4} {step.at} {step.op:<9} {what:<5} 成功 ok  {detail}"

    return simulate_scenario(args, scenario, line)


def cmd_report(args) -> int:
    from datetime import date, timedelta

    from hall.clock import now
    from hub.queue.report import day_report, report_csv, report_text, write_xlsx

    hall, data = hall_and_data(args)
    if args.date in ("today", "yesterday"):
        day = now(hall.tz).date() - timedelta(days=args.date == "yesterday")
    else:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            print(f"hall queue report: --date {args.date!r}: 日期格式应为 YYYY-MM-DD · expected YYYY-MM-DD, "
                  "today or yesterday", file=sys.stderr)
            return 2
    db_path = data / "hub.db"
    if not db_path.exists():
        print(f"hall queue report: {db_path}: 没有中心数据库 · no hub database here", file=sys.stderr)
        return 2
    report = day_report(db_path, day, hall)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    elif args.csv:
        sys.stdout.write(report_csv(report))
    elif args.xlsx:
        write_xlsx(report, args.xlsx)
        print(f"已写入 {args.xlsx} · written {args.xlsx}", file=sys.stderr)
    else:
        sys.stdout.write(report_text(report))
    return 0


def cmd_window(args) -> int:
    from devices.window_caller import run_window_caller

    hall, data = hall_and_data(args)
    return run_window_caller(hall, window=args.window, device=args.device, data_dir=data, port=args.port,
                             host=args.host)
