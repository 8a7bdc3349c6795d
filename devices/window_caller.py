"""The window caller for a clerk's PC (`hall window --window 3`): a keyboard-driven terminal screen (Textual).

It shows the ticket being served at the window, who is logged in, and how many wait in each of the window's
queues (and backup queues); single keys call the next ticket, recall, mark a no-show, complete, transfer (to a
queue picked from a list), call a given number out of turn, requeue a no-show, pause with a reason from the hall's
list and resume, log in and out, and accept a case (受理办件: the service item, the applicant's name and ID number;
the hub answers with the case number to tell the citizen). Calls need someone logged in: the hub refuses them
otherwise, and the screen says to log in. The screen is laid out for a terminal of 80×24: every key is shown, in Chinese and in English. Every action is a request through the device's durable link (`hall.link`); the
screen itself follows the hub's retained `state/window/{window}` and `state/queue/{queue}` topics, so it always
shows what the hub decided, whichever device did it.

Shape: `WindowPanel` is the pure part (hub state and answers in, text out), tested without a terminal;
`WindowCallerApp` is the Textual shell around it. Messages are Chinese first, English second.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

from pydantic import ValidationError
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from hall.protocol import Answer, CaseAccept, QueueState, WindowState, read_or_ignore
from hall.settings import pause_reason_text

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
LOG_IN_FIRST = "未登录，请按 l 登录后叫号 · nobody is logged in: press l to log in before calling"
TICKET_RE = re.compile(r"^[A-Z]{1,2}\d{3,5}$")

# every key, Chinese and English, in a grid that fits 80 columns (Textual's footer cut them off after a few)
KEYS = [("n", "叫号", "next"), ("r", "重呼", "recall"), ("s", "过号", "skip"), ("c", "办结", "done"),
        ("t", "转移", "transfer"), ("j", "叫指定号", "call no."), ("u", "过号重排", "requeue"),
        ("p", "暂停/恢复", "pause"), ("l", "登录", "login"), ("o", "登出", "logout"), ("a", "受理办件", "case"),
        ("q", "退出", "quit")]
KEY_COLUMNS = 4
KEY_CELL = 20  # columns of one key: `j 叫指定号 call no.` and a space


def key_lines() -> list[str]:
    """The key bar: KEY_COLUMNS keys a line, each `key 中文 English` in a cell of KEY_CELL columns."""
    cells = [f"{key} {chinese} {english}" for key, chinese, english in KEYS]
    lines = []
    for start in range(0, len(cells), KEY_COLUMNS):
        row = cells[start:start + KEY_COLUMNS]
        lines.append("".join(c + " " * (KEY_CELL - _cells(c)) for c in row).rstrip())
    return lines


def _cells(text: str) -> int:
    """Terminal columns of a text: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def ticket_number(text: str | None) -> str | None:
    """A ticket number as typed (`a12` → None, `a012` → `A012`), None when it is not one."""
    no = (text or "").strip().upper()
    return no if TICKET_RE.match(no) else None


# ---------------------------------------------------------------- the pure part

