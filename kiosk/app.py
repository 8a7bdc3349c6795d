"""The self-service kiosk (Kivy): take a ticket, read the service guides, search them.

    app = KioskApp(hall, "kiosk-01", data_dir, link=link, printer=printer)
    app.run()                  # in the field
    root = app.build()         # in tests: put root on the shared test window and drive it with touches

Layout lives in kiosk/kv/ (one .kv per screen); behaviour in kiosk/screens.py; the flows (取号, 查询) in
kiosk/model.py, which the tests drive without a window. Nothing here calls App.get_running_app(), so the root can
be built and shown without App.run().
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from hall.catalogue import Catalogue
from hall.errors import ConfigError
from kiosk.cache import KioskStore
from kiosk.entry import EntryFlow
from kiosk.fonts import register_default_font
from kiosk.model import ISSUED, REFUSED, REQUESTING, WAITING, KioskModel, TicketState
from kiosk.ui import KioskUI

log = logging.getLogger("kiosk")

KV_DIR = Path(__file__).resolve().parent / "kv"
_loaded: set[str] = set()


def load_kv(*names: str) -> None:
    """Load kv files once per process: widgets.kv first, then a screen's own file when it is first shown."""
    import kiosk.screens  # noqa: F401  (the classes the rules name)
    import kiosk.ui  # noqa: F401

    for name in ("widgets", *names):
        if name not in _loaded:
            Builder.load_file(str(KV_DIR / f"{name}.kv"))
            _loaded.add(name)


def unit_for(width: float, height: float) -> float:
    """The size unit: ~40 px on a 1080 × 1920 portrait screen, ~22 px on a 1024 × 600 landscape one."""
    return max(min(width, height) / 27.0, 12.0)


class KioskRoot(FloatLayout):
    """The window's root: notices every touch (the idle timer) and the screen's size (the unit, the orientation)."""

    def __init__(self, kiosk: KioskApp, **kw):
        super().__init__(**kw)
        self.kiosk = kiosk
        self.bind(size=self._resized)

    def _resized(self, *_):
        ui = self.kiosk.ui
        ui.portrait = self.height > self.width
        ui.base_u = unit_for(self.width, self.height)
        Clock.schedule_once(lambda dt: self.kiosk.refresh(), 0)

    def on_touch_down(self, touch):
        prompt = self.kiosk.prompt
        if prompt is not None and prompt.parent is self:
            # 还需要更多时间吗: its buttons answer; a touch anywhere else means "yes" and reaches nothing below
            if not prompt.on_touch_down(touch):
                self.kiosk.more_time()
            return True
        self.kiosk.touched()
        return super().on_touch_down(touch)


