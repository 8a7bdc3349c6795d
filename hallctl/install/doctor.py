"""`hall doctor`: is this machine fit for its part of the hall? Each finding in Chinese and English, with the remedy.

What it looks at follows what `hall install` recorded (/etc/hallkit/install.json), or `--device` and `--data`:
- the services: the systemd units install enabled (or, where systemd does not run the machine, the processes);
- the broker: it answers at the address the data folder records and turns a stranger away; a device's own login
  is tried when its program is not running (a running one holds that login, and its outbox shows whether its
  events get through); on the server the hub's login is checked against the broker's password file;
- the clock: a device's offset to the server's time (SNTP), beyond the hub's 5 s limit is a fault;
- the disk under the data folder; the printer or sensor port the device's options name; a Chinese font.

    findings = examine(data=Path("/srv/hall/data"))
    print(report(findings)); sys.exit(1 if faults(findings) else 0)
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shlex
import shutil
import socket
import sqlite3
import ssl
import struct
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hallctl.install import AGENTS, DEFAULT_ARGS, DEFAULT_DATA, ENV_DIR, SCREENS
from hallctl.install.machine import Machine, Record

SKEW_LIMIT = 5.0                 # seconds: the hub flags a device's clock beyond this
DISK_MIN = 1 << 30               # bytes free under the data folder
OUTBOX_LATE = 120                # seconds an event may wait in a running device's outbox
NTP_EPOCH = 2208988800           # 1900-01-01 to 1970-01-01


@dataclass
class Finding:
    ok: bool | None          # None: not checked on this machine, and why
    zh: str
    en: str
    remedy: str = ""


def faults(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.ok is False]


def report(findings: list[Finding]) -> str:
    mark = {True: "正常 ok   ", False: "故障 FAULT", None: "略过 skip "}
    lines = []
    for f in findings:
        lines.append(f"  {mark[f.ok]}  {f.zh} / {f.en}")
        if f.remedy and f.ok is False:
            lines.append(f"              → {f.remedy}")
    bad = faults(findings)
    lines.append("一切正常 all is well" if not bad else f"{len(bad)} 项故障 {len(bad)} thing(s) wrong: see FAULT above")
    return "\n".join(lines)


# ------------------------------------------------------------ what this machine is

@dataclass
class Role:
    part: str                      # server or a device kind
    data: Path
    device: str | None
    record: Record | None
    server: str | None


def role(*, data: Path | None, device: str | None, server: str | None, root: Path | str = "/") -> Role | Finding:
    from hall.credentials import Secrets
    from hall.settings import HUB_ID, load_hall

    record = Machine(root).record()
    data = Path(data or (record.data if record else os.environ.get("HALL_DATA") or DEFAULT_DATA))
    if device is None and record is not None:
        return Role(record.part, data, record.device, record, server or record.server)
    if device is not None:
        found = load_hall().device(device)
        if found is None:
            return Finding(False, f"没有设备 {device}", f"no device {device} in the hall config")
        return Role(found.kind, data, device, record, server)
    if Secrets.load(data / "secrets.toml").password(HUB_ID) is not None:
        return Role("server", data, None, record, server)
    return Finding(False, f"{data} 中没有大厅 no hall", f"nothing installed here and no hall in {data}",
                   "hall install server (or a device), or name the folder: hall doctor --data DIR [--device ID]")


def examine(*, data: Path | None = None, device: str | None = None, server: str | None = None,
            ntp_port: int = 123, root: Path | str = "/") -> list[Finding]:
    who = role(data=data, device=device, server=server, root=root)
    if isinstance(who, Finding):
        return [who]
    what = "服务器 server" if who.part == "server" else f"{who.device} ({who.part})"
    findings = [Finding(True, f"本机 this machine: {what}", f"data {who.data}")]
    running = _services(who, findings)
    findings += _broker(who, running)
    findings.append(_clock(who, ntp_port))
    findings.append(_disk(who.data))
    findings += _ports(who)
    findings.append(_fonts())
    return findings


# ------------------------------------------------------------ services

def _processes() -> list[list[str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((entry / "cmdline").read_bytes().decode(errors="replace").split("\0"))
            except OSError:
                continue
    return out


def _running(command: str, data: Path) -> bool:
    """A `hall COMMAND ... --data DATA` process (or `python -m hallctl.cli COMMAND`) on this machine."""
    want = data.resolve()
    for argv in _processes():
        if command not in argv or "--data" not in argv:
            continue
        if not any(a.endswith("/hall") or a == "hallctl.cli" for a in argv):
            continue
        i = argv.index("--data")
        if i + 1 < len(argv) and Path(argv[i + 1]).resolve() == want:
            return True
    return False


def _services(who: Role, findings: list[Finding]) -> bool:
    """Each of the machine's programs up? Returns whether the device's own program runs (server: the hub)."""
    from hub import broker

    systemd = Path("/run/systemd/system").is_dir()
    if who.part == "server":
        wanted = {"hall-broker.service": None, "hall-hub.service": "hub"}
        if who.record and "hall-web.service" in who.record.units:
            wanted["hall-web.service"] = "web"
        if who.record and "hall-public.service" in who.record.units:
            wanted["hall-public.service"] = "public"
    elif who.part in SCREENS:
        wanted = {f"hall-screen@{who.part}.service": who.part}
    else:
        wanted = {f"hall-agent@{who.part}.service": who.part}
    ours = None
    for unit, command in wanted.items():
        if systemd and who.record and unit in who.record.units:
            up = subprocess.run(["systemctl", "is-active", "--quiet", unit]).returncode == 0
            how = f"systemctl status {unit}; journalctl -u {unit} -n 50"
        elif command is None:
            up = broker.running_broker(broker.BrokerFiles(who.data)) is not None
            how = f"systemctl start hall-broker (or: hall broker --data {who.data})"
        else:
            up = _running(command, who.data)
            how = (f"systemctl start {unit}" if who.record else f"hall {command} --data {who.data}") + \
                  (" (from the Pi's desktop: log in, the autostart starts it)" if who.part in SCREENS else "")
        if command in ("hub", who.part):
            ours = up
        name = unit if who.record else f"hall {command or 'broker'}"
        findings.append(Finding(up, f"{name} {'运行中' if up else '未运行'}",
                                f"{name} {'running' if up else 'is not running'}", how))
    return bool(ours)


# ------------------------------------------------------------ broker

def _broker(who: Role, running: bool) -> list[Finding]:
    from hall.credentials import Endpoint, Secrets
    from hall.settings import HUB_ID

    ep = Endpoint.load(who.data)
    if ep is None:
        return [Finding(False, "不知道代理地址", f"no broker address ({Endpoint.path(who.data)} is missing)",
                        "install the device's bundle: hall install ... --bundle FILE" if who.device else
                        "hall install server, or start the broker once (hall broker)")]
    if who.server and who.part != "server":
        ep.host = who.server
    host = "127.0.0.1" if ep.host in ("", "0.0.0.0") else ep.host
    port = ep.tls_port if (ep.tls_ca and ep.tls_port) else ep.port
    where = f"{host}:{port}" + (" (TLS)" if ep.tls_ca else "")
    answer = _mqtt_login(host, port, ep.tls_ca, f"doctor-{secrets.token_hex(4)}", secrets.token_urlsafe(12))
    if answer == "unreachable" or answer.startswith("tls"):
        remedy = ("systemctl status hall-broker" if who.part == "server" else
                  f"is the server up, is {host} its address, does the network let port {port} through?")
        if answer.startswith("tls"):
            remedy = f"the hall CA in {ep.tls_ca} does not match the server's: export the bundle again"
        return [Finding(False, f"连不上代理 {where}", f"cannot reach the broker at {where} ({answer})", remedy)]
    found = [Finding(answer == "refused", f"代理 {where} 在线，拒绝陌生登录" if answer == "refused" else
                     f"代理 {where} 接受任何人", f"the broker at {where} answers and turns strangers away"
                     if answer == "refused" else f"the broker at {where} lets anyone in ({answer})",
                     "the broker runs without the hall's logins: run it from hall-broker (hall broker)")]
    if found[0].ok is not True:
        return found
    login = who.device or HUB_ID
    password = Secrets.load(who.data / "secrets.toml").password(login)
    if password is None:
        found.append(Finding(False, f"{login} 没有代理登录", f"{login} has no broker login in {who.data}",
                             "install its bundle (hall devices export on the server, then hall install --bundle)"))
    elif who.part == "server":
        found.append(_password_file(who.data, login, password))
    elif running:
        found.append(_outbox(who.data, who.device))
    else:
        answer = _mqtt_login(host, port, ep.tls_ca, login, password)
        found.append(Finding(answer == "accepted", f"代理{'接受' if answer == 'accepted' else '拒绝'} {login} 的登录",
                             f"the broker {'accepts' if answer == 'accepted' else 'refuses'} the login of {login}"
                             + ("" if answer == "accepted" else f" ({answer})"),
                             f"on the server: hall devices rotate {login}, then export and install the bundle again"))
    return found


def _mqtt_login(host: str, port: int, ca: str | None, user: str, password: str, timeout: float = 5.0) -> str:
    """accepted, refused, unreachable, or what else the broker said. A clean session that takes nothing."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    result: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    if ca:
        client.tls_set(ca_certs=ca)
    client.on_connect = lambda c, u, f, rc, p=None: result.append(
        "accepted" if not rc.is_failure else ("refused" if rc.value in (134, 135) else str(rc)))
    try:
        client.connect(host, port, keepalive=10)
    except ssl.SSLError as err:
        return f"tls: {err}"
    except OSError:
        return "unreachable"
    end = time.monotonic() + timeout
    while not result and time.monotonic() < end:
        if client.loop(0.1) not in (0,) and not result:
            break
    client.disconnect()
    return result[0] if result else "no answer"


