"""The window caller for a clerk's PC (`hall window --window 3`): a keyboard-driven terminal screen (Textual).

It shows the ticket being served at the window, who is logged in, and how many wait in each of the window's
queues (and backup queues); single keys call the next ticket, recall, mark a no-show, complete, transfer,
pause/resume, log in and out. Every action is a request through the device's durable link (`hall.link`); the
screen itself follows the hub's retained `state/window/{window}` and `state/queue/{queue}` topics, so it always
shows what the hub decided, whichever device did it.

Shape: `WindowPanel` is the pure part (hub state and answers in, text out), tested without a terminal;
`WindowCallerApp` is the Textual shell around it. Messages are Chinese first, English second.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Input, Label, Static

from hall.protocol import Answer, QueueState, WindowState, read_or_ignore

log = logging.getLogger("devices.window_caller")

REQUEST_TIMEOUT = 5.0

STATUS_TEXT = {
    "serving": "办理中 · serving",
    "idle": "空闲 · idle",
    "paused": "暂停服务 · paused",
    "closed": "未开窗 · closed",
}

OFFLINE = "中心离线，暂不能操作，请稍候 · the hub is offline; try again when it is back"
DISCONNECTED = "未连接到大厅服务器 · not connected to the hall server"
NO_ANSWER = "中心未应答：请求已保存，恢复后自动发送 · no answer from the hub: the request is kept and will be sent"


# ---------------------------------------------------------------- the pure part

@dataclass
class WindowPanel:
    """What the clerk's screen shows, from the hub's retained state and the answers to requests."""

    window: str
    queues: list[str]
    backup: list[str] = field(default_factory=list)
    queue_names: dict[str, str] = field(default_factory=dict)
    state: WindowState | None = None
    queue_state: dict[str, QueueState] = field(default_factory=dict)
    message: str = ""
    hub_online: bool = False

    @classmethod
    def for_hall(cls, hall, window: str) -> WindowPanel:
        spec = hall.catalogue.window(window)
        if spec is None:
            raise ValueError(f"没有 {window} 号窗口 · window {window!r} is not in the catalogue")
        names = {q.id: f"{q.name} {q.name_en}".strip() for q in hall.catalogue.queues}
        return cls(window=window, queues=list(spec.queues), backup=list(spec.backup), queue_names=names)

    # ------------------------------------------------------------ hub state in

    def on_hub_topic(self, topic: str, payload: dict) -> bool:
        """Take a retained state message; True when it changed this window's screen. A message that does not fit
        its model is logged and ignored."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[-3] != "state":
            return False
        kind, name = parts[-2], parts[-1]
        if kind == "window" and name == self.window:
            if not payload:  # the retained state was cleared: nothing known until the hub says again
                self.state = None
                return True
            state = read_or_ignore(WindowState, topic, payload, log)
            if state is not None:
                self.state = state
            return state is not None
        if kind == "queue" and name in (*self.queues, *self.backup):
            if not payload:
                return self.queue_state.pop(name, None) is not None
            queue = read_or_ignore(QueueState, topic, payload, log)
            if queue is not None:
                self.queue_state[name] = queue
            return queue is not None
        return False

    # ------------------------------------------------------------ text out

    @property
    def ticket(self) -> str | None:
        return self.state.ticket if self.state else None

    @property
    def staff(self) -> str | None:
        return self.state.staff if self.state else None

    @property
    def paused(self) -> bool:
        return self.state is not None and self.state.status == "paused"

    def title(self) -> str:
        return f"{self.window} 号窗口 · Window {self.window}"

    def ticket_text(self) -> str:
        return self.ticket or "—"

    def status_text(self) -> str:
        if self.state is None:
            return "等待中心状态 · waiting for the hub's state"
        status = STATUS_TEXT[self.state.status]
        staff = self.staff or "未登录 · nobody logged in"
        return f"{status}    工作人员 staff: {staff}"

    def connection_text(self, connected: bool) -> str:
        if not connected:
            return "○ " + DISCONNECTED
        return "● 中心在线 · hub online" if self.hub_online else "○ " + OFFLINE

    def queue_lines(self) -> list[str]:
        lines = []
        for qid in (*self.queues, *self.backup):
            st = self.queue_state.get(qid)
            label = f"{qid}  {self.queue_names.get(qid, '')}"
            if qid in self.backup:
                label += "  (备用 backup)"
            if st is None:
                lines.append(f"{label}: …")
                continue
            minutes = round((st.est_wait_s or 0) / 60)
            last = st.last_called or "—"
            lines.append(f"{label}: 等候 {st.waiting} 人 waiting · 约 {minutes} 分钟 min · 最近 last {last}")
        return lines

    def waiting(self) -> int:
        return sum(self.queue_state[q].waiting for q in self.queues if q in self.queue_state)

    def describe(self, op: str, answer: Answer | None) -> str:
        """A request's answer as the clerk reads it."""
        if answer is None:
            return NO_ANSWER
        if not answer.ok:
            return f"未执行 refused: {answer.error or answer.code}"
        ticket = answer.ticket
        no = ticket.no if ticket else None
        recall = ticket.recall if ticket else None
        moved_to = ticket.queue if ticket else None
        match op:
            case "call_next":
                if not no:
                    return "暂无等候的号 · nobody is waiting"
                return f"请 {no} 号到 {self.window} 号窗口 · {no} called to window {self.window}"
            case "recall":
                return f"重呼 {no}（第 {recall} 次）· {no} recalled ({recall})"
            case "skip":
                return f"{no} 过号 · {no} marked no-show"
            case "complete":
                return f"{no} 办结 · {no} done"
            case "transfer":
                return f"{no} 已转至 {moved_to} 类 · {no} transferred to queue {moved_to}"
            case "pause":
                return "窗口暂停服务 · window paused"
            case "resume":
                return "窗口恢复服务 · window resumed"
            case "login":
                return f"{answer.window.staff if answer.window else None} 已登录 · logged in"
            case "logout":
                return "已登出 · logged out"
        return "完成 · done"


