"""Setting machines up: `hall install server|kiosk|display|terminal|caller|led`, `hall uninstall`, `hall doctor`."""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def _root(p) -> None:
    p.add_argument("--root", metavar="DIR", type=Path, default=Path("/"),
                   help="install into this folder as if it were / (useradd and systemctl get --root too)")


def register(sub) -> None:
    from hallctl.install import DEFAULT_ARGS, DEFAULT_DATA, DEVICE_KINDS

    p = sub.add_parser("install", help="set this machine up for its part of the hall (as root): the hall server, "
                                       "or one device's Pi")
    isub = p.add_subparsers(dest="install_part", metavar="PART", required=True)
    s = isub.add_parser("server", help="the hall server: the hall user, data folder and logins, broker, hub and "
                                       "console units, the daily journal backup, the devices' time source")
    s.add_argument("--data", metavar="DIR", default=DEFAULT_DATA, help=f"data directory (default {DEFAULT_DATA})")
    s.add_argument("--tls", action="store_true", help="also make the hall CA and the broker's TLS certificate")
    s.add_argument("--keep-days", type=int, default=14, metavar="N", help="daily journal backups kept (default 14)")
    s.add_argument("--public", action="store_true",
                   help="also run the citizens' site (hall-public, on 127.0.0.1:8900 behind a reverse proxy)")
    s.add_argument("--config", metavar="FILE", help="hall.toml (default: the shipped hall)")
    _root(s)
    s.set_defaults(func=cmd_install_server)
    for kind in DEVICE_KINDS:
        d = isub.add_parser(kind, help=f"a {kind}'s Pi: its login bundle, its program started at boot and again "
                                       f"when it stops, its clock set by the server")
        d.add_argument("--server", required=True, metavar="HOST", help="the hall server's address on the LAN")
        d.add_argument("--device", required=True, metavar="ID", help=f"this {kind}'s device id in hall.toml")
        d.add_argument("--bundle", type=Path, metavar="FILE",
                       help="the device's folder (or a tar archive of it) made on the server by hall devices export")
        d.add_argument("--data", metavar="DIR", default=DEFAULT_DATA,
                       help=f"data directory (default {DEFAULT_DATA})")
        d.add_argument("--args", metavar="OPTIONS",
                       help=f"options for hall {kind} besides --device (default {DEFAULT_ARGS[kind] or 'none'!r}; "
                            f"kept in /etc/hallkit/agent-{kind}.env)")
        if kind in ("kiosk", "display"):
            d.add_argument("--user", help="the desktop user it runs as (default: whoever owns the checkout)")
        d.add_argument("--config", metavar="FILE", help="hall.toml (default: the shipped hall)")
        _root(d)
        d.set_defaults(func=cmd_install_device, kind=kind)

    p = sub.add_parser("uninstall", help="remove what hall install added (the data folder and user stay unless "
                                         "--purge)")
    p.add_argument("part", nargs="?", help="server or the device kind, to be sure of the machine")
    p.add_argument("--purge", action="store_true", help="also remove the data folder and the user install made")
    _root(p)
    p.set_defaults(func=cmd_uninstall)

    p = sub.add_parser("doctor", help="check this machine: services, broker and login, clock, disk, ports, fonts; "
                                      "exit status 1 when something is wrong")
    p.add_argument("--data", metavar="DIR", type=Path, help="data directory (default: what hall install recorded)")
    p.add_argument("--device", metavar="ID", help="check as this device (default: what hall install recorded)")
    p.add_argument("--server", metavar="HOST", help="the hall server, for the clock (default: as installed)")
    p.add_argument("--ntp-port", type=int, default=123, metavar="N",
                   help="the server's NTP port (default 123)")
    p.set_defaults(func=cmd_doctor)


def _failed(err) -> int:
    print(f"hall install: 出错 error: {err}", file=sys.stderr)
    return 1


def cmd_install_server(args) -> int:
    from hallctl.install import InstallError, install_server

    try:
        install_server(CHECKOUT, args.data, tls=args.tls, keep_days=args.keep_days, public=args.public,
                       config=args.config, root=args.root)
    except (InstallError, PermissionError) as err:
        return _failed(err)
    return 0


def cmd_install_device(args) -> int:
    from hallctl.install import InstallError, install_device

    try:
        install_device(args.kind, CHECKOUT, device=args.device, server=args.server, bundle=args.bundle,
                       data=args.data, user=getattr(args, "user", None), args=args.args, config=args.config,
                       root=args.root)
    except (InstallError, PermissionError) as err:
        return _failed(err)
    return 0


def cmd_uninstall(args) -> int:
    from hallctl.install import InstallError, uninstall

    try:
        uninstall(part=args.part, purge=args.purge, root=args.root)
    except (InstallError, PermissionError) as err:
        return _failed(err)
    return 0


def cmd_doctor(args) -> int:
    from hallctl.install.doctor import examine, faults, report

    findings = examine(data=args.data, device=args.device, server=args.server, ntp_port=args.ntp_port)
    print(report(findings))
    return 1 if faults(findings) else 0