def _password_file(data: Path, login: str, password: str) -> Finding:
    """Mosquitto's $7$ entries are PBKDF2-SHA512: the hub's password must be the one the broker holds."""
    passwd = data / "broker" / "passwd"
    try:
        lines = passwd.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        user, _, entry = line.partition(":")
        if user != login:
            continue
        parts = entry.split("$")
        if len(parts) == 5 and parts[1] == "7":
            salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(digest))
            ok = secrets.compare_digest(mine, digest)
            return Finding(ok, f"代理{'认得' if ok else '不认得'} hub 的密码",
                           f"the broker {'holds' if ok else 'does not hold'} the hub's password",
                           "hall devices provision (writes the broker's password file again), then restart "
                           "hall-broker")
    return Finding(False, "代理没有 hub 的登录", f"the broker's password file {passwd} has no {login}",
                   "hall devices provision, then restart hall-broker")


def _outbox(data: Path, device: str) -> Finding:
    """A running device holds its login; whether its events get through shows in its outbox."""
    path = data / "devices" / device / "outbox.db"
    oldest = None
    if path.exists():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
                oldest = db.execute("SELECT min(created_at), count(*) FROM outbox").fetchone()
        except sqlite3.Error:
            oldest = None
    if not oldest or not oldest[0]:
        return Finding(True, f"{device} 在线，发件箱已清空", f"{device} runs with its login; its outbox is empty")
    waited = (datetime.now(UTC) - datetime.fromisoformat(oldest[0])).total_seconds()
    ok = waited < OUTBOX_LATE
    return Finding(ok, f"{device} 发件箱有 {oldest[1]} 条待发", f"{device}'s outbox holds {oldest[1]} event(s), "
                   f"the oldest {waited:.0f} s old", "the hub does not acknowledge them: is hall-hub running on "
                   "the server (hall doctor there)?")


