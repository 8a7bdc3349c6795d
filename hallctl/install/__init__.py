"""One command per machine: `hall install server|kiosk|display|terminal|caller|led`, `hall uninstall`.

    install_server(hallkit, data, tls=False, keep_days=14, root="/")
    install_device(kind, hallkit, device=..., server=..., bundle=None, data=..., user=None, args=None, root="/")
    uninstall(root="/", purge=False)

The hall server gets the `hall` system user, the data folder with every device's broker login, the systemd units of
the broker, the hub and the console (enabled, and started when systemd runs the machine), the distribution's own
Mosquitto disabled (it would hold port 1883), a daily journal backup (a timer), the devices' time source (chrony)
and a list of what each device needs next. A device's Pi gets its login bundle (made on the server by `hall devices
export`), its program started at boot and again whenever it stops (a systemd unit; for a kiosk or board, a user
unit started by the desktop's autostart), the screen kept on, and its clock following the server's.

Everything goes through a `Machine` whose root prefixes every path, so tests install into a throwaway folder.
What was added is recorded in /etc/hallkit/install.json: uninstall takes exactly that away (and turns the
distribution's Mosquitto back on if install turned it off); `hall doctor` reads it to know what to check.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tarfile
import tempfile
from pathlib import Path

from hallctl.install.machine import SYSTEMD_UNITS, SYSTEMD_USER_UNITS, InstallError, Machine, Record

__all__ = ["install_server", "install_device", "uninstall", "InstallError", "DEVICE_KINDS", "SCREENS"]

CONFIG = Path(__file__).resolve().parents[2] / "config"
HALL_USER = "hall"
SERVER_HOME = "/srv/hall"
DEFAULT_DATA = "/srv/hall/data"
SERVER_UNITS = ["hall-broker.service", "hall-hub.service", "hall-web.service"]
PUBLIC_UNIT = "hall-public.service"            # only where the hall chooses to face the public (--public)
BACKUP_UNITS = ["hall-backup.service", "hall-backup.timer"]
SCREENS = ("kiosk", "display")                 # Kivy programs in the desktop session
AGENTS = ("terminal", "caller", "led")         # background agents on a serial port
DEVICE_KINDS = SCREENS + AGENTS
# what each kind runs with when the technician names nothing else (the agent's own defaults cover the rest)
DEFAULT_ARGS = {"kiosk": "--fullscreen", "display": "--fullscreen", "terminal": "",
                "caller": "--port /dev/ttyUSB0", "led": "--port /dev/ttyUSB0"}
TITLES = {"kiosk": "kiosk 自助取号机", "display": "calling board 叫号屏"}
# groups a device's user needs when the machine has them: serial adapters, screen, sound, touch input
DEVICE_GROUPS = ["dialout", "video", "audio", "render", "input"]
# the hall LAN: private ranges only (chrony serves time to them, nobody else)
LAN = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
ENV_DIR = "/etc/hallkit"
MOSQUITTO = "mosquitto.service"


def render(template: str, **values) -> str:
    text = (CONFIG / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", str(value))
    return text


def _checkout(hallkit: Path) -> Path:
    hallkit = Path(hallkit).resolve()
    if not (hallkit / ".venv" / "bin" / "hall").exists():
        raise InstallError(f"{hallkit} has no .venv/bin/hall: run ./hallkit install ... from the checkout "
                           f"(it sets up .venv first)")
    return hallkit


def _readable_by_others(hallkit: Path) -> str | None:
    """The programs run as another user: every folder down to the checkout must let them through."""
    for folder in [hallkit, *hallkit.parents]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return (f"注意 note: {folder} 其他用户无法进入 is closed to other users, so the services cannot start "
                    f"{hallkit}/.venv/bin/hall; clone the checkout to /opt/hallkit (or chmod o+x {folder})")
    return None


def _begin(m: Machine, part: str) -> None:
    previous = m.record()
    if previous and previous.part != part:
        raise InstallError(f"this machine is set up as {previous.part} already (see /etc/hallkit/install.json): "
                           f"hall uninstall first")


def _user(m: Machine, record: Record, *, system: bool, home: str):
    account = m.account(record.user)
    if account is None:
        if not system:  # useradd would make a missing /home and userdel would leave it
            m.make_dir(str(Path(home).parent), record)
        account = m.add_user(record.user, system=system, home=home, groups=DEVICE_GROUPS if record.part != "server"
                             else [])
        record.user_created = True
        m.say(f"用户 user {record.user}: created" + (" (system user)" if system else ""))
    return account


def _data(m: Machine, record: Record, account) -> None:
    record.data_created = record.data_created or not m.exists(record.data)
    m.make_dir(record.data, record, owner=account, mode=0o750)


def _enable(m: Machine, record: Record, units: list[str], absent: list[str]) -> None:
    """`absent`: the .wants folders missing before install touched systemd (disabling a unit may remove one)."""
    m.systemctl("enable", *units)
    record.units += [u for u in units if u not in record.units]
    record.dirs += [d for d in absent if m.exists(d) and d not in record.dirs]


# ------------------------------------------------------------ the server

def install_server(hallkit: Path, data: str = DEFAULT_DATA, *, tls: bool = False, keep_days: int = 14,
                   public: bool = False, config: str | None = None, root: Path | str = "/", say=print) -> Record:
    from hall.settings import load_hall
    from hub import broker

    m = Machine(root, say=say)
    _begin(m, "server")
    hallkit = _checkout(hallkit)
    hall = load_hall(config)
    record = m.record() or Record(part="server", hallkit=str(hallkit), data=str(data), user=HALL_USER)
    if record.data != str(data):
        raise InstallError(f"this server keeps its data in {record.data} already: hall uninstall first to move it")
    absent = m.wants_dirs()
    m.make_dir(SERVER_HOME, record)
    account = _user(m, record, system=True, home=SERVER_HOME)
    _data(m, record, account)

    files = broker.BrokerFiles(m.path(data))
    made = broker.provision(hall, files)
    say(f"登录 logins: {len(made)} new in {data}/secrets.toml (mode 0600): the hub, the console and every device")
    if tls:
        from hub.tls import make_tls

        make_tls(files.tls_dir, hall.id)
        say(f"TLS: the hall CA and server certificate in {data}/broker/tls")
        if not hall.broker.tls:
            say(f"注意 note: {hall.path} says tls = false under [broker]: set it to true, or the broker keeps "
                f"plain MQTT on the LAN")
    m.make_dir(f"{data}/backups", record, owner=account, mode=0o750)
    m.chown_tree(data, account)

    values = {"hallkit": hallkit, "data": data, "user": HALL_USER, "keep": keep_days,
              "keep_minutes": keep_days * 1440 - 60}
    units = SERVER_UNITS + ([PUBLIC_UNIT] if public else [])
    for unit in units + BACKUP_UNITS:
        m.write(f"{SYSTEMD_UNITS}/{unit}", render(f"systemd/{unit}", **values), record)
    if m.enabled(MOSQUITTO):
        m.stop(MOSQUITTO)
        m.systemctl("disable", MOSQUITTO)
        record.mosquitto_disabled = True
        say("停用发行版自带的 Mosquitto disabled the distribution's Mosquitto (mosquitto.service) on port 1883: "
            "the hall runs its own, hall-broker (hall uninstall turns it back on)")
    _enable(m, record, units + ["hall-backup.timer"], absent)
    if m.exists("/etc/chrony"):
        m.write("/etc/chrony/conf.d/hall.conf",
                "# written by hall install server: the hall's devices set their clocks by this server\n"
                + "".join(f"allow {net}\n" for net in LAN), record)
    else:
        say("注意 note: chrony is not installed, so the devices have no time source here "
            "(./hallkit install server installs it)")
    m.save(record)
    m.start(*units, "hall-backup.timer")
    if m.systemd_running and m.exists("/etc/chrony/conf.d/hall.conf"):
        m.systemctl("restart", "chrony.service", check=False)
    note = _readable_by_others(hallkit)
    if note:
        say(note)
    say(f"服务 services: {', '.join(units)} enabled" + (" and started" if m.systemd_running else
                                                                " (they start at the next boot)")
        + f"; the journal is copied daily to {data}/backups (the last {keep_days} kept)")
    say(next_steps(hall, hallkit, data))
    return record


def server_address() -> str:
    """The address the devices will reach this server at: the one the default route leaves from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # nothing is sent: this only picks the outgoing interface
            return s.getsockname()[0]
        except OSError:
            return socket.gethostname()


