"""The managers' console: `hall web` serves it, `hall users add|list|remove|reset` manages its people."""

from __future__ import annotations

import getpass
import sys

from hallctl.commands import add_hall_args, hall_and_data
from hallctl.serving import ThreadedServer

DEFAULT_PORT = 8800


def register(sub) -> None:
    p = sub.add_parser("web", help="serve the managers' console (管理控制台) over HTTP")
    add_hall_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for the LAN)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    p.add_argument("--broker-host", help="broker host (default: what the data folder's hall recorded, else the config)")
    p.add_argument("--broker-port", type=int, help="broker port (default: as --broker-host)")
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("users", help="people who log in to the console, and their roles")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    u = usub.add_parser("add", help="add a user; the password is read from standard input when it is not a terminal")
    add_hall_args(u)
    u.add_argument("name")
    u.add_argument("--role", required=True, choices=["admin", "supervisor", "department", "viewer"],
                   help="管理员 admin, 督查 supervisor, 部门负责人 department, 只读 viewer")
    u.add_argument("--department", metavar="ID", help="the department a department head sees")
    u.set_defaults(func=cmd_users_add)
    u = usub.add_parser("list", help="users with their role and department")
    add_hall_args(u)
    u.set_defaults(func=cmd_users_list)
    u = usub.add_parser("remove", help="remove a user (their sessions end at once)")
    add_hall_args(u)
    u.add_argument("name")
    u.set_defaults(func=cmd_users_remove)
    u = usub.add_parser("reset", help="give a user a new password, read like `add` does (their sessions end)")
    add_hall_args(u)
    u.add_argument("name")
    u.set_defaults(func=cmd_users_reset)


def read_password() -> str:
    """From standard input when it is not a terminal (its first line), else asked twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 password: ")
    if first != getpass.getpass("再输一次 again: "):
        raise SystemExit("hall users: 两次密码不一致 the two passwords differ")
    return first


def _fail(err: Exception) -> int:
    print(f"hall users: {err}", file=sys.stderr)
    return 1


def cmd_users_add(args) -> int:
    from web import users

    hall, data = hall_and_data(args)
    db = users.open_db(data)
    try:
        user = users.add_user(db, args.name, args.role, args.department, read_password(),
                              departments={d.id for d in hall.catalogue.departments})
    except users.UserError as err:
        return _fail(err)
    finally:
        db.close()
    print(f"已添加 added {user.name} ({user.role}{', ' + user.department if user.department else ''})")
    return 0


def cmd_users_list(args) -> int:
    from web import users
    from web.roles import ROLES

    _, data = hall_and_data(args)
    db = users.open_db(data)
    try:
        found = users.list_users(db)
    finally:
        db.close()
    if not found:
        print("没有用户 no users (hall users add NAME --role admin)")
    for u in found:
        zh, en = ROLES.get(u.role, (u.role, u.role))
        print(f"{u.name:<20} {u.role:<11} {zh} {en:<16} {u.department or '':<10} {u.created_at[:16]}")
    return 0


def cmd_users_remove(args) -> int:
    from web import users

    _, data = hall_and_data(args)
    db = users.open_db(data)
    try:
        users.remove_user(db, args.name)
    except users.UserError as err:
        return _fail(err)
    finally:
        db.close()
    print(f"已删除 removed {args.name}")
    return 0


def cmd_users_reset(args) -> int:
    from web import users

    _, data = hall_and_data(args)
    db = users.open_db(data)
    try:
        users.reset_password(db, args.name, read_password())
    except users.UserError as err:
        return _fail(err)
    finally:
        db.close()
    print(f"已重置密码 password reset for {args.name}")
    return 0


def ensure_first_admin(data) -> str | None:
    """When the data folder's console has no user: an `admin` with a random password, returned to print once."""
    from web import users

    db = users.open_db(data)
    try:
        if users.list_users(db):
            return None
        password = users.new_password()
        users.add_user(db, "admin", "admin", None, password, by="hall up")
        return password
    finally:
        db.close()


class ConsoleServer(ThreadedServer):
    """The console on uvicorn in a thread of this process (`hall up`): start() returns once it listens."""

    def __init__(self, hall, data, *, port: int, broker_port: int | None = None, host: str = "127.0.0.1"):
        from web.app import create_app

        super().__init__(create_app(hall, data, port=broker_port), host=host, port=port, name="console",
                         what="the console")


def cmd_web(args) -> int:
    import logging

    import uvicorn

    from web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    hall, data = hall_and_data(args)
    app = create_app(hall, data, host=args.broker_host, port=args.broker_port)
    print(f"console  http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True)
    return 0
