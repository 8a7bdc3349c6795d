"""Every string the kiosk shows, Chinese first and English second."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "take_ticket": ("取号", "Take a ticket"),
    "take_ticket_hint": ("选择业务类别取号", "Choose a type of business"),
    "guides": ("办事指南", "Service guides"),
    "guides_hint": ("查看办理条件、材料和流程", "Conditions, documents and steps"),
    "search": ("查询", "Search"),
    "search_hint": ("输入拼音首字母，如 sfz", "Type pinyin initials, e.g. sfz"),
    "home": ("首页", "Home"),
    "back": ("返回", "Back"),
    "language": ("English", "中文"),
    "hub_online": ("联网", "Online"),
    "hub_offline": ("离线", "Offline"),
    "offline_banner": ("大厅服务器暂时离线：暂停取号，办事指南和查询可正常使用",
                       "The hall server is offline: no tickets for now; guides and search still work"),
    "ticket_unavailable": ("暂停取号：大厅服务器离线", "No tickets: the hall server is offline"),
    "ticket_busy": ("正在出票，请稍候", "A ticket is on its way, please wait"),
    "choose_queue": ("请选择业务类别", "Choose the type of business"),
    "choose_department": ("请选择部门", "Choose a department"),
    "choose_service": ("请选择事项", "Choose a service"),
    "services_count": ("{n} 项", "{n} services"),
    "waiting_people": ("等候 {n} 人", "{n} waiting"),
    "conditions": ("办理条件", "Conditions"),
    "materials": ("申请材料", "Documents to bring"),
    "process": ("办理流程", "Steps"),
    "time_limit": ("办理时限", "Time limits"),
    "legal_limit": ("法定时限 {d}", "Legal limit {d}"),
    "promised": ("承诺时限 {d}", "Promised {d}"),
    "days": ("{n} 个工作日", "{n} working days"),
    "on_the_spot": ("即办", "on the spot"),
    "no_limit": ("无", "none"),
    "fee": ("收费标准", "Fees"),
    "windows": ("办理窗口", "Windows"),
    "window_list": ("{w} 号窗口", "Window {w}"),
    "basis": ("设定依据", "Legal basis"),
    "department": ("实施部门", "Department"),
    "queue": ("业务类别", "Queue"),
    "take_for_service": ("取号办理此事项", "Take a ticket for this service"),
    "search_title": ("查询办事指南", "Search the service guides"),
    "search_placeholder": ("请输入拼音或首字母", "Type pinyin or initials"),
    "search_popular": ("热门", "Popular"),
    "search_none": ("没有找到相关事项，请换个关键词", "Nothing found: try another word"),
    "search_results": ("找到 {n} 项", "{n} found"),
    "clear": ("清空", "Clear"),
    "space": ("空格", "Space"),
    "backspace": ("← 删除", "← Delete"),
    "requesting": ("正在取号…", "Taking your ticket…"),
    "please_wait": ("请稍候", "Please wait"),
    "please_wait_detail": ("网络较慢，正在为您出票，请不要离开", "The network is slow: your ticket is on its way, please stay"),
    "your_number": ("您的号码", "Your number"),
    "go_to_windows": ("请到 {w} 号窗口办理", "Please go to window {w}"),
    "ahead": ("前面还有 {n} 人", "{n} people ahead"),
    "ahead_one": ("前面还有 1 人", "1 person ahead"),
    "est_wait": ("预计等待 {m}", "Estimated wait {m}"),
    "minutes": ("约 {n} 分钟", "about {n} min"),
    "no_wait": ("无需等待", "no wait"),
    "printing": ("正在打印号票…", "Printing your ticket…"),
    "printed": ("请取走号票", "Please take your ticket"),
    "printer_attention": ("打印机需要维护，请记下您的号码", "The printer needs attention: please note your number"),
    "paper_out": ("打印机缺纸", "The printer is out of paper"),
    "printer_offline": ("打印机未连接", "The printer is not responding"),
    "no_printer": ("请记下您的号码", "Please note your number"),
    "paper_low": ("请取走号票（打印纸即将用完）", "Please take your ticket (paper running low)"),
    "refused": ("暂时无法取号", "No ticket could be issued"),
    "refused_closed": ("现在不是取号时间", "Tickets are not issued at this time"),
    "refused_cap_reached": ("今日该业务号票已取完", "Today's tickets for this service are gone"),
    "refused_unknown_queue": ("该业务暂不能取号", "This service takes no tickets here"),
    "done": ("完成", "Done"),
    "returning": ("{s} 秒后返回首页", "Back to home in {s} s"),
    "hall_hours": ("办公时间 9:00—11:40  13:00—17:00", "Open 9:00–11:40 and 13:00–17:00"),
}


def tr(key: str, lang: str = "zh", **kw) -> str:
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**kw) if kw else text


def other(lang: str) -> str:
    return "zh" if lang == "en" else "en"
