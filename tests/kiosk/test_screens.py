"""The kiosk on a real Kivy window (Xvfb), driven by touches: 取号 to the printed ticket, 查询 on the kiosk's own
keyboard, idle return, the hub away, the printer out of paper. Screenshots of every screen go to a temporary
folder (`hall docs screenshots` makes the ones in docs/screenshots)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.kiosk import all_day_hall, shipped_catalogue
from tests.helpers.rig import wait_for

PORTRAIT, LANDSCAPE = (1080, 1920), (1024, 600)
SIZES = {"1080x1920": PORTRAIT, "1024x600": LANDSCAPE}


def health_events(rig) -> list[dict]:
    with rig.db() as db:
        return [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM events WHERE device='kiosk-01' AND type='health' ORDER BY received_at")]


@pytest.fixture
def online_hall(kiosk_rig):
    kiosk_rig.start_hub()
    return kiosk_rig


def _kiosk(kiosk_screen, rig, size=PORTRAIT, printer=None, **kw):
    link = rig.link("kiosk-01")
    kw.setdefault("request_timeout", 5.0)
    k = kiosk_screen(rig.hall, rig.data_dir, size, link=link, printer=printer, **kw)
    return k, link


def _online(k, link):
    assert link.wait_connected(10)
    k.screen.until(lambda: k.app.ui.hub_online, 10, "the kiosk sees the hub online")


# ---------------------------------------------------------------- 取号, by touch, to the printed ticket

def test_take_a_ticket_from_home_to_the_printed_ticket(kiosk_screen, online_hall, printer_sim, ticket_printer):
    k, link = _kiosk(kiosk_screen, online_hall, PORTRAIT, ticket_printer, ticket_return=1.0)
    _online(k, link)
    app = k.app
    assert app.current == "home"
    k.tap_id("home", "guides")
    assert app.current == "departments"
    k.tap(app.screen("departments").buttons["scjg"])
    assert app.current == "services"
    k.tap(k.row("services", "scjg-001"))
    assert app.current == "guide"
    guide = app.screen("guide")
    texts = [w.text for w in guide.ids.body.children]
    assert any("个体工商户设立登记" in t for t in texts)
    assert any("经营者身份证原件" in t for t in texts)
    assert not guide.ids.take.disabled
    k.tap(guide.ids.take)
    k.until_screen("ticket")
    ticket = app.screen("ticket")
    k.screen.until(lambda: ticket.number == "A001" and "请取走号票" in ticket.printer_line, 15, "ticket printed")
    assert "请到 1、2、3 号窗口办理（一楼东区）" in ticket.windows_line
    assert "Please go to windows 1, 2, 3 (Floor 1, east hall)" in ticket.windows_line
    assert "前面没有人 · 无需等待" in ticket.ahead_line and "预计等待" not in ticket.ahead_line
    assert "个体工商户设立登记" in ticket.service_name
    [printed] = printer_sim.wait_tickets(1)
    assert printed.find("A001").width == 4 and printed.find("个体工商户设立登记")
    assert printed.find("经营者身份证原件") and printed.qr_codes
    # back home by itself
    k.until_screen("home", 10)


def test_take_a_ticket_for_a_business_type_in_landscape(kiosk_screen, online_hall, printer_sim, ticket_printer):
    k, link = _kiosk(kiosk_screen, online_hall, LANDSCAPE, ticket_printer)
    _online(k, link)
    k.tap_id("home", "take")
    assert k.app.current == "queues"
    k.tap(k.app.screen("queues").buttons["G"])
    ticket = k.app.screen("ticket")
    k.screen.until(lambda: ticket.number == "G001" and "请取走号票" in ticket.printer_line, 15, "ticket printed")
    k.tap(ticket.ids.done)
    assert k.app.current == "home"
    assert printer_sim.wait_tickets(1)[0].find("G001")


# ---------------------------------------------------------------- 查询 on the kiosk's keyboard

def test_search_typed_on_the_on_screen_keyboard(kiosk_screen, kiosk_rig):
    k, _ = _kiosk(kiosk_screen, kiosk_rig, PORTRAIT)
    k.tap_id("home", "search")
    assert k.app.current == "search"
    scr = k.app.screen("search")
    keys = scr.ids.keyboard.keys
    for key in "sfx":
        k.tap(keys[key])
    assert scr.query == "sfx"
    k.tap(keys["backspace"])
    k.tap(keys["z"])
    assert scr.query == "sfz" and not scr.showing_popular
    assert [r["key"] for r in scr.rows][:3] == ["gahz-001", "gahz-002", "gahz-003"]
    assert "找到 3 项" in scr.status
    k.tap(k.row("search", "gahz-002"))
    assert k.app.current == "guide" and k.app.screen("guide").service == "gahz-002"
    k.tap(k.app.screen("guide").ids.bar.ids.back)
    assert k.app.current == "search" and scr.query == "sfz"
    k.tap(keys["clear"])
    assert scr.query == "" and scr.showing_popular
    for key in "yingye":
        k.tap(keys[key])
    assert scr.rows and "营业执照" in scr.rows[0]["text"]
    for key in "1":
        k.tap(keys[key])
    assert scr.query == "yingye1"


def test_popular_words_are_one_touch_away(kiosk_screen, kiosk_rig):
    k, _ = _kiosk(kiosk_screen, kiosk_rig, LANDSCAPE)
    k.app.open_search()
    k.screen.pump(3)
    chips = {c.text: c for c in k.app.screen("search").ids.chips.children}
    k.tap(chips["公积金提取"])
    rows = k.app.screen("search").rows
    assert rows and rows[0]["key"].startswith("gjj-")


# ---------------------------------------------------------------- idle and language

def test_an_idle_kiosk_goes_home_and_back_to_chinese(kiosk_screen, kiosk_rig):
    k, _ = _kiosk(kiosk_screen, kiosk_rig, PORTRAIT)
    k.tap_id("home", "lang")
    assert k.app.ui.lang == "en"
    assert k.app.screen("home").ids.take.text.startswith("Take a ticket")
    k.tap_id("home", "guides")
    k.tap(k.app.screen("departments").buttons["gjj"])
    assert k.app.current == "services"
    k.app.idle_timeout, k.app.idle_ask = 0.5, 1  # from the next touch on
    k.tap(k.app.screen("services").ids.bar)
    k.screen.until(lambda: k.app.prompt is not None and k.app.prompt.parent is not None, 10, "the question")
    k.until_screen("home", 10)
    assert k.app.ui.lang == "zh"
    assert k.app.screen("home").ids.take.text.startswith("取号")


def test_every_touch_restarts_the_idle_clock(kiosk_screen, kiosk_rig):
    k, _ = _kiosk(kiosk_screen, kiosk_rig, PORTRAIT)
    k.tap_id("home", "search")
    keys = k.app.screen("search").ids.keyboard.keys
    for key in "gongjijin":
        armed = k.app._idle_event
        k.tap(keys[key])
        assert k.app._idle_event is not armed and k.app._idle_event.is_triggered
    assert k.app.current == "search"
    assert k.app._idle_event.timeout == 60


# ---------------------------------------------------------------- the hub away

def test_with_the_hub_offline_guides_and_search_work_and_tickets_say_why_not(kiosk_screen, kiosk_rig):
    k, link = _kiosk(kiosk_screen, kiosk_rig, PORTRAIT)
    assert link.wait_connected(10, hub=False)
    app = k.app
    home = app.screen("home")
    assert not app.ui.hub_online
    assert home.ids.take.disabled and "暂停取号：大厅服务器离线" in home.ids.take.text
    k.tap(home.ids.take)
    assert app.current == "home"
    k.shot("offline-home-1080x1920")
    k.tap(home.ids.guides)
    k.tap(app.screen("departments").buttons["crj"])
    k.tap(k.row("services", "crj-001"))
    guide = app.screen("guide")
    assert any("普通护照签发" in w.text for w in guide.ids.body.children)
    assert guide.ids.take.disabled and "大厅服务器离线" in guide.ids.take.text
    k.shot("offline-guide-1080x1920")
    app.open_search()
    app.model.search.set_query("huzhao")
    assert app.screen("search").rows[0]["key"] in ("crj-001", "crj-004")
    assert link.pending() == 0
    # the hub comes back: the buttons come back
    kiosk_rig.start_hub()
    k.screen.until(lambda: app.ui.hub_online, 15, "hub online")
    app.open_guide("crj-001")
    assert not guide.ids.take.disabled
    app.home()
    assert not home.ids.take.disabled


def test_the_kiosk_starts_from_its_cached_catalogue_with_the_hub_away(kiosk_screen, make_rig, tmp_path):
    data = shipped_catalogue()
    extra = dict(data["services"][0], id="scjg-900", name="个体工商户年度报告", keywords=["年报"])
    data["services"].append(extra)
    rig = make_rig(config=all_day_hall(tmp_path / "hub-config", catalogue=data))
    rig.start_hub()
    kiosk_hall = all_day_hall(tmp_path / "kiosk-config")  # the kiosk's own copy does not have it
    from hall.settings import load_hall

    link = rig.link("kiosk-01")
    k = kiosk_screen(load_hall(kiosk_hall), rig.data_dir, PORTRAIT, link=link)
    k.screen.until(lambda: k.app.catalogue_updates == 1, 30, "the hub's catalogue taken")
    assert k.app.model.catalogue.service("scjg-900") is not None
    link.stop()
    rig.close()
    # next morning, the hub is away: the kiosk starts from its cache
    k2 = kiosk_screen(load_hall(kiosk_hall), rig.data_dir, PORTRAIT, link=None)
    assert k2.app.catalogue_source == "cache"
    k2.app.open_guide("scjg-900")
    assert any("个体工商户年度报告" in w.text for w in k2.app.screen("guide").ids.body.children)
    k2.app.model.search.set_query("nb")
    assert "scjg-900" in [h.id for h in k2.app.model.search.results]


# ---------------------------------------------------------------- the printer out of paper

def test_printer_out_of_paper_shows_the_number_and_reports_it(kiosk_screen, online_hall, printer_sim,
                                                              ticket_printer):
    printer_sim.paper = "out"
    k, link = _kiosk(kiosk_screen, online_hall, PORTRAIT, ticket_printer, ticket_return=30)
    _online(k, link)
    k.tap_id("home", "take")
    k.tap(k.app.screen("queues").buttons["C"])
    ticket = k.app.screen("ticket")
    k.screen.until(lambda: ticket.number == "C001" and ticket.printer_problem, 15, "paper out shown")
    assert "打印机需要维护，请记下您的号码" in ticket.printer_line and "打印机缺纸" in ticket.printer_line
    k.shot("ticket-paper-out-1080x1920")
    assert printer_sim.tickets == []
    wait_for(lambda: {"printer": "paper_out"} in health_events(online_hall), 10, "health event")
    assert k.app.store.tickets()[-1]["no"] == "C001"


# ---------------------------------------------------------------- kiosk mode

def test_escape_keys_are_swallowed_in_kiosk_mode(kiosk_screen, kiosk_rig):
    from kivy.core.window import Window

    k, _ = _kiosk(kiosk_screen, kiosk_rig, LANDSCAPE)
    app = k.app
    app.lock_down()
    try:
        from hall.screen import screen_size

        # the window covers the X screen, borderless: SDL's own full screen is clipped without a window manager
        assert Window.borderless and not Window.fullscreen and tuple(Window.size) == screen_size()
        for key in (27, 282):  # Escape, F1
            assert Window.dispatch("on_keyboard", key, 0, None, []) is True
        assert Window.dispatch("on_keyboard", 52, 0, "4", ["alt"]) is True  # Alt+F4 and friends
        assert Window.dispatch("on_request_close") is True
        assert Window.dispatch("on_keyboard", 97, 0, "a", []) is not True  # ordinary keys still pass
    finally:
        Window.unbind(on_keyboard=app._swallow_keys, on_request_close=app._refuse_close)
        Window.fullscreen = Window.borderless = False
        Window.show_cursor = True
        k.screen.show(k.root, LANDSCAPE)


# ---------------------------------------------------------------- screenshots of every screen

@pytest.mark.parametrize("tag", list(SIZES))
def test_screenshots_of_every_screen(kiosk_screen, online_hall, printer_sim, ticket_printer, tag):
    k, link = _kiosk(kiosk_screen, online_hall, SIZES[tag], ticket_printer, ticket_return=60)
    _online(k, link)
    app = k.app
    app.home()
    k.shot(f"home-{tag}")
    app.open_queues()
    k.shot(f"queues-{tag}")
    app.open_departments()
    k.shot(f"departments-{tag}")
    app.open_services("bdc")
    k.shot(f"services-{tag}")
    app.open_guide("bdc-001")
    k.shot(f"guide-{tag}")
    app.open_search()
    k.shot(f"search-{tag}")
    for key in "sfz":
        k.tap(app.screen("search").ids.keyboard.keys[key])
    k.shot(f"search-results-{tag}")
    app.toggle_language()
    app.open_guide("crj-001")
    k.shot(f"guide-en-{tag}")
    app.home()
    k.shot(f"home-en-{tag}")
    app.toggle_language()
    app.take_ticket(service="bdc-001")
    ticket = app.screen("ticket")
    k.screen.until(lambda: ticket.number and "请取走号票" in ticket.printer_line, 15, "ticket printed")
    k.shot(f"ticket-{tag}")
    # every label's text fits inside the window
    width, height = SIZES[tag]
    for scr in ("home", "ticket"):
        app._go(scr, remember=False)
        k.screen.pump(3)
        for w in app.screen(scr).walk():
            if getattr(w, "text", "") and w.opacity and w.width > 1:
                x, y = w.to_window(w.x, w.y)
                assert x >= -1 and x + w.width <= width + 1, (scr, w.text[:30])
                assert y >= -1 and y + w.height <= height + 1, (scr, w.text[:30])