# ------------------------------------------------------------ clock, disk, ports, fonts

def sntp_offset(host: str, port: int = 123, timeout: float = 2.0) -> float:
    """This machine's clock minus the server's, in seconds (one SNTP exchange)."""
    def ntp(t: float) -> bytes:
        seconds = t + NTP_EPOCH
        return struct.pack("!II", int(seconds), int((seconds % 1) * 2**32))

    def unix(raw: bytes) -> float:
        seconds, fraction = struct.unpack("!II", raw)
        return seconds - NTP_EPOCH + fraction / 2**32

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        sent = time.time()
        s.sendto(b"\x23" + bytes(39) + ntp(sent), (host, port))   # version 4, client
        reply, _ = s.recvfrom(512)
        back = time.time()
    if len(reply) < 48:
        raise OSError("short NTP reply")
    received, transmitted = unix(reply[32:40]), unix(reply[40:48])
    return ((sent - received) + (back - transmitted)) / 2


def _clock(who: Role, ntp_port: int) -> Finding:
    if not who.server:
        return Finding(None, "本机是大厅的时钟源", "this machine is the hall's time source (devices follow it)")
    try:
        offset = sntp_offset(who.server, ntp_port)
    except OSError as err:
        return Finding(False, f"{who.server} 不提供时间", f"no time from {who.server} over NTP ({err})",
                       "on the server: chrony with 'allow' for the LAN (hall install server sets it up)")
    ok = abs(offset) <= SKEW_LIMIT
    return Finding(ok, f"时钟与服务器相差 {offset:+.1f} 秒", f"clock {offset:+.1f} s off the server's",
                   f"timedatectl timesync-status; /etc/systemd/timesyncd.conf.d/hall.conf must say NTP={who.server}")


