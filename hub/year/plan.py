"""Window planning (`hall simulate plan`): the same arrivals replayed with another number of windows.

The tickets a queue was issued in a span are read from the journal with how long each one's service took (its
call that ended `done`). Each day is then replayed through the real queue engine (hub/queue/engine.py) with N
windows serving that queue alone, calling in the hall's opening hours (and finishing the line after the last
closing time, as the staff do): each ticket arrives when it was issued and is served for as long as it was. The
waits (first call − issue) per hour of issue give the replayed median and 90th percentile, set beside the Erlang C
estimate (M/M/c, hub/year/rules.py) for the same hour's arrivals and the mean handling time. Erlang C assumes
windows open all the time and a steady hour; the replay knows the opening hours (tickets taken before 09:00 wait
for the windows to open) and the day's real bunching, which is why managers look at both.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from hub.queue.engine import Layout, QueueEngine, QueueSpec, Rules, WindowSpec
from hub.year.rules import erlang_estimate, percentile


class PlanError(Exception):
    pass


def read_arrivals(db_path: Path | str, queue: str, first: date, last: date) -> dict[date, list[tuple[datetime, float]]]:
    """Per day, each ticket of `queue` that was served: (issued at, handling seconds)."""
    path = Path(db_path)
    if not path.exists():
        raise PlanError(f"找不到中心数据库 {path} / no hub database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"tickets", "calls"} <= tables:
            return {}  # a hub that has issued no ticket yet
        span = (first.isoformat(), last.isoformat())
        handled = {(d, t): (datetime.fromisoformat(e) - datetime.fromisoformat(c)).total_seconds()
                   for d, t, c, e in conn.execute(
                       "SELECT day, ticket, called_at, ended_at FROM calls WHERE day BETWEEN ? AND ? AND queue = ? "
                       "AND outcome = 'done'", (*span, queue))}
        out: dict[date, list] = defaultdict(list)
        for day, no, issued in conn.execute("SELECT day, no, issued_at FROM tickets WHERE day BETWEEN ? AND ? AND "
                                            "origin = ? AND queue = ? ORDER BY day, issued_at", (*span, queue, queue)):
            seconds = handled.get((day, no))
            if seconds is not None:
                out[date.fromisoformat(day)].append((datetime.fromisoformat(issued), seconds))
    finally:
        conn.close()
    return dict(out)


def replay_day(arrivals: list[tuple[datetime, float]], windows: int, opens: list[tuple[time, time]],
               queue: str = "Q") -> list[tuple[datetime, float]]:
    """One day's arrivals through the queue engine with `windows` windows: (issued at, wait in minutes) each."""
    if not arrivals:
        return []
    day = arrivals[0][0].date()
    tz = arrivals[0][0].tzinfo
    layout = Layout(queues={queue: QueueSpec(queue, queue)},
                    windows={str(i): WindowSpec(str(i), (queue,)) for i in range(1, windows + 1)})
    engine = QueueEngine(layout, Rules(), day)
    handling: dict[str, float] = {}
    heap: list = []
    n = 0

    def push(moment: datetime, kind: str, payload: str | None = None) -> None:
        nonlocal n
        n += 1
        heapq.heappush(heap, (moment, n, kind, payload))

    for moment, seconds in arrivals:
        push(moment, "arrive", str(seconds))
    for start, _ in opens:
        push(datetime.combine(day, start, tzinfo=tz), "open")
    last_start = opens[-1][0]

    def may_call(moment: datetime) -> bool:
        clock = moment.time()
        return any(a <= clock < b for a, b in opens) or clock >= last_start

    idle = set(layout.windows)

    def call(window: str, moment: datetime) -> None:
        if not may_call(moment) or engine.next_for(window) is None:
            idle.add(window)
            return
        out = engine.call_next(window, moment)
        idle.discard(window)
        push(moment + timedelta(seconds=handling[out.ticket.no]), "done", window)

    while heap:
        moment, _, kind, payload = heapq.heappop(heap)
        if kind == "arrive":
            out = engine.issue_ticket(queue, moment, enforce=False)
            handling[out.ticket.no] = float(payload)
            for w in sorted(idle, key=int):
                call(w, moment)
                break
        elif kind == "open":
            for w in sorted(idle, key=int):
                call(w, moment)
        else:
            engine.complete(payload, moment)
            call(payload, moment)
    return [(t.issued_at, (t.called_at - t.issued_at).total_seconds() / 60.0)
            for t in engine.tickets.values() if t.called_at is not None]