def next_steps(hall, hallkit: Path, data: str) -> str:
    host = server_address()
    hall_cmd = f"{hallkit}/.venv/bin/hall"
    lines = ["", "下一步 what comes next:",
             f"  console login: sudo -u {HALL_USER} {hall_cmd} users add admin --role admin --data {data}",
             f"  then the console is at http://{host}:8800/",
             "  each device: make its bundle here, copy it over, install it there:"]
    for d in hall.devices:
        if d.kind not in DEVICE_KINDS:
            continue
        lines.append(f"    {d.id:<11} {hall_cmd} devices export {d.id} --host {host} --out /tmp/{d.id} --data {data}"
                     f" && tar -czf {d.id}.tar.gz -C /tmp {d.id}")
        lines.append(f"    {'':<11} on its Pi: ./hallkit install {d.kind} --server {host} --device {d.id} "
                     f"--bundle {d.id}.tar.gz")
    lines.append(f"  check any machine with: {hall_cmd} doctor")
    return "\n".join(lines)


# ------------------------------------------------------------ a device's Pi

def install_device(kind: str, hallkit: Path, *, device: str, server: str, bundle: Path | None = None,
                   data: str = DEFAULT_DATA, user: str | None = None, args: str | None = None,
                   config: str | None = None, root: Path | str = "/", say=print) -> Record:
    from hall.credentials import Endpoint
    from hall.settings import load_hall

    if kind not in DEVICE_KINDS:
        raise InstallError(f"no such part {kind!r}: one of server, {', '.join(DEVICE_KINDS)}")
    hall = load_hall(config)
    configured = hall.device(device)
    if configured is None or configured.kind != kind:
        known = ", ".join(d.id for d in hall.devices if d.kind == kind)
        raise InstallError(f"{device!r} is not a {kind} in {hall.path} (its {kind}s: {known or 'none'})")
    m = Machine(root, say=say)
    _begin(m, kind)
    hallkit = _checkout(hallkit)
    screen = kind in SCREENS
    if user is None:
        user = _desktop_user(hallkit) if screen else HALL_USER
    record = m.record() or Record(part=kind, hallkit=str(hallkit), data=str(data), user=user, device=device,
                                  server=server)
    if (record.device, record.data) != (device, str(data)):
        raise InstallError(f"this Pi is set up as {record.device} with data in {record.data}: hall uninstall first")
    record.server = server
    account = _user(m, record, system=not screen, home=f"/home/{user}" if screen else SERVER_HOME)
    if not screen:
        m.make_dir(SERVER_HOME, record)
    _data(m, record, account)

    if bundle is not None:
        _unpack_bundle(m, Path(bundle), data, device)
        say(f"登录 login of {device}: from {bundle} into {data}")
    endpoint = Endpoint.load(m.path(data)) or Endpoint(port=hall.broker.port)
    endpoint.host = server
    if endpoint.tls_ca:  # the CA travels inside the bundle: point at where it is now
        endpoint.tls_ca = f"{data}/broker/ca.crt"
    endpoint.save(m.path(data))
    m.chown_tree(data, account)
    if bundle is None:
        say(f"注意 note: no --bundle, so {device} has no broker login yet: on the server run "
            f"hall devices export {device} --host {server} --out /tmp/{device}, copy it here, then "
            f"./hallkit install {kind} --server {server} --device {device} --bundle /tmp/{device}")

    options = f"--device {device} {DEFAULT_ARGS[kind] if args is None else args}".strip()
    m.write(f"{ENV_DIR}/agent-{kind}.env",
            f"# options of hall {kind} on this Pi (written by hall install; edit, then restart it)\n"
            f"HALL_ARGS={options}\n", record)
    values = {"hallkit": hallkit, "data": data, "user": user, "kind": kind, "title": TITLES.get(kind, kind)}
    if screen:
        m.write(f"{SYSTEMD_USER_UNITS}/hall-screen@.service", render("systemd/hall-screen@.service", **values),
                record)
        m.write(f"/etc/xdg/autostart/hall-{kind}.desktop", render("autostart/hall-screen.desktop", **values), record)
        m.write("/etc/X11/xorg.conf.d/10-hall-screen.conf", NO_BLANKING, record)
        say(f"屏幕 screen: hall {kind} starts with {user}'s desktop (hall-screen@{kind}, started again if it stops);"
            " the screen never blanks; set the desktop to log {user} in automatically (raspi-config, System "
            "Options, Boot / Auto Login)".replace("{user}", user))
    else:
        m.write(f"{SYSTEMD_UNITS}/hall-agent@.service", render("systemd/hall-agent@.service", **values), record)
        _enable(m, record, [f"hall-agent@{kind}.service"], m.wants_dirs())
    m.write("/etc/systemd/timesyncd.conf.d/hall.conf",
            f"# written by hall install: this Pi has no clock of its own; it follows the hall server\n"
            f"[Time]\nNTP={server}\n", record)
    m.save(record)
    if not screen:
        m.start(f"hall-agent@{kind}.service")
        say(f"服务 service: hall-agent@{kind} ({options}) enabled" + (", started" if m.systemd_running else "")
            + ", started again if it stops")
    if m.systemd_running:
        m.systemctl("restart", "systemd-timesyncd.service", check=False)
    say(f"时间 time: the clock follows {server} (systemd-timesyncd); check this Pi with: "
        f"{hallkit}/.venv/bin/hall doctor")
    return record


