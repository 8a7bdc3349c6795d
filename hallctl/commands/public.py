"""The citizens' site: `hall public` serves it (its own listener, apart from the console), `hall public notices`
lists the near-turn SMS notices sent and their tries."""

from __future__ import annotations

from hallctl.commands import add_hall_args, hall_and_data
from hallctl.serving import ThreadedServer

DEFAULT_PORT = 8900


def register(sub) -> None:
    p = sub.add_parser("public", help="serve the citizens' site (公众服务: follow your ticket from the phone)")
    add_hall_args(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, behind a reverse proxy; 0.0.0.0 for the hall Wi-Fi)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    p.add_argument("--proxy", metavar="ADDRESSES", default="127.0.0.1",
                   help="reverse proxies whose X-Forwarded-For is trusted for the citizen's address "
                        "(comma-separated; default 127.0.0.1)")
    p.add_argument("--broker-host", help="broker host (default: what the data folder's hall recorded, else the config)")
    p.add_argument("--broker-port", type=int, help="broker port (default: as --broker-host)")
    p.set_defaults(func=cmd_public)
    psub = p.add_subparsers(dest="public_command", metavar="ACTION")
    n = psub.add_parser("notices", help="the near-turn SMS notices and every try to send them")
    add_hall_args(n)
    n.set_defaults(func=cmd_notices)


class PublicServer(ThreadedServer):
    """The citizens' site on uvicorn in a thread of this process (`hall up`): start() returns once it listens."""

    def __init__(self, hall, data, *, port: int, broker_port: int | None = None, host: str = "127.0.0.1"):
        from public.app import create_app

        super().__init__(create_app(hall, data, port=broker_port), host=host, port=port, name="public-site",
                         what="the citizens' site")


def cmd_public(args) -> int:
    import logging

    import uvicorn

    from public.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    hall, data = hall_and_data(args)
    app = create_app(hall, data, host=args.broker_host, port=args.broker_port)
    print(f"public   http://{args.host}:{args.port}/  (phones open {hall.public.base_url}/t/<token>)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True,
                forwarded_allow_ips=args.proxy)
    return 0


def cmd_notices(args) -> int:
    from public.notify import Notifier

    hall, data = hall_and_data(args)
    notifier = Notifier(hall, data)
    try:
        found = notifier.notices()
    finally:
        notifier.stop()
    if not found:
        print("没有短信提醒 no notices" + ("" if hall.public.notify.url else " ([public.notify] url is not set)"))
    for n in found:
        phone = "****" + n["phone"][-4:]
        print(f"{n['day']} {n['ticket']:<7} {phone}  {n['state']:<8} {n['tries']} 次 tries  {n['sent_at'] or ''}")
        for t in n["log"]:
            print(f"    #{t['n']} {t['at'][11:23]} {t['status'] or '-'} {t['ms']} ms {t['error'] or 'ok'}")
    return 0