@dataclass
class WindowPanel:
    """What the clerk's screen shows, from the hub's retained state and the answers to requests."""

    window: str
    queues: list[str]
    backup: list[str] = field(default_factory=list)
    queue_names: dict[str, str] = field(default_factory=dict)
    # every queue of the hall, for the transfer list: (id, "name English", "department")
    all_queues: list[tuple[str, str, str]] = field(default_factory=list)
    pause_reasons: list[str] = field(default_factory=list)
    # the service items a case may be accepted for here: (id, the line shown)
    services: list[tuple[str, str]] = field(default_factory=list)
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
        departments = {d.id: d.name for d in hall.catalogue.departments}
        every = [(q.id, names[q.id], departments.get(q.department, q.department)) for q in hall.catalogue.queues]
        served = [s for s in hall.catalogue.services if s.queue in (*spec.queues, *spec.backup)] or \
            [s for s in hall.catalogue.services if s.department == spec.department]
        services = [(s.id, f"{s.id:<9} {s.name}" + (f" · 承诺 {s.promised_days} 日 days" if s.promised_days is not None
                                                   else "")) for s in served]
        return cls(window=window, queues=list(spec.queues), backup=list(spec.backup), queue_names=names,
                   all_queues=every, pause_reasons=list(hall.queue_rules.pause_reasons), services=services)

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
        if self.paused and self.state.reason:
            status += f"：{pause_reason_text(self.state.reason)}"
        if self.paused and self.state.paused_since:
            status += f"（{self.state.paused_since[11:16]} 起 since）"
        if not self.staff:
            return f"{status}    {LOG_IN_FIRST}"
        return f"{status}    工作人员 staff: {self.staff}"

    def transfer_choices(self) -> list[tuple[str, str]]:
        """The queues a ticket may go to, (id, the line shown): other queues than the ticket's own first."""
        return [(qid, f"{qid:<2} {name} · {dept}") for qid, name, dept in self.all_queues]

    def pause_choices(self) -> list[tuple[str, str]]:
        return [(r, f"{i}  {pause_reason_text(r)}") for i, r in enumerate(self.pause_reasons, start=1)]

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
            # two lines a queue: a name and its figures each fit 80 columns
            lines.append(label)
            lines.append(f"   等候 {st.waiting} 人 waiting · 约 {minutes} 分钟 min · 最近叫号 last called {last}")
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
            case "call_next" | "call_ticket":
                if not no:
                    return "暂无等候的号 · nobody is waiting"
                return f"请 {no} 号到 {self.window} 号窗口 · {no} called to window {self.window}"
            case "requeue":
                ahead = ticket.ahead if ticket else None
                return f"{no} 已重新排队，前面 {ahead} 人 · {no} back in line, {ahead} ahead"
            case "recall":
                return f"重呼 {no}（第 {recall} 次）· {no} recalled ({recall})"
            case "skip":
                return f"{no} 过号 · {no} marked no-show"
            case "complete":
                return f"{no} 办结 · {no} done"
            case "transfer":
                return f"{no} 已转至 {moved_to} 类 · {no} transferred to queue {moved_to}"
            case "pause":
                reason = answer.window.reason if answer.window else None
                return "窗口暂停服务 · window paused" + (f"：{pause_reason_text(reason)}" if reason else "")
            case "resume":
                return "窗口恢复服务 · window resumed"
            case "login":
                return f"{answer.window.staff if answer.window else None} 已登录 · logged in"
            case "logout":
                return "已登出 · logged out"
            case "case_accept":
                c = answer.case
                if c is None:
                    return "完成 · done"
                # three lines of the message box: the number to tell the citizen, and how they look it up
                return (f"已受理 办件编号 {c.case} · 承诺 {c.days} 个工作日，{c.deadline} 前办结\n"
                        f"case {c.case} accepted · {c.days} working days, due {c.deadline}\n"
                        f"凭编号和身份证后四位可在自助机查询 · kiosk lookup: number + ID's last 4")
        return "完成 · done"

    def case_request(self, service: str, name: str, id_number: str) -> tuple[dict | None, str]:
        """The `case_accept` event for the ticket being served (if any), or None and why it cannot be sent."""
        data = {"service": service, "applicant_name": name.strip(), "id_number": id_number.strip().upper(),
                "window": self.window}
        if self.ticket:
            data["ticket"] = self.ticket
        try:
            CaseAccept.model_validate(data)
        except ValidationError as err:
            if any(e["loc"] == ("id_number",) for e in err.errors()):
                return None, "身份证号码应为 18 位 · the ID number has 18 characters (17 digits and a digit or X)"
            return None, "请填写姓名和身份证号码 · give the applicant's name and ID number"
        return data, ""


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


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a list with the arrow keys and Enter, or by typing its letter or number; Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "取消 cancel")]
    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical { width: 76; max-height: 22; height: auto; border: thick $accent; padding: 0 1;
                              background: $panel; }
    ChoiceScreen OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, question: str, choices: list[tuple[str, str]], hint: str = ""):
        super().__init__()
        self.question = question
        self.choices = choices
        self.hint = hint
        self.typed = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield OptionList(*(Option(text, id=value) for value, text in self.choices), id="choices")
            yield Label(self.hint or "↑↓ Enter 选择 pick · 按字母或数字直接选 a letter or number picks · Esc 取消",
                        classes="hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event: Key) -> None:
        """A letter (a queue's id) or a digit (a numbered choice): picked when it names one choice alone."""
        if not event.character or not event.character.isalnum() or not event.character.isascii():
            return
        event.stop()
        self.typed = (self.typed + event.character).upper()
        ids = [value.upper() for value, _ in self.choices]
        numbered = [str(i) for i in range(1, len(ids) + 1)]
        for keys in (ids, numbered if self.typed.isdigit() else []):
            if self.typed in keys and not any(k != self.typed and k.startswith(self.typed) for k in keys):
                self.dismiss(self.choices[keys.index(self.typed)][0])
                return
            starts = [i for i, k in enumerate(keys) if k.startswith(self.typed)]
            if starts:
                self.query_one(OptionList).highlighted = starts[0]
                return
        self.typed = ""  # nothing starts so: start again with the next key

    def action_cancel(self) -> None:
        self.dismiss(None)


class CaseFormScreen(ModalScreen[tuple[str, str] | None]):
    """受理办件: the applicant's name and ID number for a service item; Enter moves on, then sends; Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "取消 cancel")]
    DEFAULT_CSS = """
    CaseFormScreen { align: center middle; }
    CaseFormScreen > Vertical { width: 64; height: auto; border: thick $accent; padding: 1 2; background: $panel; }
    """

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"受理办件 · accept a case: {self.service}")
            yield Label("申请人姓名 · applicant's name")
            yield Input(id="name", max_length=64)
            yield Label("身份证号码 · ID number")
            yield Input(id="id_number", max_length=18)
            yield Label("Enter 下一项/提交 next, send · Esc 取消 cancel", classes="hint")

    @on(Input.Submitted, "#name")
    def _name(self) -> None:
        self.query_one("#id_number", Input).focus()

    @on(Input.Submitted, "#id_number")
    def _submitted(self) -> None:
        name, number = self.query_one("#name", Input).value, self.query_one("#id_number", Input).value
        if name.strip() and number.strip():
            self.dismiss((name, number))

    def action_cancel(self) -> None:
        self.dismiss(None)


class HubChanged(Message):
    """Something the link heard (in its network thread) that the screen should show."""


class WindowCallerApp(App):
    TITLE = "窗口叫号 · Window caller"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key; the footer keeps room for them
    # 80×24 first: header 1, connection 1, ticket 3, status 2, queues, message 2, keys 3 (docked at the bottom)
    CSS = """
    #connection { height: 1; padding: 0 1; }
    #ticket { height: 3; content-align: center middle; text-style: bold; background: $boost; }
    #status { height: auto; max-height: 2; padding: 0 1; }
    #queues { height: auto; max-height: 8; padding: 0 1; }  /* two lines a queue */
    #message { height: auto; min-height: 2; max-height: 3; padding: 0 1; color: $warning; }
    #keys { dock: bottom; height: 3; padding: 0 1; background: $panel; color: $text; }
    """
    BINDINGS = [
        Binding("n", "call_next", "叫号 next", show=False),
        Binding("r", "recall", "重呼 recall", show=False),
        Binding("s", "skip", "过号 skip", show=False),
        Binding("c", "complete", "办结 complete", show=False),
        Binding("t", "transfer", "转移 transfer", show=False),
        Binding("j", "call_ticket", "叫指定号 call a number", show=False),
        Binding("u", "requeue", "过号重排 requeue", show=False),
        Binding("p", "pause_resume", "暂停/恢复 pause", show=False),
        Binding("l", "login", "登录 login", show=False),
        Binding("o", "logout", "登出 logout", show=False),
        Binding("a", "accept_case", "受理办件 accept a case", show=False),
        Binding("q", "quit", "退出 quit", show=False),
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
        yield Static("\n".join(key_lines()), id="keys")

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
        if self.panel.paused:
            self._request("resume", self._window())
            return
        if not self.panel.pause_reasons:
            self._request("pause", self._window())
            return

        def chosen(reason: str | None) -> None:
            if reason:
                self._request("pause", self._window(reason=reason))

        self.push_screen(ChoiceScreen("暂停原因？· why pause?", self.panel.pause_choices()), chosen)

    def action_transfer(self) -> None:
        if not self.panel.ticket:
            self.say("当前没有在办理的号，无法转移 · no ticket is being served, nothing to transfer")
            return
        prompt = ChoiceScreen(f"将 {self.panel.ticket} 转至哪个业务类别？· transfer {self.panel.ticket} to which queue?",
                              self.panel.transfer_choices())

        def chosen(queue: str | None) -> None:
            if queue:
                self._request("transfer", self._window(queue=queue))

        self.push_screen(prompt, chosen)

    def _ask_ticket(self, question: str, then) -> None:
        def chosen(text: str | None) -> None:
            if not text:
                return
            no = ticket_number(text)
            if no is None:
                self.say(f"票号 {text} 不对，应如 A012 · {text!r} is not a ticket number like A012")
                return
            then(no)

        self.push_screen(PromptScreen(question, "例 e.g. A012"), chosen)

    def action_call_ticket(self) -> None:
        self._ask_ticket("叫哪个号？（回来的群众）· call which number? (a citizen who came back)",
                         lambda no: self._request("call_ticket", self._window(ticket=no)))

    def action_requeue(self) -> None:
        self._ask_ticket("哪个过号的号重新排队？· requeue which no-show?",
                         lambda no: self._request("requeue", {"ticket": no}))

    def action_login(self) -> None:
        def chosen(staff: str | None) -> None:
            if staff:
                self._request("login", self._window(staff=staff))

        self.push_screen(PromptScreen("请输入工号 · your staff id", "例 e.g. s023"), chosen)

    def action_accept_case(self) -> None:
        if not self.panel.services:
            self.say("本窗口没有可受理的事项 · no service item is handled at this window")
            return

        def filled(service: str, form: tuple[str, str] | None) -> None:
            if not form:
                return
            data, why = self.panel.case_request(service, *form)
            if data is None:
                self.say(why)
                return
            self._request("case_accept", data)

        def chosen(service: str | None) -> None:
            if service:
                self.push_screen(CaseFormScreen(service), lambda form: filled(service, form))

        what = f"为 {self.panel.ticket} 受理哪个事项？· accept a case for {self.panel.ticket}: which item?" \
            if self.panel.ticket else "受理哪个事项？· accept a case: which item?"
        self.push_screen(ChoiceScreen(what, self.panel.services), chosen)

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
