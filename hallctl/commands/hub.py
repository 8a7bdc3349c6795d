"""Hub commands: `hall hub`, `hall broker`, `hall devices provision|revoke|rotate|list`."""

from __future__ import annotations

import gc
import logging
import signal
import sys
from pathlib import Path

from hallctl.commands import add_hall_args, hall_and_data


def register(sub) -> None:
    p = sub.add_parser("hub", help="run the hub: store every event once, run the queue and attendance")
    add_hall_args(p)
    p.add_argument("--host", help="broker host")
    p.add_argument("--port", type=int, help="broker port")
    p.add_argument("--share", metavar="GROUP", help="consume through a shared subscription ($share/GROUP/...)")
    p.set_defaults(func=cmd_hub)

    p = sub.add_parser("broker", help="write the Mosquitto config from the hall config and run Mosquitto")
    add_hall_args(p)
    p.add_argument("--port", type=int, help="listener port (default: the config's)")
    p.add_argument("--bind", help="address to listen on (default: the config's host)")
    p.add_argument("--insecure", action="store_true", help="anonymous access, no ACL")
    p.add_argument("--write-only", action="store_true", help="write the files and exit")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("devices", help="broker logins of the hall's devices")
    dsub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    d = dsub.add_parser("provision", help="give every device a password; write the password file and ACL")
    add_hall_args(d)
    d.add_argument("--tls", action="store_true", help="also make a local CA and server certificate")
    d.add_argument("--host", action="append", default=[], metavar="NAME_OR_IP",
                   help="with --tls: a name or address the devices use for the server (repeatable; localhost and "
                        "this machine's name are always in the certificate)")
    d.set_defaults(func=cmd_provision)
    for name, helptext in (("revoke", "remove a device's login"), ("rotate", "give a device a new password")):
        d = dsub.add_parser(name, help=helptext + " (reloads the running broker, which drops the old login's connection)")
        add_hall_args(d)
        d.add_argument("device")
        d.set_defaults(func=cmd_revoke if name == "revoke" else cmd_rotate)
    d = dsub.add_parser("export", help="a data directory for one device's Pi: its login, the broker's address, the CA")
    add_hall_args(d)
    d.add_argument("device")
    d.add_argument("--host", required=True, help="the hall server's address as the device sees it")
    d.add_argument("--out", type=Path, required=True, help="folder to create (copy it to the device)")
    d.set_defaults(func=cmd_export)
    d = dsub.add_parser("list", help="devices with their kind and login state")
    add_hall_args(d)
    d.set_defaults(func=cmd_devices_list)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def cmd_hub(args) -> int:
    from hub.ingest import Hub

    _logging()
    hall, data = hall_and_data(args)
    share = f"$share/{args.share}/" if args.share else ""
    hub = Hub(hall, data, host=args.host, port=args.port, subscribe_prefix=share).start()
    signal.signal(signal.SIGTERM, lambda *_: hub.request_stop())
    print(f"hub: hall {hall.id} on {hub.endpoint.host}:{hub.endpoint.port}, journal {hub.db_path}", flush=True)
    if hub.wait_ready(60):
        print("hub: online", flush=True)
    # Everything loaded so far (catalogue, models, the rebuilt day) lives as long as the hub: keep the collector
    # from walking it again and again, which paused the hub for ~25 ms in the middle of a burst of calls.
    gc.freeze()
    hub.run_forever()
    return 0


