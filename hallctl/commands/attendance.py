"""`hall attendance …`, `hall staff …` and `hall terminal`: thin skins over hub.attendance and devices.fingerprint.

Heavy imports (paho, pyfingerprint, openpyxl) stay inside the command functions so `hall --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

DEFAULT_DATA = Path("var")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _month(text: str) -> str:
    try:
        date.fromisoformat(text + "-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month YYYY-MM") from None
    return text


def register(subparsers) -> None:
    # ---------------------------------------------------------- hall attendance
    att = subparsers.add_parser("attendance", help="考勤：评估与报表 / attendance: evaluate and report")
    att_sub = att.add_subparsers(dest="attendance_command", metavar="ACTION")
    att.set_defaults(func=lambda a: att.print_help())

    ev = att_sub.add_parser("evaluate", help="按规则评估打卡文件 / evaluate a punches file offline",
                            description="Evaluate punches (and leave) from CSV files with the hall's rules. "
                                        "Prints one object per person per date, sorted by staff then date.")
    ev.add_argument("--punches", type=Path, required=True, help="CSV with header staff,time")
    ev.add_argument("--leave", type=Path, help="CSV with header staff,start,end,kind (请假/公出/调休)")
    ev.add_argument("--staff", type=Path, help="CSV with header staff,name,window (default: the people in the files)")
    ev.add_argument("--from", dest="first", type=_date, help="first date (default: the first punch's date)")
    ev.add_argument("--to", dest="last", type=_date, help="last date (default: the last punch's date)")
    ev.add_argument("--config", type=Path, help="hall.toml (default: the shipped hall)")
    ev.add_argument("--json", action="store_true", help="print JSON (otherwise a short table)")
    ev.set_defaults(func=cmd_evaluate)

    rp = att_sub.add_parser("report", help="月度/双月考勤报表 / monthly or bimonthly report",
                            description="Summarise a month or two months of punches from the hub's database: "
                                        "per person and per window, the ranking, red flag window and service "
                                        "star candidates and the bottom of the ranking.")
    period = rp.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", type=_month, metavar="YYYY-MM", help="one calendar month")
    period.add_argument("--bimonth", type=_month, metavar="YYYY-MM", help="two months starting with this one")
    period.add_argument("--day", type=_date, metavar="YYYY-MM-DD",
                        help="one date, person by person: the four slots with status and time (json only)")
    rp.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data directory holding hub.db (default ./var)")
    rp.add_argument("--config", type=Path, help="hall.toml (default: the shipped hall)")
    rp.add_argument("--leave", type=Path, help="extra leave CSV (staff,start,end,kind) besides the hub's leave table")
    rp.add_argument("--format", choices=("json", "csv", "xlsx"), default="json",
                    help="json (default), csv (people; windows in OUT-windows.csv) or xlsx (with charts)")
    rp.add_argument("--out", type=Path, required=True, help="file to write ('-' for standard output, json/csv only)")
    rp.set_defaults(func=cmd_report)

    lv = att_sub.add_parser("leave", help="导入已批准的请假 / import approved leave into the hub database",
                            description="Add the rows of a leave CSV (staff,start,end,kind) to the hub's leave "
                                        "table, which day closing and the reports apply.")
    lv.add_argument("file", type=Path, help="CSV with header staff,start,end,kind (请假/公出/调休)")
    lv.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data directory holding hub.db (default ./var)")
    lv.add_argument("--config", type=Path, help="hall.toml (default: the shipped hall)")
    lv.set_defaults(func=cmd_leave)

    # ---------------------------------------------------------- hall staff
    st = subparsers.add_parser("staff", help="指纹登记与模板管理 / fingerprint enrolment and templates")
    st_sub = st.add_subparsers(dest="staff_command", metavar="ACTION")
    st.set_defaults(func=lambda a: st.print_help())

    def terminal_options(p, *, many: bool = False):
        p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data directory (default ./var)")
        p.add_argument("--config", type=Path, help="hall.toml (default: the shipped hall)")
        p.add_argument("--port", action="append", default=[], metavar="[DEVICE=]PATH",
                       help="serial port of the terminal's sensor" + (", repeated as DEVICE=PATH" if many else "")
                       + " (default: the port the terminal agent recorded, or the running agent itself)")
        p.add_argument("--password", type=lambda s: int(s, 0), default=0, help="sensor password (default 0)")

    en = st_sub.add_parser("enroll", help="登记指纹（按两次）/ enrol a finger (two scans)")
    en.add_argument("staff", help="staff id from the staff list (e.g. s023)")
    en.add_argument("--terminal", required=True, metavar="DEVICE", help="the terminal to enrol on (e.g. fp-01)")
    en.add_argument("--finger", default="", help="which finger, for the record (e.g. right-index)")
    en.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each scan")
    terminal_options(en)
    en.set_defaults(func=cmd_enroll)

    ls = st_sub.add_parser("list", help="列出已登记指纹 / list enrolled fingers")
    ls.add_argument("--terminal", metavar="DEVICE", help="one terminal (default: every terminal of the hall)")
    ls.add_argument("--json", action="store_true", help="print JSON (otherwise a table)")
    ls.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data directory (default ./var)")
    ls.add_argument("--config", type=Path, help="hall.toml (default: the shipped hall)")
    ls.set_defaults(func=cmd_list)

    rm = st_sub.add_parser("remove", help="删除指纹 / remove a person's fingers")
    rm.add_argument("staff", help="staff id")
    rm.add_argument("--terminal", required=True, metavar="DEVICE", action="append",
                    help="terminal to remove from (repeat, or 'all')")
    terminal_options(rm, many=True)
    rm.set_defaults(func=cmd_remove)

    cp = st_sub.add_parser("copy", help="复制指纹模板到其他考勤机 / copy templates to other terminals",
                           description="Download a person's templates from one terminal, upload them to others "
                                       "and verify each by a match. Reports each terminal's result.")
    cp.add_argument("staff", help="staff id")
    cp.add_argument("--from", dest="source", required=True, metavar="DEVICE",
                    help="the terminal that holds the person's templates")
    cp.add_argument("--to", dest="targets", required=True, action="append", metavar="DEVICE",
                    help="target terminal (repeat, or 'all')")
    terminal_options(cp, many=True)
    cp.set_defaults(func=cmd_copy)

    # ---------------------------------------------------------- hall terminal
    tm = subparsers.add_parser("terminal", help="指纹考勤机程序 / run a fingerprint terminal",
                               description="Wait for a finger, identify it, send the punch to the hub.")
    tm.add_argument("--device", required=True, help="this terminal's device id (e.g. fp-01)")
    tm.add_argument("--port", default="/dev/ttyUSB0", help="the sensor's serial port (default /dev/ttyUSB0)")
    tm.add_argument("--baud", type=int, default=57600, help="serial speed, a multiple of 9600 (default 57600)")
    tm.add_argument("--password", type=lambda s: int(s, 0), default=0, help="sensor password (default 0)")
    tm.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data directory (default ./var)")
    tm.add_argument("--config", type=Path, help="hall.toml (default: the shipped hall)")
    tm.add_argument("--broker-host", help="broker host (default: the hall config)")
    tm.add_argument("--broker-port", type=int, help="broker port (default: the hall config)")
    tm.add_argument("--no-beep", action="store_true", help="stay silent (no terminal bell)")
    tm.set_defaults(func=cmd_terminal)


# ---------------------------------------------------------------- attendance

def _hall(args):
    from hall.settings import load_hall

    return load_hall(getattr(args, "config", None))


def cmd_evaluate(args) -> int:
    from hall.errors import ConfigError
    from hub.attendance.files import CsvError, evaluate_files

    hall = _hall(args)
    try:
        days = evaluate_files(hall, args.punches, leave_path=args.leave, staff_path=args.staff,
                              first=args.first, last=args.last, warn=_say)
    except CsvError as err:
        for problem in err.problems:
            _say(f"hall attendance evaluate: 错误 / error: {problem}")
        return 1
    except ConfigError as err:
        _say(f"hall attendance evaluate: 错误 / error: {err}")
        return 1
    if args.json:
        json.dump([d.to_dict() for d in days], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    for d in days:
        if d.slots is None:
            detail = "休息日 rest" + (f"  加班 overtime {' '.join(t.isoformat() for t in d.overtime)}" if d.overtime else "")
        else:
            detail = "  ".join(f"{n}:{s.status}" + (f"({s.minutes})" if s.minutes else "") for n, s in d.slots.items())
        print(f"{d.staff}\t{d.date}\t{d.status}\t{detail}")
    return 0


def cmd_report(args) -> int:
    from hub.attendance.report import ReportError, build_report, write_report

    hall = _hall(args)
    if args.day:
        return _day_report(hall, args)
    start = args.month or args.bimonth
    months = 1 if args.month else 2
    try:
        report = build_report(hall, args.data, start, months, leave_path=args.leave, progress=_say)
        write_report(report, args.format, args.out)
    except ReportError as err:
        _say(f"hall attendance report: 错误 / error: {err}")
        return 1
    if str(args.out) != "-":
        _say(f"已写入 {args.out} / written {args.out}")
    return 0


def _day_report(hall, args) -> int:
    from hub.attendance.report import ReportError, day_report, write_report

    if args.format != "json" or args.leave:
        _say("hall attendance report: 错误 / error: --day 只输出 JSON / --day writes json only (no --leave)")
        return 2
    try:
        write_report(day_report(hall, args.data, args.day), "json", args.out)
    except ReportError as err:
        _say(f"hall attendance report: 错误 / error: {err}")
        return 1
    return 0


def cmd_leave(args) -> int:
    from hub.attendance.files import CsvError
    from hub.attendance.store import import_leave

    hall = _hall(args)
    try:
        added, strangers = import_leave(hall, args.data, args.file)
    except CsvError as err:
        for problem in err.problems:
            _say(f"hall attendance leave: 错误 / error: {problem}")
        return 1
    if strangers:
        _say(f"警告：以下工号不在人员名单中 / warning: not in the staff list: {', '.join(strangers)}")
    _say(f"已导入 {added} 条请假 / {added} leave rows imported into {args.data / 'hub.db'}")
    return 0


# ---------------------------------------------------------------- staff and terminals

def _ports(items: list[str], terminals) -> dict[str, str]:
    """`--port [DEVICE=]PATH` options → terminal → serial port; a bare PATH only when one terminal is named
    (`terminals()` gives them, asked only then, so an unknown person is reported before an unknown terminal)."""
    from devices.fingerprint.station import StationError

    ports: dict[str, str] = {}
    for item in items:
        if "=" in item:
            device, path = item.split("=", 1)
            ports[device] = path
            continue
        named = terminals()
        if len(named) != 1:
            raise StationError(f"--port {item}: 多台考勤机时请写成 DEVICE=PATH / with several terminals write --port "
                               f"DEVICE=PATH")
        ports[named[0]] = item
    return ports


def _failed(command: str, err: Exception) -> int:
    _say(f"hall staff {command}: 错误 / error: {err}")
    return 1


def cmd_enroll(args) -> int:
    from devices.fingerprint.station import StationError, enroll_finger

    try:
        hall = _hall(args)
        port = _ports(args.port, lambda: [args.terminal]).get(args.terminal)
        answer = enroll_finger(hall, args.data, args.staff, args.terminal, finger=args.finger, timeout=args.timeout,
                               port=port, password=args.password)
    except StationError as err:
        return _failed("enroll", err)
    if not answer["ok"]:
        print(f"登记失败 / enrolment failed on {args.terminal}: {answer['error']}", file=sys.stderr)
        return 3 if answer.get("full") else 1
    return 0


def cmd_list(args) -> int:
    from devices.fingerprint.station import StationError, list_templates

    try:
        rows = list_templates(_hall(args), args.data, [args.terminal] if args.terminal else ["all"])
    except StationError as err:
        return _failed("list", err)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print("考勤机 terminal\t位置 pos\t工号 staff\t姓名 name\t窗口 window\t手指 finger\t登记时间 enrolled")
    for r in rows:
        print(f"{r['terminal']}\t{r['position']}\t{r['staff']}\t{r['name']}\t{r['window'] or ''}\t{r['finger']}\t"
              f"{r['enrolled_at']}")
    print(f"共 {len(rows)} 枚指纹 / {len(rows)} templates")
    return 0


def cmd_remove(args) -> int:
    from devices.fingerprint.station import StationError, remove_templates, terminals

    try:
        hall = _hall(args)
        ports = _ports(args.port, lambda: terminals(hall, args.terminal))
        answers = remove_templates(hall, args.data, args.staff, args.terminal, ports=ports, password=args.password)
    except StationError as err:
        return _failed("remove", err)
    for device, answer in answers.items():
        if answer["ok"]:
            print(f"{device}: 已删除 {len(answer['removed'])} 枚 / removed {answer['removed'] or 'nothing'}")
        else:
            print(f"{device}: 失败 / failed: {answer['error']}")
    return 0 if all(a["ok"] for a in answers.values()) else 1


def cmd_copy(args) -> int:
    from devices.fingerprint.station import StationError, copy_templates, terminals

    try:
        hall = _hall(args)
        ports = _ports(args.port, lambda: terminals(hall, [args.source, *args.targets]))
        answers = copy_templates(hall, args.data, args.staff, args.source, args.targets, ports=ports,
                                 password=args.password)
    except StationError as err:
        return _failed("copy", err)
    source = answers.get(args.source)
    if source is not None and not source["ok"]:
        print(f"{args.source}: 读取模板失败 / could not read the templates: {source['error']}")
        return 1
    for target, answer in answers.items():
        if answer["ok"]:
            detail = ", ".join(f"位置 position {p['position']} 比对分 score {p['score']}"
                               + (" (已存在 already there)" if p["already"] else "") for p in answer["placed"])
            print(f"{target}: 成功 / ok: {detail}")
        else:
            print(f"{target}: 失败 / failed: {answer['error']}")
    return 0 if all(a["ok"] for a in answers.values()) else 1


def cmd_terminal(args) -> int:
    from devices.fingerprint.terminal import run_terminal

    return run_terminal(_hall(args), args.device, args.data, args.port, baud=args.baud, password=args.password,
                        host=args.broker_host, broker_port=args.broker_port, beep=not args.no_beep)
