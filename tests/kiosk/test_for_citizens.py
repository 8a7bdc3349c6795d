"""The kiosk as older citizens and visitors use it, on a real Kivy window (Xvfb) against a real broker and hub:
the wait on every ticket button, the question before an idle kiosk goes home, 大字版 and the smallest text drawn,
English that fits its boxes, and search results that say why they matched."""

from __future__ import annotations

import pytest

from tests.helpers.kiosk_walk import SCENES, overflowing, overlapping, walk

LANDSCAPE, PORTRAIT = (1024, 600), (1080, 1920)


@pytest.fixture
def online(kiosk_screen, kiosk_rig):
    """Factory: a kiosk on the window at a size, the hub running and seen online."""
    kiosk_rig.start_hub()

    def make(size=LANDSCAPE, **kw):
        link = kiosk_rig.link("kiosk-01")
        k = kiosk_screen(kiosk_rig.hall, kiosk_rig.data_dir, size, link=link, **kw)
        assert link.wait_connected(10)
        k.screen.until(lambda: k.app.ui.hub_online, 10, "the kiosk sees the hub online")
        return k

    return make


# ---------------------------------------------------------------- 等候 N 人 · 约 M 分钟 on the ticket buttons

def test_ticket_buttons_show_the_wait_and_the_department_from_the_hub(online, kiosk_rig):
    k = online(LANDSCAPE)
    app = k.app
    clerk = kiosk_rig.link("kiosk-02")
    assert clerk.wait_connected(10)
    for _ in range(3):
        assert clerk.request("ticket_request", {"queue": "Q"}, 10)["ok"]
    app.open_queues()
    buttons = app.screen("queues").buttons
    # Q's standard is in the catalogue: 3 waiting at its two windows
    k.screen.until(lambda: "等候 3 人 · 约" in buttons["Q"].text, 10, "Q's wait on its button")
    q = buttons["Q"].text
    assert q.index("投资项目并联审批") < q.index("发展和改革局") < q.index("等候 3 人")
    assert "Investment Project Approval" in q
    assert "等候 0 人 · 无需等待" in buttons["U"].text and "商务局" in buttons["U"].text
    # a queue named like its department does not say it twice
    assert "不动产登记中心" not in buttons["B"].text
    k.shot("queues-waiting-1024x600")
    # the waits follow the hub while the screen is open
    assert clerk.request("ticket_request", {"queue": "U"}, 10)["ok"]
    k.screen.until(lambda: "等候 1 人 · 约" in buttons["U"].text, 10, "U's new wait")
    app.toggle_language()
    buttons = app.screen("queues").buttons
    assert "1 waiting · about" in buttons["U"].text and "Commerce" in buttons["U"].text.split("\n")[0]
    clerk.stop()


# ---------------------------------------------------------------- 还需要更多时间吗？ before going home

def test_an_idle_kiosk_asks_for_more_time_before_going_home(kiosk_screen, kiosk_rig):
    k = kiosk_screen(kiosk_rig.hall, kiosk_rig.data_dir, LANDSCAPE, idle_timeout=0.6, guide_idle_timeout=1.5,
                     idle_ask=3)
    app = k.app
    app.open_departments()
    app.open_services("fg")
    asked = lambda: app.prompt is not None and app.prompt.parent is not None  # noqa: E731
    k.screen.until(asked, 5, "the question")
    prompt = app.prompt
    assert "还需要更多时间吗？" in prompt.ids.question.text and "Need more time?" in prompt.ids.question.text
    assert "3 秒后返回首页" in prompt.ids.left.text
    k.screen.until(lambda: "2 秒后返回首页" in prompt.ids.left.text, 3, "the countdown")
    assert app.current == "services"
    k.shot("idle-question-1024x600")
    # a touch beside the buttons is a yes, and reaches nothing under the question
    touched = []
    app.screen("services").ids.bar.ids.home.bind(on_release=lambda *_: touched.append(1))
    k.tap(app.screen("services").ids.bar.ids.home)
    assert not asked() and app.current == "services" and not touched
    # asked again; 需要，继续 keeps the screen
    k.screen.until(asked, 5, "the question again")
    k.tap(prompt.ids.yes)
    assert not asked() and app.current == "services"
    # nobody answers: home after the countdown, in Chinese at the normal size
    app.toggle_language()
    app.toggle_large()
    k.screen.until(asked, 5, "the question a third time")
    k.until_screen("home", 6)
    assert not asked() and app.ui.lang == "zh" and not app.ui.large
    # a guide page waits longer before it asks
    app.open_guide("fg-001")
    assert app._idle_event.timeout == 1.5
    k.screen.advance(1.0)
    assert not asked() and app.current == "guide"
    k.screen.until(asked, 5, "the question on a guide page")
    k.tap(prompt.ids.no)
    assert app.current == "home" and not asked()


def test_the_idle_times_are_settings_of_the_kiosk(kiosk_screen, kiosk_rig):
    k = kiosk_screen(kiosk_rig.hall, kiosk_rig.data_dir, LANDSCAPE)
    assert (k.app.idle_timeout, k.app.guide_idle_timeout, k.app.idle_ask) == (60, 180, 20)
    k.app.open_search()
    assert k.app._idle_event.timeout == 60
    k.app.open_guide("fg-001")
    assert k.app._idle_event.timeout == 180