class KioskApp(App):
    title = "政务服务自助终端 · Self-service kiosk"

    def __init__(self, hall, device_id: str, data_dir: Path | str, *, link=None, printer=None,
                 idle_timeout: float = 60.0, guide_idle_timeout: float = 180.0, idle_ask: float = 20.0,
                 ticket_return: float = 20.0, request_timeout: float = 5.0,
                 fullscreen: bool = False, catalogue: Catalogue | None = None, build_index_in_process: bool = False,
                 **kw):
        super().__init__(**kw)
        self.hall = hall
        self.device_id = device_id
        self.link = link
        self.printer = printer
        self.idle_timeout = idle_timeout              # untouched this long: ask 还需要更多时间吗？
        self.guide_idle_timeout = guide_idle_timeout  # the same on a guide page, where reading takes longer
        self.idle_ask = idle_ask                      # the question's countdown before going home
        self.ticket_return = ticket_return
        self.fullscreen = fullscreen
        self.store = KioskStore(data_dir, device_id)
        self._in_process = build_index_in_process
        if catalogue is None:
            catalogue, self.catalogue_source = self.store.load_catalogue(hall.catalogue)
        else:
            self.catalogue_source = "given"
        index = self.store.open_index(catalogue, in_process=build_index_in_process)
        self.model = KioskModel(hall, catalogue, index, link=link, printer=printer, request_timeout=request_timeout,
                                call=self._on_ui_thread, store=self.store)
        self.model.ticket.on_change = self._ticket_changed
        self.model.search.on_change = self._search_changed
        self.model.cases.on_change = self._cases_changed
        self.entry = EntryFlow()  # 预约签到, and the ID number a queue needs before its ticket
        self.id_required = frozenset(hall.appointments.id_required)
        self.ask_phone = False  # the citizen asked to leave a mobile number with the ticket (手机号，叫号前短信提醒)
        self.ui = KioskUI(toggle=self.toggle_language, toggle_large=self.toggle_large)
        self.ui.hub_online = bool(link is not None and link.hub_online)
        self.sm: ScreenManager | None = None
        self.root_widget: KioskRoot | None = None
        self.history: list[tuple[str, dict]] = []
        self._idle_event = None
        self._ask_event = None
        self.prompt = None
        self.catalogue_updates = 0

    # ------------------------------------------------------------ building

    def build(self):
        register_default_font()
        self.sm = ScreenManager(transition=NoTransition())
        home = self.screen("home")  # the others are made when first shown: a faster start
        home.hall_name = self.hall.info.name
        home.hall_name_en = self.hall.info.name_en
        root = KioskRoot(self)
        root.add_widget(self.sm)
        self.root_widget = root
        if self.link is not None:
            self.link.on_hub_status(lambda online: self._on_ui_thread(self._hub_status, online))
            self.link.subscribe("hub/catalogue", self._catalogue_message)
            self.link.subscribe("hub/state/queue/+", self._queue_message)
            self.ui.hub_online = bool(self.link.hub_online)
        if self.fullscreen:
            self.lock_down()
        if self.printer is not None:
            threading.Thread(target=self.model.ticket.check_printer, name="printer-check", daemon=True).start()
        self.home()
        return root

    def lock_down(self) -> None:
        """Full-screen kiosk mode: no key or window-manager request may close or leave the app. The window covers
        the X screen, borderless at (0, 0): SDL's own full screen leaves a clipped 800×600 corner where no window
        manager runs (a hall's kiosk)."""
        from hall.screen import cover_screen

        log.info("kiosk window covers the screen: %s", cover_screen(Window, Clock.schedule_once))
        Window.show_cursor = False
        Window.bind(on_keyboard=self._swallow_keys, on_request_close=self._refuse_close)

    @staticmethod
    def _swallow_keys(window, key, scancode=None, codepoint=None, modifiers=None, *args):
        # 27: Escape (and Android back), 282: F1 (Kivy settings), 292/293: F11/F12; a public kiosk has no use for
        # any of them; Alt+F4 arrives as on_request_close
        if key in (27, 282, 292, 293) or (modifiers and ("ctrl" in modifiers or "alt" in modifiers)):
            return True
        return False

    @staticmethod
    def _refuse_close(*args, **kw):
        return True

    def open_settings(self, *largs):  # F1 would open Kivy's settings panel
        return False

    def on_stop(self):
        if self.link is not None:
            self.link.stop()
        if self.printer is not None:
            self.printer.close()

    # ------------------------------------------------------------ threads → the Kivy thread

    @staticmethod
    def _on_ui_thread(fn, *args) -> None:
        Clock.schedule_once(lambda dt: fn(*args), 0)

    def _hub_status(self, online: bool) -> None:
        self.ui.hub_online = online
        self.refresh()

    def _catalogue_message(self, topic: str, payload: dict) -> None:
        """A retained `hub/catalogue` (network thread): keep it and rebuild the index off the UI thread."""
        if payload.get("sha256") and payload.get("sha256") == self.model.catalogue.digest:
            if self.catalogue_source != "cache" and not self.store.catalogue_path.exists():
                threading.Thread(target=self._save_only, args=(payload,), daemon=True).start()
            return
        threading.Thread(target=self._adopt_catalogue, args=(payload,), name="catalogue", daemon=True).start()

    def _queue_message(self, topic: str, payload: dict) -> None:
        """A retained `hub/state/queue/{queue}` (network thread): the waiting count on the ticket buttons."""
        self._on_ui_thread(self._queue_changed, topic, payload)

    def _queue_changed(self, topic: str, payload: dict) -> None:
        if self.model.queue_state(topic, payload) is not None and self.sm is not None \
                and self.sm.has_screen("queues"):
            self.screen("queues").update_waits()

    def _save_only(self, payload: dict) -> None:
        try:
            self.store.save_catalogue(payload)
            self.catalogue_source = "cache"
        except ConfigError as err:
            log.warning("kiosk: hub catalogue refused: %s", err)

    def _adopt_catalogue(self, payload: dict) -> None:
        try:
            catalogue = self.store.save_catalogue(payload)
            index = self.store.open_index(catalogue, in_process=self._in_process)
        except ConfigError as err:
            log.warning("kiosk: hub catalogue refused, keeping ours: %s", err)
            return
        except Exception:
            log.exception("kiosk: could not take the hub's catalogue")
            return
        self._on_ui_thread(self._catalogue_ready, catalogue, index)

    def _catalogue_ready(self, catalogue: Catalogue, index) -> None:
        self.model.set_catalogue(catalogue, index)
        self.catalogue_source = "cache"
        self.catalogue_updates += 1
        self.refresh()

    # ------------------------------------------------------------ navigation

    def screen(self, name: str):
        if not self.sm.has_screen(name):
            from kiosk.screens import SCREENS

            load_kv(*(("caselookup",) if name == "entry" else ()), name)  # the entry screen's keypad keys
            self.sm.add_widget(SCREENS[name](name=name, ui=self.ui, kiosk=self))
        return self.sm.get_screen(name)

    @property
    def current(self) -> str:
        return self.sm.current if self.sm else ""

    def _go(self, name: str, remember: bool = True, **props) -> None:
        if remember and self.sm.current and self.sm.current != name and self.sm.current != "ticket":
            self.history.append((self.sm.current, self._props_of(self.sm.current)))
        scr = self.screen(name)
        for k, v in props.items():
            setattr(scr, k, v)
        scr.refresh()
        self.sm.current = name
        self._arm_idle()

    def _props_of(self, name: str) -> dict:
        keys = {"services": ("department",), "guide": ("service",)}.get(name, ())
        scr = self.screen(name)
        return {k: getattr(scr, k) for k in keys}

    def home(self) -> None:
        self.history.clear()
        self.model.ticket.reset()
        self.model.search.clear()
        self.model.cases.reset()  # the next citizen sees no case number typed before
        self.entry.reset()  # nor a booking code or an ID number
        self.ask_phone = False
        self._go("home", remember=False)

    def back(self) -> None:
        if not self.history:
            self.home()
            return
        name, props = self.history.pop()
        self._go(name, remember=False, **props)

    def open_queues(self) -> None:
        self._go("queues")

    def open_departments(self) -> None:
        self._go("departments")

    def open_services(self, dept_id: str) -> None:
        self._go("services", department=dept_id)

    def open_guide(self, service_id: str) -> None:
        self._go("guide", service=service_id)

    def open_search(self) -> None:
        self._go("search")

    def open_case_lookup(self) -> None:
        self.model.cases.reset()
        self._go("caselookup")

    def open_checkin(self) -> None:
        """预约签到: the booking code or the ID number on the keypad, then a ticket as by 取号."""
        self.entry.start_checkin()
        self._go("entry")

    def toggle_ask_phone(self) -> None:
        self.ask_phone = not self.ask_phone
        self.refresh()

    def submit_entry(self) -> bool:
        if not self.entry.submit(self.model.ticket):
            self.refresh()
            return False
        Clock.schedule_once(self._show_requesting, self.SHOW_REQUESTING_AFTER)
        return True

    def _needs_id(self, service: str | None, queue: str | None) -> bool:
        """A queue whose walk-ins must give the ID number (`[appointments] id_required`)."""
        if queue is None and service is not None:
            item = self.model.catalogue.service(service)
            queue = item.queue if item else None
        return queue is not None and queue in self.id_required

    # a ticket usually comes back within a frame or two: show 正在取号 only if it does not, so the citizen sees
    # the number one full-screen redraw sooner
    SHOW_REQUESTING_AFTER = 0.15

    def take_ticket(self, service: str | None = None, queue: str | None = None) -> bool:
        needs_id = self._needs_id(service, queue)
        if needs_id or self.ask_phone:
            # the ID number first (one ticket per person per queue per day), and a mobile number if they like
            self.entry.start_details(queue, service, id_required=needs_id)
            self._go("entry")
            return True
        if not self.model.ticket.take(service=service, queue=queue):
            self.refresh()
            return False
        Clock.schedule_once(self._show_requesting, self.SHOW_REQUESTING_AFTER)
        return True

    def _show_requesting(self, _dt) -> None:
        if self.model.ticket.s.state == REQUESTING and self.sm.current != "ticket":
            self._go("ticket")

    def toggle_language(self) -> None:
        self.ui.lang = self.model.toggle_language()
        self.refresh()

    def toggle_large(self) -> None:
        """大字版: every size on every screen grows (ui.u), and the lists are laid out again."""
        self.ui.large = not self.ui.large
        self.refresh()

    def refresh(self) -> None:
        """Redraw the visible screen (language, size or hub state changed)."""
        if self.sm is None:
            return
        scr = self.sm.current_screen
        if scr.name == "ticket":
            scr.show(self.model.ticket.s)
        else:
            scr.refresh()

    # ------------------------------------------------------------ flows → screens

    def _ticket_changed(self, s: TicketState) -> None:
        if self.sm is None:
            return
        scr = self.screen("ticket")
        scr.show(s)
        if s.state in (ISSUED, REFUSED):
            scr.start_countdown(self.ticket_return)
        elif s.state in (REQUESTING, WAITING):
            scr.stop_countdown()
        if s.state in (ISSUED, REFUSED, WAITING) and self.sm.current != "ticket":
            self._go("ticket")
        self._arm_idle()

    def _cases_changed(self, _state) -> None:
        if self.sm is not None and self.sm.current == "caselookup":
            self.screen("caselookup").refresh()

    def _search_changed(self) -> None:
        if self.sm is not None and self.sm.current == "search":
            self.screen("search").refresh()

    # ------------------------------------------------------------ idle

    def touched(self) -> None:
        self._arm_idle()

    def idle_timeout_here(self) -> float:
        return self.guide_idle_timeout if self.current == "guide" else self.idle_timeout

    def _arm_idle(self) -> None:
        if self._idle_event is not None:
            self._idle_event.cancel()
        self._close_prompt()
        self._idle_event = Clock.schedule_once(self._idle, self.idle_timeout_here())

    def _idle(self, dt) -> None:
        if self.sm is None:
            return
        if self.current == "home":
            self._reset_looks()
            return
        if self.model.ticket.s.state in (REQUESTING, WAITING):
            self._arm_idle()  # the citizen is waiting for a ticket that is on its way
            return
        if self.current == "ticket":
            self._go_home_idle()  # the ticket screen counts down on its own
            return
        self.ask_more_time()

    def ask_more_time(self) -> None:
        """还需要更多时间吗？ Need more time? with a countdown; going home only if nobody answers."""
        from kiosk.ui import IdlePrompt

        if self.prompt is None:
            self.prompt = IdlePrompt(ui=self.ui, kiosk=self)
        if self.prompt.parent is None:
            self.root_widget.add_widget(self.prompt)
        self.prompt.seconds = self.idle_ask
        if self._ask_event is not None:
            self._ask_event.cancel()
        self._ask_event = Clock.schedule_interval(self._ask_tick, 1.0)

    def _ask_tick(self, dt) -> None:
        if self.prompt is None:
            return
        self.prompt.seconds = max(self.prompt.seconds - 1, 0)
        if self.prompt.seconds <= 0:
            self._go_home_idle()

    def more_time(self) -> None:
        """Yes: the question goes away and the clock starts again on the same screen."""
        self._arm_idle()

    def _close_prompt(self) -> None:
        if self._ask_event is not None:
            self._ask_event.cancel()
            self._ask_event = None
        if self.prompt is not None and self.prompt.parent is not None:
            self.prompt.parent.remove_widget(self.prompt)

    def _go_home_idle(self) -> None:
        self._close_prompt()
        self.home()
        self._reset_looks()

    def _reset_looks(self) -> None:
        """The next citizen starts in Chinese at the normal size."""
        if self.ui.lang != "zh":
            self.toggle_language()
        if self.ui.large:
            self.toggle_large()

    def stop_clocks(self) -> None:
        """Cancel the idle clock, the question and the ticket countdown (tests and screenshots)."""
        if self._idle_event is not None:
            self._idle_event.cancel()
        self._close_prompt()
        if self.sm is not None and self.sm.has_screen("ticket"):
            self.screen("ticket").stop_countdown()