NO_BLANKING = """\
# written by hall install: a kiosk or calling board never blanks its screen (X11; under Wayland the program
# itself keeps the screen on while it runs)
Section "ServerFlags"
    Option "BlankTime" "0"
    Option "StandbyTime" "0"
    Option "SuspendTime" "0"
    Option "OffTime" "0"
EndSection
"""


def _desktop_user(hallkit: Path) -> str:
    """Whoever cloned the checkout logs in to the Pi's desktop; root's checkout gets the `hall` user."""
    import pwd

    owner = pwd.getpwuid(hallkit.stat().st_uid).pw_name
    return owner if owner != "root" else os.environ.get("SUDO_USER") or HALL_USER


def _unpack_bundle(m: Machine, bundle: Path, data: str, device: str) -> None:
    """A folder made by `hall devices export`, or a tar archive of one: its login, the broker's address, the CA."""
    with tempfile.TemporaryDirectory() as tmp:
        if bundle.is_dir():
            source = bundle
        elif tarfile.is_tarfile(bundle):
            with tarfile.open(bundle) as tar:
                tar.extractall(tmp, filter="data")
            found = [p.parent for p in Path(tmp).rglob("secrets.toml")]
            if len(found) != 1:
                raise InstallError(f"{bundle} holds no single device login (secrets.toml)")
            source = found[0]
        else:
            raise InstallError(f"{bundle}: neither a folder nor a tar archive made from `hall devices export`")
        secrets = source / "secrets.toml"
        if not secrets.exists():
            raise InstallError(f"{bundle} has no secrets.toml: make it with hall devices export {device} ...")
        from hall.credentials import Secrets

        if Secrets.load(secrets).password(device) is None:
            raise InstallError(f"{bundle} is not the bundle of {device} (no login for it inside)")
        target = m.path(data)
        shutil.copyfile(secrets, target / "secrets.toml")
        os.chmod(target / "secrets.toml", 0o600)
        if (source / "broker").is_dir():
            shutil.copytree(source / "broker", target / "broker", dirs_exist_ok=True)