# ---------------------------------------------------------------- text older citizens can read

@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_no_text_under_20_px_on_any_screen_at_1024x600(online, large):
    k = online(LANDSCAPE, ticket_return=60)
    app = k.app
    if large:
        k.tap(app.screen("home").ids.large)
        assert app.ui.large and "标准字" in app.screen("home").ids.large.text
    floor = 26 if large else 20
    seen = walk(k)
    assert {d.scene for d in seen} >= {"home", "queues", "guide", "search-none", "ticket", "idle-question"}
    small = [(d.scene, d.text[:40], min(d.sizes)) for d in seen if min(d.sizes) < floor]
    assert small == [], "\n".join(map(str, small))
    body = [d for d in seen if d.scene == "guide" and "实行备案管理的企业投资项目" in d.text]
    assert body and min(body[0].sizes) >= floor


def test_large_text_switch_is_on_every_screen_and_keeps_the_screen(online):
    k = online(LANDSCAPE)
    app = k.app
    for name, go in (("home", app.home), ("queues", app.open_queues), ("departments", app.open_departments),
                     ("guide", lambda: app.open_guide("fg-001")), ("search", app.open_search)):
        go()
        k.screen.pump(3)
        scr = app.screen(name)
        switch = scr.ids.large if name == "home" else scr.ids.bar.ids.large
        before = app.ui.u
        k.tap(switch)
        assert (app.ui.large, app.current) == (True, name)
        assert app.ui.u == pytest.approx(before * 1.3)
        k.tap(switch)
        assert not app.ui.large and app.current == name


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_label_fits_its_box_at_1024x600(online, lang, large):
    k = online(LANDSCAPE, ticket_return=60)
    app = k.app
    if lang == "en":
        app.toggle_language()
    if large:
        app.toggle_large()
    seen = walk(k)
    cut = [(d.scene, d.text[:50], d.texture, tuple(round(v) for v in d.box)) for d in seen if overflowing(d)]
    assert cut == [], "\n".join(map(str, cut))
    over = [(scene, *pair) for scene, _ in SCENES if scene != "idle-question" for pair in overlapping(seen, scene)]
    assert over == [], "\n".join(map(str, over))
    if lang == "en":
        titles = [d.text for d in seen if d.scene == "search"]
        assert "Search the service guides" in titles


def test_english_labels_fit_in_portrait_too(online):
    k = online(PORTRAIT, ticket_return=60)
    k.app.toggle_language()
    k.app.toggle_large()
    seen = walk(k)
    cut = [(d.scene, d.text[:50], d.texture, tuple(round(v) for v in d.box)) for d in seen if overflowing(d)]
    assert cut == [], "\n".join(map(str, cut))
    over = [(scene, *pair) for scene, _ in SCENES if scene != "idle-question" for pair in overlapping(seen, scene)]
    assert over == [], "\n".join(map(str, over))


def test_an_english_guide_says_it_is_chinese_only(online):
    k = online(LANDSCAPE)
    app = k.app
    app.toggle_language()
    app.open_guide("crj-001")
    texts = [w.text for w in app.screen("guide").ids.body.children]
    assert any("This guide is in Chinese only" in t and "本指南只有中文版" in t for t in texts)
    assert any("Ordinary passport" in t for t in texts)
    assert any("Floor 1, west hall" in t for t in texts)
    app.toggle_language()
    texts = [w.text for w in app.screen("guide").ids.body.children]
    assert not any("本指南只有中文版" in t for t in texts)


# ---------------------------------------------------------------- search that explains itself

def test_the_shortcut_and_its_initials_agree_and_say_why(online):
    k = online(LANDSCAPE)
    app = k.app
    k.tap(app.screen("home").ids.search)
    scr = app.screen("search")
    keys = scr.ids.keyboard.keys
    assert keys["y"].text == "y"
    for key in "yyzz":
        k.tap(keys[key])
    assert scr.ids.query.text.startswith("yyzz")  # as typed, lower case like the hint's sfz
    by_initials = [r["key"] for r in scr.rows]
    assert len(by_initials) == 5
    assert all(("名称" in r["text"] or "关键词" in r["text"]) for r in scr.rows)
    assert "1、2、3 号窗口" in scr.rows[0]["text"]
    k.tap(keys["clear"])
    chips = {c.text: c for c in scr.ids.chips.children}
    k.tap(chips["营业执照"])
    rows = scr.rows
    assert [r["key"] for r in rows[:5]] == by_initials
    assert all("指南内容提到" in r["text"] for r in rows[5:]) and len(rows) > 5
    assert f"名称或关键词 5 项 · 指南内容提到 {len(rows) - 5} 项" in scr.status
    k.shot("search-why-1024x600")


def test_nothing_found_offers_browsing_and_the_information_desk(online):
    k = online(LANDSCAPE)
    app = k.app
    app.open_search()
    scr = app.screen("search")
    for key in "qqqxz":
        k.tap(scr.ids.keyboard.keys[key])
    assert scr.no_results and "没有找到" in scr.status
    assert "咨询台" in scr.ids.help_desk.text and "information desk" in scr.ids.help_desk.text
    k.shot("search-none-1024x600")
    k.tap(scr.ids.browse)
    assert app.current == "departments"
