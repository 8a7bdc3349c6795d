"""`hall kiosk`, `hall catalogue check|generate`, `hall guide search`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from hallctl.commands import default_data_dir


def register(sub) -> None:
    p = sub.add_parser("kiosk", help="自助取号机 · run the self-service kiosk (Kivy): tickets, guides, search")
    p.add_argument("--device", default="kiosk-01", help="the kiosk's device id in the hall config (default kiosk-01)")
    p.add_argument("--config", metavar="FILE", help="hall.toml (default: the shipped Miluo hall)")
    p.add_argument("--data", metavar="DIR", type=Path, help="data directory (default ./var or $HALL_DATA)")
    p.add_argument("--host", help="broker host (default: what the hall recorded, else the config)")
    p.add_argument("--port", type=int, help="broker port")
    p.add_argument("--password", help="the kiosk's broker password (default: from the data directory)")
    p.add_argument("--tls-ca", metavar="FILE", help="CA certificate to reach the broker over TLS")
    p.add_argument("--printer", metavar="DEVICE", help="serial ESC/POS ticket printer, e.g. /dev/ttyUSB0")
    p.add_argument("--printer-sim", action="store_true",
                   help="print to a simulated printer on a pseudo-terminal (tickets saved as PNG in the data dir)")
    p.add_argument("--baudrate", type=int, default=9600, help="printer baud rate (default 9600)")
    p.add_argument("--fullscreen", action="store_true", help="kiosk mode: full screen, no cursor, escape keys off")
    p.add_argument("--size", default="1080x1920", help="window size when not full screen (default 1080x1920)")
    p.add_argument("--idle", type=float, default=60.0, metavar="SECONDS",
                   help="after this long untouched, ask 还需要更多时间吗？ before going home (default 60)")
    p.add_argument("--idle-guide", type=float, default=180.0, metavar="SECONDS",
                   help="the same on a guide page, where reading takes longer (default 180)")
    p.add_argument("--idle-ask", type=float, default=20.0, metavar="SECONDS",
                   help="how long the question counts down before the kiosk goes home (default 20)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="how long a ticket request waits before the kiosk shows 请稍候 (default 5)")
    p.set_defaults(func=cmd_kiosk)

    p = sub.add_parser("catalogue", help="服务目录 · check or generate a service catalogue")
    csub = p.add_subparsers(dest="catalogue_command", metavar="ACTION", required=True)
    c = csub.add_parser("check", help="validate a catalogue file: structure, references, coverage, guides")
    c.add_argument("file", nargs="?", help="catalogue JSON (default: config/catalogue.json)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=cmd_catalogue_check)
    g = csub.add_parser("generate", help="scale a catalogue up (for benchmarks): real items, then variants")
    g.add_argument("--items", type=int, required=True, help="how many service items (e.g. 411 or 5000)")
    g.add_argument("--out", required=True, metavar="FILE", help="where to write the catalogue JSON")
    g.add_argument("--from", dest="base", metavar="FILE", help="base catalogue (default: config/catalogue.json)")
    g.add_argument("--seed", type=int, default=1, help="seed of the variants (same seed, same catalogue; default 1)")
    g.set_defaults(func=cmd_catalogue_generate)

    p = sub.add_parser("guide", help="办事指南 · search the service guides")
    gsub = p.add_subparsers(dest="guide_command", metavar="ACTION", required=True)
    s = gsub.add_parser("search", help="find service items by Chinese text, pinyin (yingye) or initials (yyzz)")
    s.add_argument("query")
    s.add_argument("--catalogue", metavar="FILE", help="catalogue JSON (default: config/catalogue.json)")
    s.add_argument("--limit", type=int, default=20, help="at most this many results (default 20)")
    s.add_argument("--json", action="store_true", help="print JSON: [{id, name, department, score}, …]")
    s.set_defaults(func=cmd_guide_search)


def _catalogue_path(path: str | None) -> Path:
    from hall.settings import CONFIG_DIR

    return Path(path) if path else CONFIG_DIR / "catalogue.json"


# ---------------------------------------------------------------- catalogue

def cmd_catalogue_check(args) -> int:
    from hall.catalogue import load_catalogue
    from hall.errors import ConfigError

    path = _catalogue_path(args.file)
    try:
        cat = load_catalogue(path)
        errors = cat.gaps()
    except ConfigError as err:
        cat, errors = None, err.problems
    if args.json:
        out = {"file": str(path), "ok": not errors, "errors": errors}
        if cat is not None:
            out.update(departments=len(cat.departments), queues=len(cat.queues), windows=len(cat.windows),
                       services=len(cat.services))
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0 if not errors else 2
    if errors:
        print(f"hall catalogue check: {path}: {len(errors)} problem{'s' if len(errors) != 1 else ''}", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 2
    used = {s.department for s in cat.services}
    print(f"ok: {path}: {len(cat.services)} service items in {len(used)} of {len(cat.departments)} departments, "
          f"{len(cat.queues)} queues, {len(cat.windows)} windows, every window serves and every guide is complete")
    return 0


def cmd_catalogue_generate(args) -> int:
    from hall.catalogue import load_catalogue
    from kiosk.generate import generate

    base = load_catalogue(_catalogue_path(args.base))
    cat = generate(base, args.items, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cat.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(cat.services)} service items")
    return 0


# ---------------------------------------------------------------- guide search

def cmd_guide_search(args) -> int:
    from hall.catalogue import load_catalogue
    from hall.search import SearchIndex

    index = SearchIndex.build(load_catalogue(_catalogue_path(args.catalogue)))
    hits = index.search(args.query, args.limit)
    if args.json:
        print(json.dumps([h.as_dict() for h in hits], ensure_ascii=False))
        return 0
    if not hits:
        print("没有找到 · nothing found")
        return 0
    width = max(len(h.id) for h in hits)
    for h in hits:
        print(f"{h.id:<{width}}  {h.score:8.2f}  {h.department:<5} {h.name}")
    return 0


# ---------------------------------------------------------------- the kiosk

def cmd_kiosk(args) -> int:
    from hall.settings import load_hall

    hall = load_hall(args.config)
    device = hall.device(args.device)
    if device is None or device.kind != "kiosk":
        print(f"hall kiosk: {args.device!r} is not a kiosk in {hall.path}", file=sys.stderr)
        return 2
    data = Path(args.data or default_data_dir())
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"hall kiosk: --size {args.size!r}: expected WIDTHxHEIGHT such as 1080x1920", file=sys.stderr)
        return 2

    # Kivy reads its configuration when first imported: set it before
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("graphics", "allow_screensaver", "0")
    if args.fullscreen:
        from hall.screen import configure_covering

        configure_covering(Config)  # a window covering the X screen from the start, with or without a window manager
        Config.set("graphics", "show_cursor", "0")
    else:
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))

    from hall.link import DeviceLink
    from kiosk.app import KioskApp

    printer = sim = None
    if args.printer_sim:
        from devices.printer.simulator import PrinterSimulator

        sim = PrinterSimulator().start()
        args.printer = sim.port
    if args.printer:
        from devices.printer import TicketPrinter

        printer = TicketPrinter(args.printer, baudrate=args.baudrate)
    link = DeviceLink(hall, args.device, data, host=args.host, port=args.port, password=args.password,
                      tls_ca=args.tls_ca).start()
    app = KioskApp(hall, args.device, data, link=link, printer=printer, idle_timeout=args.idle,
                   guide_idle_timeout=args.idle_guide, idle_ask=args.idle_ask, request_timeout=args.timeout,
                   fullscreen=args.fullscreen)
    # systemd stops the kiosk with SIGTERM: left to SDL it becomes a close request, which a locked-down kiosk
    # refuses; handled here, it stops the app
    from display.board import stop_on_sigterm

    stop_on_sigterm(app)
    try:
        app.run()
    finally:
        if sim is not None:
            sim.save_pngs(app.store.dir / "printed")  # numbered on from an earlier run's, never over them
            sim.stop()
    return 0