def cmd_broker(args) -> int:
    from hall.credentials import Endpoint
    from hub import broker

    hall, data = hall_and_data(args)
    files = broker.BrokerFiles(data)
    port = args.port or hall.broker.port
    secure = not args.insecure
    if secure:
        broker.provision(hall, files)
    tls_port = None
    if hall.broker.tls:
        from hub.tls import make_tls
        make_tls(files.tls_dir, hall.id)
        tls_port = hall.broker.tls_port
    conf = broker.write_config(hall, files, port, bind=args.bind, secure=secure, tls_port=tls_port)
    Endpoint(port=port, tls_ca=str(files.ca) if tls_port else None, tls_port=tls_port).save(data)
    print(f"broker: config {conf}")
    if args.write_only:
        return 0
    exe = broker.mosquitto_path()
    if exe is None:
        print("hall broker: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 1
    import os
    os.execv(exe, [exe, "-c", str(conf)])


def cmd_provision(args) -> int:
    from hub import broker

    hall, data = hall_and_data(args)
    files = broker.BrokerFiles(data)
    changed = broker.provision(hall, files)
    print(f"provisioned {len(changed)} new login(s); {files.secrets} (mode 0600), {files.passwd}, {files.acl}")
    if args.tls:
        from hub.tls import make_tls
        made = make_tls(files.tls_dir, hall.id, hosts=args.host)
        print(("made" if made else "kept") + f" the hall CA and server certificate in {files.tls_dir}"
              + ("" if made or not args.host else " (to add names, delete that folder and provision again)"))
    return 0


def _reload_note(files) -> str:
    from hub import broker

    if broker.reload(files):
        return "; 代理已重新加载，旧登录的连接已断开 broker reloaded, the old login's connection is dropped"
    return "; 代理未运行，启动时生效 no running broker found: takes effect when it starts"


def cmd_revoke(args) -> int:
    from hub import broker

    _, data = hall_and_data(args)
    files = broker.BrokerFiles(data)
    try:
        broker.revoke(files, args.device)
    except ValueError as err:
        print(f"hall devices revoke: 不能吊销 {args.device}: {err}", file=sys.stderr)
        return 2
    print(f"已吊销 {args.device} revoked {args.device}" + _reload_note(files))
    return 0


def cmd_rotate(args) -> int:
    from hall.settings import HUB_ID
    from hub import broker

    _, data = hall_and_data(args)
    files = broker.BrokerFiles(data)
    broker.rotate(files, args.device)
    print(f"{args.device} 的新密码在 {files.secrets} new password for {args.device} in {files.secrets}"
          + _reload_note(files))
    if args.device == HUB_ID:
        # the reload has just dropped its connection; it reads the new password as it dials again
        print("hub 将以新密码重新登录 the hub logs in again with its new password within seconds")
    return 0


def cmd_export(args) -> int:
    from hall.credentials import Endpoint, Secrets
    from hub import broker

    hall, data = hall_and_data(args)
    if hall.device(args.device) is None:
        print(f"hall devices export: {args.device!r} is not in {hall.path}", file=sys.stderr)
        return 2
    files = broker.BrokerFiles(data)
    password = Secrets.load(files.secrets).password(args.device)
    if password is None:
        print(f"hall devices export: {args.device} has no login; run 'hall devices provision' "
              f"(or 'rotate' a revoked one)", file=sys.stderr)
        return 2
    out = args.out
    Secrets(out / "secrets.toml", {args.device: password}).save()
    ca = None
    if files.ca.exists() and hall.broker.tls:
        (out / "broker").mkdir(parents=True, exist_ok=True)
        ca = out / "broker" / "ca.crt"
        ca.write_bytes(files.ca.read_bytes())
    Endpoint(host=args.host, port=hall.broker.port, tls_ca=str(ca) if ca else None,
             tls_port=hall.broker.tls_port if ca else None).save(out)
    print(f"{out}: login of {args.device} (secrets.toml, mode 0600), broker {args.host}"
          + (" over TLS with the hall CA" if ca else "") + f"; run it there with --data {out.name}")
    return 0


def _device_status(data: Path) -> dict[str, tuple[str, str]]:
    """What each device last said of itself (online/offline) and when it was last heard, from the hub's journal."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{data / 'hub.db'}?mode=ro", uri=True, timeout=5) as db:
            return {d: (s or "", (seen or "")[:19].replace("T", " "))
                    for d, s, seen in db.execute("SELECT id, status, last_seen FROM devices")}
    except sqlite3.Error:
        return {}


def cmd_devices_list(args) -> int:
    """Each device: its login, whether it is in use (online, from the hub's journal), whether `hall up` leaves it
    free for an outside device, and a warning when two connections share one login (the broker's log)."""
    from datetime import datetime

    from hall.credentials import Secrets
    from hallctl.up import read_logins
    from hub import broker
    from hub.alerts.logins import TakeoverWatch

    hall, data = hall_and_data(args)
    files = broker.BrokerFiles(data)
    sec = Secrets.load(files.secrets)
    status = _device_status(data)
    up = read_logins(data) or {}
    free = set(up.get("free", []))
    watch = TakeoverWatch(files.log, hall.tz)
    watch.read()
    shared = watch.shared(datetime.now(hall.tz))
    print(f"{'device':<12}{'kind':<10}{'login':<10}{'in use 使用中':<24}name")
    for d in hall.devices:
        state = "revoked" if d.id in sec.revoked else ("ok" if d.id in sec.passwords else "no login")
        online, seen = status.get(d.id, ("", ""))
        use = f"online {seen[11:]}" if online == "online" else (f"offline {seen[5:16]}" if online else "-")
        if d.id in free:
            use = "free 空闲·留给你" if online != "online" else "free, online 已连接"
        print(f"{d.id:<12}{d.kind:<10}{state:<10}{use:<24}{d.name}")
    if free and up.get("port"):
        print(f"\nhall up 留给外部设备的登录 logins hall up leaves free: {', '.join(sorted(free))} "
              f"(broker port {up['port']})")
    for device, times in sorted(shared.items()):
        print(f"警告 warning: {device} 的登录被两个连接同时使用（代理两分钟内断开旧连接 {times} 次） · two "
              f"connections share the login {device}: the broker closed the older one {times} times in 2 minutes; "
              f"give the second device its own login", file=sys.stderr)
    return 0