def plan(arrivals: dict[date, list[tuple[datetime, float]]], counts: list[int], opens: list[tuple[time, time]],
         progress: Callable[[str], None] | None = None) -> dict:
    """Replayed and Erlang C waits per hour of issue for each number of windows."""
    say = progress or (lambda text: None)
    days = len(arrivals)
    if not days:
        raise PlanError("这段时间该队列没有已办结的票 / no served tickets of that queue in the span")
    every = [s for day in arrivals.values() for _, s in day]
    handling_min = sum(every) / len(every) / 60.0
    per_hour: dict[int, int] = defaultdict(int)
    for day in arrivals.values():
        for moment, _ in day:
            per_hour[moment.hour] += 1
    hours = sorted(per_hour)
    results = []
    for c in counts:
        waits: dict[int, list[float]] = defaultdict(list)
        for i, day in enumerate(sorted(arrivals), start=1):
            for issued, wait in replay_day(arrivals[day], c, opens):
                waits[issued.hour].append(wait)
            if i % 50 == 0 or i == days:
                say(f"{c} 个窗口: 重放 {i}/{days} 天 / {c} windows: replayed {i} of {days} days")
        all_waits = [w for ws in waits.values() for w in ws]
        rows = []
        for h in hours:
            estimate = erlang_estimate(c, per_hour[h] / days, handling_min)
            rows.append({"hour": h, "arrivals_per_day": round(per_hour[h] / days, 2),
                         "median_wait_min": _r(percentile(waits[h], 0.5)), "p90_wait_min": _r(percentile(waits[h], 0.9)),
                         "erlang_median_wait_min": _r(estimate.median_wait_min),
                         "erlang_p90_wait_min": _r(estimate.p90_wait_min),
                         "erlang_wait_probability": round(estimate.wait_probability, 3)})
        results.append({"windows": c, "median_wait_min": _r(percentile(all_waits, 0.5)),
                        "p90_wait_min": _r(percentile(all_waits, 0.9)), "hours": rows})
    return {"days": days, "tickets": len(every), "handling_min": round(handling_min, 2), "hours": hours,
            "plans": results}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def parse_counts(text: str) -> list[int]:
    """'2..5' → [2, 3, 4, 5]; '3' → [3]; '2,4,6' → [2, 4, 6]."""
    try:
        if ".." in text:
            a, b = (int(x) for x in text.split("..", 1))
            counts = list(range(a, b + 1))
        else:
            counts = [int(x) for x in text.split(",")]
    except ValueError:
        raise PlanError(f"--windows {text!r}: 写作 2..5 或 3 或 2,4 · write 2..5, 3 or 2,4") from None
    if not counts or min(counts) < 1 or max(counts) > 100:
        raise PlanError(f"--windows {text!r}: 1 到 100 个窗口 · 1 to 100 windows")
    return counts


COLORS = ("#b3261e", "#1f6fb2", "#2e7d32", "#8e44ad", "#e67e22", "#00838f", "#6d4c41", "#c2185b")


def chart_svg(result: dict, queue: str) -> str:
    """90th percentile wait per hour: replayed (solid) and Erlang C (dashed), one colour per number of windows."""
    w, h, left, bottom, top = 760, 340, 56, 40, 30
    hours = result["hours"]
    # the scale follows the replayed waits: an Erlang C hour near saturation would flatten everything else
    replayed = [r["p90_wait_min"] for p in result["plans"] for r in p["hours"] if r["p90_wait_min"] is not None]
    worst = max(10.0, 1.5 * max(replayed + [1.0]))
    xs = {hr: left + (w - left - 140) * (i / max(1, len(hours) - 1)) for i, hr in enumerate(hours)}

    def y(v: float) -> float:
        return h - bottom - (h - bottom - top) * min(v, worst) / worst

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
           f'font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">{queue} 队列 等候90%分位（分钟）· queue {queue}: 90th percentile '
           f'wait (min) — 实线 replayed, 虚线 Erlang C</text>']
    for i in range(5):
        v = worst * i / 4
        out.append(f'<line x1="{left}" x2="{w - 140}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e0e4e8"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    for hr, x in xs.items():
        out.append(f'<text x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{hr:02d}时</text>')
    for i, p in enumerate(result["plans"]):
        color = COLORS[i % len(COLORS)]
        for key, dash in (("p90_wait_min", ""), ("erlang_p90_wait_min", ' stroke-dasharray="5 4"')):
            pts = " ".join(f"{xs[r['hour']]:.1f},{y(r[key]):.1f}" for r in p["hours"] if r[key] is not None)
            if pts:
                out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<line x1="{w - 130}" x2="{w - 110}" y1="{top + 10 + i * 18}" y2="{top + 10 + i * 18}" '
                   f'stroke="{color}" stroke-width="3"/><text x="{w - 104}" y="{top + 14 + i * 18}">{p["windows"]} 个窗口 '
                   f'windows</text>')
    out.append(f'<text x="{left}" y="{h - 6}">{result["days"]} 天 days · {result["tickets"]} 张票 tickets · '
               f'平均办理 mean handling {result["handling_min"]} min · 超出图顶的画在顶部 above the top: drawn at the '
               f'top</text></svg>')
    return "\n".join(out)


def plan_text(result: dict, queue: str) -> str:
    lines = [f"{queue} 队列窗口测算 · window planning for queue {queue}: {result['days']} 天 days, "
             f"{result['tickets']} 张票 tickets, 平均办理 mean handling {result['handling_min']} min", ""]
    head = "时段 hour  到达/天 per day"
    for p in result["plans"]:
        head += f" | {p['windows']}窗 重放 replay 中位/p90  ErlangC 中位/p90"
    lines.append(head)

    def f(v) -> str:
        return "∞" if v is None else f"{v:.1f}"

    for i, hr in enumerate(result["hours"]):
        row = f"{hr:02d}:00      {result['plans'][0]['hours'][i]['arrivals_per_day']:>8}"
        for p in result["plans"]:
            r = p["hours"][i]
            row += (f" | {f(r['median_wait_min']):>12}/{f(r['p90_wait_min']):<6}"
                    f" {f(r['erlang_median_wait_min']):>12}/{f(r['erlang_p90_wait_min']):<6}")
        lines.append(row)
    lines.append("")
    for p in result["plans"]:
        lines.append(f"{p['windows']} 个窗口 windows: 全天 whole day 中位 median {f(p['median_wait_min'])} min, "
                     f"p90 {f(p['p90_wait_min'])} min")
    return "\n".join(lines) + "\n"
