"""Scale a catalogue up for benchmarks: the real service items first, then variants of them by case (情形).

A real provincial catalogue splits one service into cases (设立, 变更, 注销, 延续, 补证 …), each a 事项 with its own
guide; the variants here are made the same way, so names, keywords and guides look like the real thing to search.
Deterministic for a seed. The result passes `hall catalogue check` (with fewer items than queues, some queues
are left without any, which the check reports).
"""

from __future__ import annotations

import random

from hall.catalogue import Catalogue, ServiceItem

CASES = [
    ("变更", "change", "已取得相关证照，登记事项或许可事项发生变化的，应当自变化之日起30日内申请变更。",
     "变更事项的证明材料"),
    ("注销", "cancellation", "不再从事相关活动或者证照有效期届满未延续的，应当申请注销。", "原证照正、副本"),
    ("延续", "renewal", "证照有效期届满需要继续从事相关活动的，应当在有效期届满30日前申请延续。",
     "延续申请书及原证照"),
    ("补证", "replacement", "证照遗失或者损毁的，可以申请补发。", "遗失声明或损毁的原证照"),
    ("换证", "exchange", "证照内容需要更新或者式样更换的，可以申请换发。", "原证照"),
    ("跨省通办", "cross-province", "在外省已办理的事项，可在本中心跨省通办窗口申请，由属地部门审核后寄递结果。",
     "异地办理授权确认书"),
    ("告知承诺制", "by commitment", "申请人书面承诺符合条件并提交承诺书的，可以当场办理，事后核查。",
     "告知承诺书"),
    ("容缺受理", "with documents to follow", "主要材料齐全、次要材料欠缺的，可先行受理，限期补齐。",
     "材料补正承诺书"),
    ("网上预约", "online appointment", "通过“湘易办”APP或政务服务网预约后到窗口办理，按预约时段取号。",
     "预约短信或预约码"),
    ("委托代办", "by an agent", "本人不能到场的，可以委托他人代为办理。", "授权委托书及受托人身份证件"),
    ("首次申请", "first application", "首次申请办理的，按规定提交全部申请材料。", "首次申请登记表"),
    ("信息更正", "correction", "登记信息有误的，可以申请更正。", "更正依据的证明材料"),
]


def generate(base: Catalogue, items: int, seed: int = 1) -> Catalogue:
    """A catalogue with `items` service items: base's own items, then variants, departments and windows unchanged."""
    if items < 1:
        raise ValueError("items: expected at least 1")
    rng = random.Random(seed)
    services: list[ServiceItem] = _spread(base.services, items)
    templates = list(base.services)
    if not templates:
        raise ValueError("the base catalogue has no service items to vary")
    counters: dict[str, int] = {}
    for s in services:
        counters[s.department] = max(counters.get(s.department, 0), _number(s.id))
    round_ = 0
    while len(services) < items:
        order = templates[:]
        rng.shuffle(order)
        case_offset = round_
        for t in order:
            if len(services) >= items:
                break
            case, case_en, condition, material = CASES[(case_offset + _number(t.id)) % len(CASES)]
            case_offset += 1
            n = counters.get(t.department, 0) + 1
            counters[t.department] = n
            suffix = f"（{case}）" if round_ < len(CASES) else f"（{case}·{round_ // len(CASES) + 1}）"
            data = t.model_dump()
            data.update(
                id=f"{t.department}-{n:04d}",
                name=_base_name(t.name) + suffix,
                name_en=f"{t.name_en} ({case_en})" if t.name_en else "",
                keywords=[*t.keywords[:4], case],
                conditions=f"{condition}{t.conditions}",
                materials=[*t.materials, material],
                process=[*t.process[:-1], f"{case}：按{case}情形审核", t.process[-1]] if t.process else [f"{case}办理"],
                promised_days=max(0, (t.promised_days or 0) + rng.choice([0, 0, 1, 2])),
            )
            services.append(ServiceItem.model_validate(data))
        round_ += 1
    return base.model_copy(update={"services": services, "version": f"{base.version}-x{items}"})


def _spread(services: list[ServiceItem], items: int) -> list[ServiceItem]:
    """At most `items` of the base's own items, taken queue by queue so that every queue keeps some."""
    if items >= len(services):
        return list(services)
    by_queue: dict[str, list[ServiceItem]] = {}
    for s in services:
        by_queue.setdefault(s.queue, []).append(s)
    picked: list[ServiceItem] = []
    while len(picked) < items:
        for queue in by_queue.values():
            if queue and len(picked) < items:
                picked.append(queue.pop(0))
    order = {s.id: i for i, s in enumerate(services)}
    return sorted(picked, key=lambda s: order[s.id])


def _number(service_id: str) -> int:
    tail = service_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _base_name(name: str) -> str:
    """The name without a trailing （…） case, so a variant of a variant does not stack cases."""
    if name.endswith("）") and "（" in name:
        return name[:name.rindex("（")]
    return name
