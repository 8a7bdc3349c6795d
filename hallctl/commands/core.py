"""Core commands: `hall config check`, `hall stats`, `hall up`, `hall docs screenshots`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hallctl.commands import add_hall_args, hall_and_data

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def register(sub) -> None:
    p = sub.add_parser("config", help="check a hall config")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = csub.add_parser("check", help="validate hall.toml with its catalogue and staff files")
    c.add_argument("file", nargs="?", help="hall.toml (default: the shipped one)")
    c.set_defaults(func=cmd_config_check)

    p = sub.add_parser("stats", help="events stored per type and device, rejected messages, devices last seen, "
                                     "hall up's children")
    add_hall_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("up", help="run a whole hall on this machine: broker, hub, simulated devices, screens")
    add_hall_args(p)
    p.add_argument("--headless", action="store_true", help="no kiosk or board windows even when a screen exists")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long and print a summary")
    p.add_argument("--port", type=int, help="broker port (default: a free one, printed)")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated minutes per real minute for the hall's day (default 60)")
    p.add_argument("--insecure", action="store_true", help="no broker logins or ACL (for trying things out)")
    p.add_argument("--real-hours", action="store_true",
                   help="issue tickets only in the configured issuing hours (default: at any hour, for a demo)")
    p.add_argument("--manual-windows", metavar="1-4",
                   help="windows left to people, e.g. 1-4 or 1,3: no simulated clerk works them (default: the first)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("docs", help="文档 · make what the docs show")
    dsub = p.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    d = dsub.add_parser("screenshots", help="render the screenshots of docs/ again (kiosk, board, ticket, console, "
                                            "citizens' site, the year, the central console)")
    d.add_argument("names", nargs="*", metavar="NAME",
                   help="only these pictures, e.g. year-2016.png (default: every one the docs show)")
    d.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="where the PNG files go (default: docs/screenshots of this checkout, to be checked in)")
    d.set_defaults(func=cmd_docs_screenshots)


def cmd_config_check(args) -> int:
    from hall.settings import load_hall

    hall = load_hall(args.file)
    c = hall.catalogue
    print(f"ok: {hall.path}: hall {hall.id!r} ({hall.info.name}), {len(c.windows)} windows, "
          f"{len(c.departments)} departments, {len(c.queues)} queues, {len(c.services)} service items, "
          f"{len(hall.staff)} staff, {len(hall.devices)} devices")
    return 0


def cmd_stats(args) -> int:
    from hallctl.up import children_lines, read_record
    from hub.store import open_db, stats

    _, data = hall_and_data(args)
    db_path = data / "hub.db"
    if not db_path.exists():
        print(f"hall stats: no hub database at {db_path}", file=sys.stderr)
        return 1
    s = stats(open_db(db_path))
    # the children of the last `hall up` on this data folder: every death and restart, while it runs and after
    s["hall_up"] = read_record(data)
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=2))
        return 0
    print(f"事件 events stored: {s['events']}    拒收 rejected: {s['rejected']}"
          + (f" (+{s['rejected_dropped']} 超出配额仅计数 only counted, past a device's hourly quota)"
             if s.get("rejected_dropped") else ""))
    print("按类型 by type:")
    for k, v in s["by_type"].items():
        print(f"  {k:<16}{v:>8}")
    print("按设备 by device:")
    for k, v in s["by_device"].items():
        print(f"  {k:<16}{v:>8}")
    if s["rejected_by_code"]:
        print("拒收原因 rejected by code:")
        for k, v in s["rejected_by_code"].items():
            print(f"  {k:<16}{v:>8}")
    print("设备 devices (last seen):")
    for d in s["devices"]:
        skew = " clock off!" if d["skew_flagged"] else ""
        print(f"  {d['id']:<12}{d['kind'] or '':<10}{d['status'] or '-':<9}{d['last_seen'] or '-'}{skew}")
    up = s["hall_up"]
    if up:
        ran = f"{up['started_at']} – {up['stopped_at'] or '运行中 running'}"
        head, *events = children_lines(up)
        print(f"hall up {ran}: {head}")
        for line in events:
            print(line)
    return 0


def cmd_up(args) -> int:
    from hallctl.up import run_up

    hall, data = hall_and_data(args)
    return run_up(hall, data, port=args.port, duration=args.duration, headless=args.headless,
                  speed=args.speed, secure=not args.insecure, real_hours=args.real_hours,
                  manual_windows=args.manual_windows)


def cmd_docs_screenshots(args) -> int:
    # the screenshots in docs/ are made on purpose by this command and checked in, never by a test run; imported
    # here so that the rest of `hall` works wherever Kivy cannot open a window
    from hallctl import screenshots

    try:
        screenshots.make(args.out or DOCS_SCREENSHOTS, names=args.names or None)
    except ValueError as err:  # a name no scene draws
        print(f"hall docs screenshots: {err}", file=sys.stderr)
        return 2
    return 0
