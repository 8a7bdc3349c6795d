"""The kiosk's flows as plain objects (no window): guides, 查询 and 取号 against a real broker, hub and printer."""

from __future__ import annotations

import json
import signal

import pytest

from hall.catalogue import load_catalogue
from hall.search import SearchIndex
from kiosk.cache import KioskStore
from kiosk.model import (
    ISSUED,
    NO_PRINTER,
    PRINTED,
    REFUSED,
    REQUESTING,
    WAITING,
    KioskModel,
    SearchFlow,
    make_guide,
    ticket_content,
)
from tests.helpers.kiosk import CONFIG
from tests.helpers.rig import wait_for


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(CONFIG / "catalogue.json")


@pytest.fixture(scope="module")
def index(catalogue):
    return SearchIndex.build(catalogue)


def events_of(rig, device: str, event_type: str) -> list[dict]:
    with rig.db() as db:
        return [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM events WHERE device=? AND type=? ORDER BY received_at", (device, event_type))]


# ---------------------------------------------------------------- guides

def test_a_guide_has_every_section_in_chinese_then_english(catalogue):
    guide = make_guide(catalogue, catalogue.service("mz-001"), "zh")
    assert (guide.title, guide.subtitle) == ("内地居民结婚登记", "Marriage registration")
    headings = [h for h, _ in guide.sections]
    assert headings == ["实施部门", "办理条件", "申请材料", "办理流程", "办理时限", "收费标准", "办理窗口", "设定依据"]
    text = dict(guide.sections)
    assert "1．本人的居民身份证" in text["申请材料"]
    assert text["办理时限"] == "法定时限 无    承诺时限 即办"
    assert text["办理窗口"] == "21 号窗口（二楼东区）"
    assert "婚姻登记条例" in text["设定依据"]
    en = make_guide(catalogue, catalogue.service("crj-001"), "en")
    assert (en.title, en.subtitle) == ("Ordinary passport", "普通护照签发")
    assert dict(en.sections)["Time limits"] == "Legal limit 15 working days    Promised 7 working days"


# ---------------------------------------------------------------- 查询

def test_search_flow_typed_key_by_key(index):
    changes = []
    flow = SearchFlow(index, on_change=lambda: changes.append(flow.query))
    for key in "sfz":
        flow.type(key)
    assert changes == ["s", "sf", "sfz"]
    assert [h.id for h in flow.results][:3] == ["gahz-001", "gahz-002", "gahz-003"]
    flow.backspace()
    assert flow.query == "sf" and flow.results
    flow.clear()
    assert flow.query == "" and flow.results == []
    flow.set_query("护照")
    assert flow.results[0].id in ("crj-001", "crj-004")
    for word in flow.POPULAR:  # every popular chip finds something
        flow.set_query(word)
        assert flow.results, word


# ---------------------------------------------------------------- 取号 against the real hall

@pytest.fixture
def hall_with_hub(kiosk_rig):
    kiosk_rig.start_hub()
    return kiosk_rig


def _model(rig, catalogue, index, printer=None, timeout=5.0, hub=True):
    link = rig.link("kiosk-01")
    assert link.wait_connected(10, hub=hub)
    store = KioskStore(rig.data_dir, "kiosk-01")
    return KioskModel(rig.hall, catalogue, index, link=link, printer=printer, request_timeout=timeout,
                      store=store), link


def test_take_a_ticket_for_a_service_and_print_it(hall_with_hub, catalogue, index, printer_sim, ticket_printer):
    model, link = _model(hall_with_hub, catalogue, index, ticket_printer)
    flow = model.ticket
    assert flow.unavailable() is None
    assert flow.take(service="scjg-001")
    wait_for(lambda: flow.s.state == ISSUED and flow.s.printer == PRINTED, 10, "ticket issued and printed")
    t = flow.s.ticket
    assert t.no == "A001" and t.queue == "A" and t.service == "scjg-001"
    assert t.windows == ["1", "2", "3"] and t.ahead == 0
    assert flow.s.history == [REQUESTING, ISSUED, ISSUED]
    [printed] = printer_sim.wait_tickets(1)
    assert printed.find("A001").height == 4
    for material in catalogue.service("scjg-001").materials:
        assert material[:10] in printed.text  # the one-time notice: what to bring
    # the QR code opens the ticket's own page on the citizens' site, by an unguessable token (docs/public.md)
    assert len(t.follow) >= 22 and printed.qr_codes == [f"{hall_with_hub.hall.public.base_url}/t/{t.follow}"]
    # the kiosk kept the ticket and told the hub its printer is fine
    assert [r["no"] for r in model.store.tickets()] == ["A001"]
    wait_for(lambda: events_of(hall_with_hub, "kiosk-01", "health") == [{"printer": "ok"}], 10, "health event")


def test_take_a_ticket_for_a_queue_without_a_printer(hall_with_hub, catalogue, index):
    model, _ = _model(hall_with_hub, catalogue, index)
    assert model.ticket.take(queue="G")
    wait_for(lambda: model.ticket.s.state == ISSUED, 10, "ticket")
    assert model.ticket.s.ticket.no == "G001" and model.ticket.s.printer == NO_PRINTER
    content = ticket_content(hall_with_hub.hall, catalogue, model.ticket.s.ticket)
    assert (content.service, content.materials, content.windows) == ("出入境证件", [], ["15"])


def test_a_refusal_is_shown_with_its_code(hall_with_hub, catalogue, index):
    model, _ = _model(hall_with_hub, catalogue, index)
    model.ticket.take(service="nowhere-001")
    wait_for(lambda: model.ticket.s.state == REFUSED, 10, "refusal")
    assert model.ticket.s.code == "unknown_queue"


def test_a_request_that_times_out_keeps_its_ticket(kiosk_rig, catalogue, index, printer_sim, ticket_printer):
    """The hub is frozen mid-request: 请稍候, then the ticket when the hub answers; nothing lost, nothing doubled."""
    hub = kiosk_rig.hub_process()
    model, link = _model(kiosk_rig, catalogue, index, ticket_printer, timeout=1.0)
    assert link.wait_connected(10)
    hub.send_signal(signal.SIGSTOP)
    try:
        assert model.ticket.take(service="gahz-001")
        wait_for(lambda: model.ticket.s.state == WAITING, 10, "请稍候")
        assert model.ticket.unavailable() == "ticket_busy"
        assert link.pending() == 1  # the request is still in the outbox
    finally:
        hub.send_signal(signal.SIGCONT)
    wait_for(lambda: model.ticket.s.state == ISSUED and model.ticket.s.printer == PRINTED, 20, "late ticket")
    assert model.ticket.s.late is True
    assert model.ticket.s.ticket.no == "F001"
    assert model.ticket.s.history == [REQUESTING, WAITING, ISSUED, ISSUED]
    assert [t.find("F001") is not None for t in printer_sim.wait_tickets(1)] == [True]
    assert link.wait_drained(10)
    assert len(events_of(kiosk_rig, "kiosk-01", "ticket_request")) == 1


def test_no_ticket_while_the_hub_is_offline(kiosk_rig, catalogue, index):
    model, link = _model(kiosk_rig, catalogue, index, hub=False)  # the hub never started
    assert not link.hub_online
    assert model.ticket.unavailable() == "ticket_unavailable"
    assert model.ticket.take(service="scjg-001") is False
    assert link.pending() == 0
    # guides and search still work
    assert model.guide("scjg-001").title == "个体工商户设立登记"
    model.search.set_query("sfz")
    assert model.search.results


def test_paper_out_shows_the_number_and_reports_the_printer(hall_with_hub, catalogue, index, printer_sim,
                                                            ticket_printer):
    printer_sim.paper = "out"
    model, _ = _model(hall_with_hub, catalogue, index, ticket_printer)
    model.ticket.take(service="yb-001")
    wait_for(lambda: model.ticket.s.state == ISSUED and model.ticket.s.printer == "paper_out", 10, "paper out")
    assert model.ticket.s.ticket.no == "D001"
    assert printer_sim.tickets == []
    assert model.store.tickets()[-1]["printed"] == "paper_out"
    wait_for(lambda: {"printer": "paper_out"} in events_of(hall_with_hub, "kiosk-01", "health"), 10, "health")
    # paper back: the next ticket prints and the hub hears the printer is fine again
    printer_sim.paper = "ok"
    model.ticket.reset()
    model.ticket.take(service="yb-001")
    wait_for(lambda: model.ticket.s.printer == PRINTED and model.ticket.s.ticket.no == "D002", 10, "printed")
    wait_for(lambda: events_of(hall_with_hub, "kiosk-01", "health")[-1] == {"printer": "ok"}, 10, "health ok")


# ---------------------------------------------------------------- the cached catalogue

def test_the_hub_catalogue_is_cached_and_a_bad_one_refused(hall_with_hub, tmp_path):
    from hall.errors import ConfigError

    got = []
    link = hall_with_hub.link("kiosk-02")
    link.subscribe("hub/catalogue", lambda topic, payload: got.append(payload))
    wait_for(lambda: got, 10, "retained hub/catalogue")
    store = KioskStore(tmp_path, "kiosk-02")
    cat = store.save_catalogue(got[0])
    assert cat.digest == hall_with_hub.hall.catalogue.digest
    loaded, source = store.load_catalogue(fallback=None)
    assert source == "cache" and loaded.digest == cat.digest
    bad = dict(got[0], sha256="0" * 64)
    with pytest.raises(ConfigError):
        store.save_catalogue(bad)
    assert store.load_catalogue(fallback=None)[0].digest == cat.digest  # the good one is kept
    index = store.open_index(cat)  # built in a child process
    assert index.digest == cat.digest and index.search("yyzz", 1)