def _disk(data: Path) -> Finding:
    here = data
    while not here.exists():
        here = here.parent
    usage = shutil.disk_usage(here)
    ok = usage.free >= DISK_MIN and usage.free >= usage.total * 0.05
    gib = usage.free / (1 << 30)
    return Finding(ok, f"磁盘剩余 {gib:.1f} GiB", f"{gib:.1f} GiB free under {data}",
                   "free space: old backups (backups/), logs (journalctl --vacuum-time=30d)")


def _device_args(who: Role) -> list[str]:
    env = Path(ENV_DIR) / f"agent-{who.part}.env"
    text = env.read_text() if who.record and env.exists() else ""
    for line in text.splitlines():
        if line.startswith("HALL_ARGS="):
            return shlex.split(line.partition("=")[2])
    return shlex.split(DEFAULT_ARGS.get(who.part, ""))


def _ports(who: Role) -> list[Finding]:
    if who.part == "server":
        return []
    args = _device_args(who)
    option = "--printer" if who.part == "kiosk" else "--port"
    if option in args and args.index(option) + 1 < len(args):
        port = args[args.index(option) + 1]
    elif who.part == "terminal":
        port = "/dev/ttyUSB0"       # the terminal's own default
    else:
        return [] if who.part in SCREENS else [Finding(None, "未指定串口", "no serial port named")]
    what = {"kiosk": ("打印机", "printer"), "terminal": ("指纹模块", "fingerprint sensor")}.get(
        who.part, ("总线", "RS-485 bus adapter"))
    ok = os.path.exists(port)
    where = f"/etc/hallkit/agent-{who.part}.env" if who.part in AGENTS + SCREENS else "the options"
    return [Finding(ok, f"{what[0]}串口 {port} {'在' if ok else '不在'}",
                    f"{what[1]} port {port} {'present' if ok else 'missing'}",
                    f"plug the adapter in (ls /dev/serial/by-id/), or name its port in {where}")]


def _fonts() -> Finding:
    from hall.fonts import FontMissing, find_cjk_font

    try:
        return Finding(True, "中文字体", f"Chinese font {find_cjk_font()}")
    except FontMissing:
        return Finding(False, "没有中文字体", "no Chinese font", "apt-get install fonts-noto-cjk (./hallkit does)")
