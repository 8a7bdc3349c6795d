"""`hall docs screenshots`: the central console over many halls (docs/central.md).

Three simulated halls write a day's backlog each into real hub journals; their uplinks send them to a private
3-node NATS cluster and the consumer stores them in a private PostgreSQL, both started here (as `hall central up`
starts them) and stopped before the function returns. The console then runs over that database and Chromium
shows its pages to a manager logged in: the halls now (office screen and phone), the year, the rankings.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

HALLS = ("miluo-zwzx", "pingjiang-zwzx", "xiangyin-zwzx")  # three county halls, as the centre names them
STEPS = (1500, 2400, 1900)  # a day's backlog each: different sizes, so the halls differ in every column
OFFICE = (1920, 1080)
PHONE = (390, 844)
LOGIN = "zhang"


def _fill(up, folder: Path, say) -> None:
    """The halls' journals written, sent up by their uplinks, and stored by the consumer until it is idle."""
    from central.consumer import Consumer
    from central.uplink import Uplink
    from hallctl.commands.central import SimulatedHall

    journals = {}
    for i, (name, steps) in enumerate(zip(HALLS, STEPS, strict=True)):
        hall = SimulatedHall(name, folder / name, seed=i + 3)
        try:
            hall.backlog(steps)
        finally:
            hall.close()
        journals[name] = folder / name / "hub.db"
        say(f"大厅日志已写 hall journal written: {name} ({steps} 步 steps)")

    async def send():
        for name, journal in journals.items():
            sent = await Uplink(name, journal, up.cluster.login(name)).drain()
            say(f"已上传 sent up: {name} {sent.as_dict()}")
        stored = await Consumer(up.pg.conninfo, up.cluster.login("central")).run(idle_exit_s=2.0)
        say(f"已入库 stored: {stored.as_dict()}")

    asyncio.run(send())


def central(shots, folder: Path) -> None:
    """central-live.png, central-live-390x844.png, central-year.png, central-rankings.png (those wanted)."""
    from central.services import missing
    from hallctl.screenshots import CHROMIUM, CHROMIUM_ARGS

    why = missing()
    if why:
        raise RuntimeError(f"中心截图需要 NATS 与 PostgreSQL the central screenshots need them: {why}")
    if not CHROMIUM.exists():
        raise RuntimeError(f"中心控制台截图需要 Chromium the central console screenshots need {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    from central.console.users import Users
    from hallctl.commands.central import CentralUp, ConsoleServer, _quiet_tls_eof

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _quiet_tls_eof()
    up = CentralUp(folder / "central", list(HALLS))
    console = None
    try:
        shots.say("启动 NATS 集群与 PostgreSQL starting the NATS cluster and PostgreSQL")
        up.start()
        _fill(up, folder / "halls", shots.say)
        users_file = folder / "central-users.json"
        password = secrets.token_urlsafe(12)
        Users(users_file).add(LOGIN, password)
        console = ConsoleServer(up.pg.conninfo, users_file).start()
        base = console.url
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                for (w, h), mobile, pages in (
                        (OFFICE, False, (("central-live.png", "/"), ("central-year.png", "/year"),
                                         ("central-rankings.png", "/rankings"))),
                        (PHONE, True, (("central-live-390x844.png", "/"),))):
                    pages = [(name, path) for name, path in pages if name in shots.wanted]
                    if not pages:
                        continue
                    context = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1,
                                                  is_mobile=mobile, locale="zh-CN")
                    page = context.new_page()
                    page.goto(f"{base}/login")
                    page.fill("input[name=username]", LOGIN)
                    page.fill("input[name=password]", password)
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{base}/")
                    for name, path in pages:
                        page.goto(base + path)
                        if path == "/":  # the push stream never goes idle: wait until it is connected
                            page.wait_for_function("document.body.dataset.push === 'connected'", timeout=10_000)
                        else:
                            page.wait_for_load_state("networkidle")
                        out = shots.out_dir / name
                        page.screenshot(path=str(out), full_page=True)
                        shots.saved(out)
                    context.close()
            finally:
                browser.close()
    finally:
        if console is not None:
            console.stop()
        up.stop(remove=True)
