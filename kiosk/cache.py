"""The kiosk's own copy of the catalogue and its search index, so it starts and shows guides with the hub away.

Files, in the device's directory (`{data}/devices/{device}/`):
  catalogue.json    the last catalogue the hub published on `hub/catalogue` (the wire payload, digest included)
  search-{digest}.db the search index built from it (built in a child process: pypinyin stays out of the kiosk)
  tickets.jsonl     every ticket this kiosk was given, printed or not
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from hall.catalogue import Catalogue, from_wire, load_catalogue
from hall.errors import ConfigError
from hall.protocol import TicketInfo
from hall.search import SearchIndex

log = logging.getLogger("kiosk.cache")


class KioskStore:
    def __init__(self, data_dir: Path | str, device_id: str):
        self.dir = Path(data_dir) / "devices" / device_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.catalogue_path = self.dir / "catalogue.json"
        self.tickets_path = self.dir / "tickets.jsonl"

    # ------------------------------------------------------------ catalogue

    def load_catalogue(self, fallback: Catalogue) -> tuple[Catalogue, str]:
        """The cached catalogue from the hub if there is a good one, else the hall config's. Returns it with
        where it came from ("cache" or "config")."""
        if self.catalogue_path.exists():
            try:
                payload = json.loads(self.catalogue_path.read_text(encoding="utf-8"))
                return from_wire(payload, str(self.catalogue_path)), "cache"
            except (ValueError, ConfigError) as err:
                log.warning("kiosk: ignoring the cached catalogue: %s", err)
        return fallback, "config"

    def save_catalogue(self, payload: dict) -> Catalogue:
        """Check a `hub/catalogue` payload and keep it. Raises ConfigError (and keeps the old one) when it is bad."""
        cat = from_wire(payload)
        tmp = self.catalogue_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.catalogue_path)
        return cat

    # ------------------------------------------------------------ search index

    def index_path(self, catalogue: Catalogue) -> Path:
        return self.dir / f"search-{catalogue.digest[:16]}.db"

    def open_index(self, catalogue: Catalogue, *, in_process: bool = False) -> SearchIndex:
        """The catalogue's search index: opened from the cache, or built (in a child process unless asked not to)
        and cached. Older index files are removed."""
        path = self.index_path(catalogue)
        digest = catalogue.digest
        if SearchIndex.digest_of(path) != digest:
            if in_process:
                SearchIndex.build(catalogue, path)
            else:
                self._build_in_child(catalogue, path)
        for old in self.dir.glob("search-*.db"):
            if old != path:
                old.unlink(missing_ok=True)
        return SearchIndex.open(path)

    def _build_in_child(self, catalogue: Catalogue, path: Path) -> None:
        source = self.dir / f"index-source.{os.getpid()}.json"
        source.write_text(json.dumps(catalogue.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, "-m", "hall.search", "build", str(source), str(path)],
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                log.warning("kiosk: index build in a child failed (%s); building here", done.stderr.strip()[-300:])
                SearchIndex.build(load_catalogue(source), path)
        finally:
            source.unlink(missing_ok=True)

    # ------------------------------------------------------------ tickets

    def record_ticket(self, ticket: TicketInfo, printed: str) -> None:
        line = json.dumps({**ticket.model_dump(exclude_unset=True), "printed": printed}, ensure_ascii=False)
        with open(self.tickets_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def tickets(self) -> list[dict]:
        if not self.tickets_path.exists():
            return []
        return [json.loads(line) for line in self.tickets_path.read_text(encoding="utf-8").splitlines() if line]
