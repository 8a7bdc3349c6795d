"""One web app on uvicorn in a thread of this process: the managers' console and the citizens' site of `hall up`,
the central console of `hall central up` (and the tests and `hall docs screenshots` that serve them)."""

from __future__ import annotations

import threading
import time


class ThreadedServer:
    """`app` served on `host:port` by uvicorn in a daemon thread called `name`; start() returns once it listens.

    `what` names the server in the error start() raises ("the console did not start on …"). `grace` is how long
    uvicorn waits on open connections when stopped: the live pages hold a push stream open that never ends by
    itself, so a short one keeps stop() quick.
    """

    START_S = 15  # how long start() waits for uvicorn to listen
    STOP_S = 10   # how long stop() waits for its thread to end

    def __init__(self, app, *, host: str = "127.0.0.1", port: int, name: str, what: str, grace: float = 2):
        import uvicorn

        self.host, self.port, self.name, self.what = host, port, name, what
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    timeout_graceful_shutdown=grace))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self):
        self._thread = threading.Thread(target=self.server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.START_S
        # a thread that ended has failed (its port taken, the app refusing to start): no use waiting on
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError(f"{self.what} did not start on {self.url}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.STOP_S)