# ------------------------------------------------------------ taking it away

def uninstall(*, part: str | None = None, purge: bool = False, root: Path | str = "/", say=print) -> Record:
    m = Machine(root, say=say)
    record = m.record()
    if record is None:
        raise InstallError("nothing of hallkit is installed here (no /etc/hallkit/install.json)")
    if part and part != record.part:
        raise InstallError(f"this machine is set up as {record.part}, not {part}")
    m.stop(*record.units)
    if record.units:
        m.systemctl("disable", *record.units, check=False)
    if record.mosquitto_disabled:
        m.systemctl("enable", MOSQUITTO, check=False)
        m.start(MOSQUITTO)
        say("发行版自带的 Mosquitto 已恢复 the distribution's Mosquitto is enabled again")
    if purge and record.user_created:
        m.remove_user(record.user, home=record.part in SCREENS)
    kept = m.remove(record, purge=purge)
    if m.systemd_running:
        m.systemctl("daemon-reload", check=False)
    say(f"已移除 removed: {len(record.files)} files, units {', '.join(record.units) or 'none'}")
    if not purge:
        say(f"保留 kept: the data folder {record.data} (journal, logins) and the user {record.user}: "
            f"hall uninstall --purge removes them too")
    elif kept:
        say(f"保留 kept (not empty): {', '.join(kept)}")
    return record