# ---------------------------------------------------------------- the Textual shell

class PromptScreen(ModalScreen[str | None]):
    """One line of input (a staff id, a queue); Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "取消 cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 64; height: auto; border: thick $accent; padding: 1 2; background: $panel; }
    """

    def __init__(self, question: str, hint: str = ""):
        super().__init__()
        self.question = question
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            if self.hint:
                yield Label(self.hint, classes="hint")
            yield Input(id="answer")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HubChanged(Message):
    """Something the link heard (in its network thread) that the screen should show."""


class WindowCallerApp(App):
    TITLE = "窗口叫号 · Window caller"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key; the footer keeps room for them
    CSS = """
    #connection { height: 1; padding: 0 1; }
    #ticket { height: 5; content-align: center middle; text-style: bold; background: $boost; }
    #status { height: 1; padding: 0 1; }
    #queues { height: auto; padding: 1 1; }
    #message { height: auto; min-height: 2; padding: 0 1; color: $warning; }
    """
    BINDINGS = [
        Binding("n", "call_next", "叫号 next"),
        Binding("r", "recall", "重呼 recall"),
        Binding("s", "skip", "过号 skip"),
        Binding("c", "complete", "办结 complete"),
        Binding("t", "transfer", "转移 transfer"),
        Binding("p", "pause_resume", "暂停/恢复 pause"),
        Binding("l", "login", "登录 login"),
        Binding("o", "logout", "登出 logout"),
        Binding("q", "quit", "退出 quit"),
    ]

    def __init__(self, hall, link, window: str):
        super().__init__()
        self.hall = hall
        self.link = link
        self.panel = WindowPanel.for_hall(hall, window)
        self.panel.hub_online = link.hub_online
        self._lock = threading.Lock()
        self.busy = False  # one request at a time: a second key press while one is out is ignored
        link.subscribe(f"hub/state/window/{window}", self._heard)
        for q in (*self.panel.queues, *self.panel.backup):
            link.subscribe(f"hub/state/queue/{q}", self._heard)
        link.on_hub_status(self._hub_status)

    # ------------------------------------------------------------ link callbacks (network thread)

    def _heard(self, topic: str, payload: dict) -> None:
        with self._lock:
            changed = self.panel.on_hub_topic(topic, payload)
        if changed:
            self._poke()

    def _hub_status(self, online: bool) -> None:
        with self._lock:
            self.panel.hub_online = online
        self._poke()

    def _poke(self) -> None:
        # before the screen is up, on_mount shows whatever arrived meanwhile
        if self.is_running:
            self.post_message(HubChanged())

    # ------------------------------------------------------------ screen

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="connection")
        yield Static(id="ticket")
        yield Static(id="status")
        yield Static(id="queues")
        yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.panel.title()
        self.sub_title = self.link.id
        self.refresh_panel()

    def on_hub_changed(self, _: HubChanged) -> None:
        self.refresh_panel()

    def refresh_panel(self) -> None:
        with self._lock:
            p = self.panel
            self.panel.hub_online = self.link.hub_online
            self.query_one("#connection", Static).update(p.connection_text(self.link.connected))
            self.query_one("#ticket", Static).update(p.ticket_text())
            self.query_one("#status", Static).update(p.status_text())
            self.query_one("#queues", Static).update("\n".join(p.queue_lines()))
            self.query_one("#message", Static).update(p.message)

    def say(self, text: str) -> None:
        self.panel.message = text
        self.refresh_panel()

    # ------------------------------------------------------------ actions

    def _request(self, op: str, data: dict) -> None:
        if not self.link.connected:
            self.say(DISCONNECTED)
            return
        if not self.link.hub_online:
            self.say(OFFLINE)
            return
        if self.busy:
            return
        self.busy = True
        self.say("处理中… · working…")

        def ask() -> None:
            try:
                answer = self.link.request(op, data, timeout=REQUEST_TIMEOUT)
                if answer is not None:
                    answer = read_or_ignore(Answer, f"{self.link.id}/res", answer, log)
            finally:
                self.busy = False
            self.call_from_thread(self.say, self.panel.describe(op, answer))

        self.run_worker(ask, thread=True, exclusive=False, group="requests")

    def _window(self, **extra) -> dict:
        return {"window": self.panel.window, **extra}

    def action_call_next(self) -> None:
        self._request("call_next", self._window())

    def action_recall(self) -> None:
        self._request("recall", self._window())

    def action_skip(self) -> None:
        self._request("skip", self._window())

    def action_complete(self) -> None:
        self._request("complete", self._window())

    def action_pause_resume(self) -> None:
        self._request("resume" if self.panel.paused else "pause", self._window())

    def action_transfer(self) -> None:
        if not self.panel.ticket:
            self.say("当前没有在办理的号，无法转移 · no ticket is being served, nothing to transfer")
            return
        queues = ", ".join(q.id for q in self.hall.catalogue.queues)
        prompt = PromptScreen(f"将 {self.panel.ticket} 转至哪个业务类别？· transfer {self.panel.ticket} to which queue?",
                              f"可选 choices: {queues}")

        def chosen(queue: str | None) -> None:
            if queue:
                self._request("transfer", self._window(queue=queue.upper()))

        self.push_screen(prompt, chosen)

    def action_login(self) -> None:
        def chosen(staff: str | None) -> None:
            if staff:
                self._request("login", self._window(staff=staff))

        self.push_screen(PromptScreen("请输入工号 · your staff id", "例 e.g. s023"), chosen)

    def action_logout(self) -> None:
        if not self.panel.staff:
            self.say("当前没有人登录 · nobody is logged in")
            return
        self._request("logout", self._window(staff=self.panel.staff))


def default_device(hall, window: str) -> str | None:
    """The window PC configured for this window (kind `window`), else None."""
    for d in hall.devices_of("window"):
        if window in d.windows:
            return d.id
    return None


def run_window_caller(hall, *, window: str, device: str | None, data_dir, port: int | None = None,
                      host: str | None = None) -> int:
    import sys

    from hall.link import DeviceLink

    if hall.catalogue.window(window) is None:
        print(f"hall window: 没有 {window} 号窗口 · window {window!r} is not in the catalogue", file=sys.stderr)
        return 2
    device = device or default_device(hall, window)
    if device is None or hall.device(device) is None:
        print(f"hall window: hall.toml 中没有 {window} 号窗口的设备 · no window device for window {window!r} "
              f"in {hall.path} (give --device)", file=sys.stderr)
        return 2
    if window not in hall.device(device).windows:
        print(f"hall window: 设备 {device} 不能代表 {window} 号窗口 · device {device} may not act for window "
              f"{window!r}", file=sys.stderr)
        return 2
    link = DeviceLink(hall, device, data_dir, host=host, port=port)
    app = WindowCallerApp(hall, link, window)
    link.start()
    try:
        app.run()
    finally:
        link.stop()
    return 0
