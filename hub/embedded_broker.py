"""The zero-install fallback of `hall up`: an MQTT 3.1.1 broker in Python (amqtt), for machines without Mosquitto.

It keeps sessions and retained messages in memory only and has no logins or ACL, so it is for trying a hall out,
never for a hall in service; `hall up` says so when it uses it. Devices and the hub speak MQTT 3.1.1 to it (the
endpoint file tells them), which the protocol allows for events.
"""

from __future__ import annotations

import asyncio
import logging
import threading


class EmbeddedBroker:
    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the embedded broker did not start")
        if self._error:
            raise RuntimeError(f"the embedded broker failed: {self._error}")
        return self

    def _run(self) -> None:
        from amqtt.broker import Broker

        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        try:
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as err:
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
