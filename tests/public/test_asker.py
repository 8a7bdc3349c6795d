"""The site's requests to the hub (public/booking.py: Asker): requests arriving while a write is on disk are
written together by the one writer (group commit), each still gets its own answer; a write the disk refuses fails
its whole group (None: the citizen is told to try again) and the next group is written; an answer that never comes
is a None after the timeout."""

from __future__ import annotations

import asyncio
import threading

import pytest

from public.booking import Asker


class SlowLink:
    """A link whose writes wait for the test to let them through, and whose answers the test gives."""

    def __init__(self):
        self.writes: list[list[tuple[str, dict]]] = []
        self.gate = threading.Event()
        self.fail_at: dict[int, Exception] = {}  # the write (0, 1, …) the disk refuses, and how
        self.listeners = []
        self._n = 0

    def on_answer(self, callback) -> None:
        self.listeners.append(callback)

    def send_many(self, events: list[tuple[str, dict]]) -> list[str]:
        self.gate.wait(10)
        self.writes.append(events)
        if len(self.writes) - 1 in self.fail_at:
            raise self.fail_at[len(self.writes) - 1]
        ids = []
        for _ in events:
            self._n += 1
            ids.append(f"evt-{self._n}")
        return ids

    def answer(self, event_id: str, payload: dict) -> None:
        """As the link's network thread would."""
        threading.Thread(target=lambda: [cb(event_id, {"re": event_id, **payload}) for cb in self.listeners]).start()


async def _until(condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_requests_arriving_during_a_write_are_written_together_and_each_gets_its_answer():
    link = SlowLink()
    asker = Asker(link)

    async def main():
        first = asyncio.create_task(asker.ask("booking_request", {"n": 0}, 5))
        await _until(lambda: asker._writing, "the first write")
        rest = [asyncio.create_task(asker.ask("booking_request", {"n": i}, 5)) for i in range(1, 51)]
        await asyncio.sleep(0.05)
        link.gate.set()                        # the first write ends; the fifty gathered meanwhile go in one
        await _until(lambda: len(link.writes) == 2 and len(asker._waiting) == 51, "both writes")
        for i in range(51, 0, -1):             # answers in any order reach their own askers
            link.answer(f"evt-{i}", {"ok": True, "n": i})
        return await asyncio.gather(first, *rest)

    answers = asyncio.run(main())
    assert [len(w) for w in link.writes] == [1, 50]
    assert [a["n"] for a in answers] == list(range(1, 52))
    assert [d["n"] for _t, d in link.writes[1]] == list(range(1, 51))  # written in the order they came


def test_a_refused_write_fails_its_group_and_the_next_group_is_written():
    from hall.link import OutboxFull

    link = SlowLink()
    asker = Asker(link)
    link.fail_at[1] = OutboxFull("outbox.db", OSError(28, "No space left on device"))

    async def main():
        first = asyncio.create_task(asker.ask("booking_request", {"n": "first"}, 5))
        await _until(lambda: asker._writing, "the first write")
        doomed = [asyncio.create_task(asker.ask("booking_request", {"n": i}, 5)) for i in range(3)]
        await asyncio.sleep(0.05)
        link.gate.set()
        await _until(lambda: len(asker._waiting) == 1, "the first write's event")
        link.answer("evt-1", {"ok": True})
        results = await asyncio.gather(first, *doomed, return_exceptions=True)
        later = asyncio.create_task(asker.ask("booking_request", {"n": "later"}, 5))
        await _until(lambda: len(asker._waiting) == 1, "the next write")
        link.answer("evt-2", {"ok": True})
        return results, await later

    results, later = asyncio.run(main())
    assert results[0]["ok"] and results[1:] == [None, None, None]  # the site answers 503: try again later
    assert later["ok"] and [len(w) for w in link.writes] == [1, 3, 1]


def test_an_answer_that_never_comes_is_none_after_the_timeout_and_a_late_one_is_dropped():
    link = SlowLink()
    link.gate.set()
    asker = Asker(link)

    async def main():
        answer = await asker.ask("booking_request", {}, 0.2)
        link.answer("evt-1", {"ok": True})  # too late: nobody waits, kept as heard early and never asked for
        await asyncio.sleep(0.1)
        return answer

    assert asyncio.run(main()) is None
    assert not asker._waiting


@pytest.mark.parametrize("n", [1, 20])
def test_an_answer_heard_before_its_asker_waits_is_kept_for_it(n):
    link = SlowLink()
    asker = Asker(link)
    real = link.send_many

    def answered_at_once(events):
        ids = real(events)
        for event_id in ids:  # the hub answers before send_many has returned to the loop
            for cb in link.listeners:
                cb(event_id, {"re": event_id, "ok": True})
        return ids

    link.send_many = answered_at_once
    link.gate.set()

    async def main():
        return await asyncio.gather(*(asker.ask("booking_request", {"n": i}, 5) for i in range(n)))

    answers = asyncio.run(main())
    assert [a["re"] for a in answers] == [f"evt-{i}" for i in range(1, n + 1)]
