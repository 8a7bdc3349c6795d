"""Service guide search: one implementation for the kiosk and the command line.

A query finds a service item by Chinese text anywhere in its name, keywords and guide, by the full pinyin or the
pinyin initials of its name and keywords (`yingye` and `yyzz` find 营业执照, `sfz` finds 身份证), or by its English
name. Names rank above keywords, keywords above guide text.

Pinyin and initials carry no word boundaries, so a match of them counts only where a word starts: the start of the
name or of a keyword, or where one of the item's keywords begins inside its name (`sfz` in 居民身份证换领, whose
keyword is 身份证). The same letters found inside a word (`sfz` from 手房转 in 二手房转移登记) rank below every match
at a word's start, in any tier but the guide text's.

The index is SQLite FTS5: a trigram table answers queries of three characters or more; a table of single-character
tokens answers one- and two-character queries as phrase queries (the trigram tokenizer cannot). FTS only narrows
the candidates; each candidate is then checked and scored against the real text, so both tables agree.

Pinyin is computed once, when the index is built (pypinyin costs a third of a second and ~50 MB to load). A built
index is a small SQLite file: the kiosk keeps one per catalogue digest and opens it without loading pypinyin.
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import sqlite3
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from hall.catalogue import Catalogue, ServiceItem, load_catalogue

FORMAT = "3"  # bump when the index layout changes: cached index files are rebuilt
TIER_NAME, TIER_KEYWORD, TIER_GUIDE = 3, 2, 1
INSIDE_WORD = 0.2  # a pinyin match inside a word: a fifth of its closeness, in the keyword tier (below 100)
_ASCII = re.compile(r"^[0-9a-z ]+$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


@dataclass(frozen=True)
class Hit:
    id: str
    name: str
    department: str
    score: float
    tier: int  # 3 name, 2 keywords, 1 guide text

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("tier")
        return d


def guide_text(service: ServiceItem) -> str:
    """Everything a citizen reads in a guide besides the name and keywords, as one searchable text."""
    parts = [service.conditions, *service.materials, *service.process, service.fee, service.basis]
    return "\n".join(p for p in parts if p)


_RUN = re.compile(r"[\u3400-\u9fff]+|[0-9A-Za-z]+")


def _pinyin(texts: list[str], memo: dict[str, list[str]] | None = None) -> tuple[str, str]:
    """Full pinyin and initials of each text, space separated (`yingyezhizhao`, `yyzz`).

    Each run of hanzi is converted on its own (and remembered in `memo`): punctuation already splits words, and
    a generated catalogue repeats the same runs thousands of times."""
    from pypinyin import Style, lazy_pinyin

    memo = {} if memo is None else memo
    full, initials = [], []
    for text in texts:
        syllables: list[str] = []
        for run in _RUN.findall(text):
            got = memo.get(run)
            if got is None:
                if run.isascii():
                    got = [run.lower()]
                else:
                    got = [s for s in (_NOT_ALNUM.sub("", x.lower()) for x in lazy_pinyin(run, style=Style.NORMAL))
                           if s]
                memo[run] = got
            syllables += got
        full.append("".join(syllables))
        initials.append("".join(s[0] for s in syllables))
    return " ".join(full), " ".join(initials)


def _spaced(text: str) -> str:
    """One token per character for the unicode61 table: a phrase of characters is then a substring."""
    return " ".join("".join(text.split()))


def _normalise(query: str) -> str:
    return " ".join(query.strip().lower().split())


class SearchIndex:
    """A built search index over a catalogue's service items.

    `SearchIndex.build(catalogue)` builds one in memory; `build(catalogue, path)` writes it to a file;
    `SearchIndex.open(path)` opens a built file without pypinyin; `open_or_build` does what a kiosk wants.
    """

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        meta = dict(db.execute("SELECT key, value FROM meta"))
        self.digest = meta.get("digest", "")
        # rowid → (id, name, department, name lowered, name_en lowered, name pinyin, name initials,
        #          keywords, keyword pinyin and initials, guide lowered); lowered once here, not per query
        self._rows: list[tuple] = [None]
        for row in db.execute(
                "SELECT rowid, id, name, department, keywords, guide, name_en, py_name, ini_name, py_kw, ini_kw "
                "FROM items ORDER BY rowid"):
            assert row[0] == len(self._rows)
            rowid, sid, name, dept, keywords, guide, name_en, py, ini, py_kw, ini_kw = row
            self._rows.append((sid, name, dept, name.lower(), name_en, py, ini, keywords.lower().split(),
                               py_kw.split() + ini_kw.split(), guide.lower()))

    # ------------------------------------------------------------ building

    @classmethod
    def build(cls, catalogue: Catalogue, path: Path | str | None = None) -> SearchIndex:
        if path is not None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.unlink(missing_ok=True)
            db = sqlite3.connect(tmp)
        else:
            db = sqlite3.connect(":memory:", check_same_thread=False)
        db.executescript("""
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE items(rowid INTEGER PRIMARY KEY, id TEXT, name TEXT, department TEXT, keywords TEXT,
                               guide TEXT, name_en TEXT, py_name TEXT, ini_name TEXT, py_kw TEXT, ini_kw TEXT);
            CREATE VIRTUAL TABLE tri USING fts5(name, keywords, guide, pinyin_name, pinyin_kw, tokenize='trigram');
            CREATE VIRTUAL TABLE uni USING fts5(name, keywords, guide, pinyin_name, pinyin_kw, tokenize='unicode61');
        """)
        dept_names = {d.id: f"{d.name} {d.name_en}" for d in catalogue.departments}
        memo: dict[str, list[str]] = {}
        rows = []
        for rowid, s in enumerate(catalogue.services, start=1):
            keywords = " ".join([*s.keywords, dept_names.get(s.department, "")])
            guide = guide_text(s)
            py_name, ini_name = _pinyin([s.name], memo)
            py_kw, ini_kw = _pinyin(s.keywords, memo)
            rows.append((rowid, s.id, s.name, s.department, keywords, guide, s.name_en.lower(),
                         py_name, ini_name, py_kw, ini_kw))
        db.executemany("INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        for table, shape in (("tri", lambda t: t), ("uni", _spaced)):
            db.executemany(
                f"INSERT INTO {table}(rowid, name, keywords, guide, pinyin_name, pinyin_kw) VALUES (?,?,?,?,?,?)",
                [(r[0], shape(f"{r[2]} {r[6]}"), shape(r[4]), shape(r[5]), shape(f"{r[7]} {r[8]}"),
                  shape(f"{r[9]} {r[10]}")) for r in rows])
        digest = catalogue.digest
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("digest", digest),
                                                          ("count", str(len(rows)))])
        db.execute("INSERT INTO tri(tri) VALUES ('optimize')")
        db.execute("INSERT INTO uni(uni) VALUES ('optimize')")
        db.commit()
        if path is not None:
            db.close()
            tmp.replace(path)
            return cls.open(path)
        return cls(db)

    @classmethod
    def open(cls, path: Path | str) -> SearchIndex:
        """Open a built index file; it is read into memory so a later rebuild can replace the file."""
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            src.backup(db)
        finally:
            src.close()
        return cls(db)

    @staticmethod
    def digest_of(path: Path | str) -> str | None:
        """The catalogue digest a built index file was made from (None when missing, damaged or of another format)."""
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                meta = dict(db.execute("SELECT key, value FROM meta"))
            finally:
                db.close()
        except sqlite3.Error:
            return None
        return meta.get("digest") if meta.get("format") == FORMAT else None

    @classmethod
    def open_or_build(cls, catalogue: Catalogue, path: Path | str) -> SearchIndex:
        if cls.digest_of(path) == catalogue.digest:
            return cls.open(path)
        return cls.build(catalogue, path)

    def __len__(self) -> int:
        return len(self._rows) - 1

    # ------------------------------------------------------------ searching

    def search(self, query: str, limit: int | None = 20) -> list[Hit]:
        """Service items matching every word of the query, best first."""
        q = _normalise(query)
        if not q:
            return []
        terms = q.split(" ")
        if len(terms) > 1 and _ASCII.match(q) and not any(t.isdigit() for t in terms):
            joined = q.replace(" ", "")  # "ying ye" is pinyin typed with spaces
            hits = self._search_term(joined, limit)
            if hits:
                return hits
        if len(terms) == 1:
            return self._search_term(terms[0], limit)
        scored: dict[int, list[float]] = {}
        for i, term in enumerate(terms):
            found = self._score_term(term, lazy_limit=None)
            keep = {r: s for r, s in found.items() if i == 0 or r in scored}
            if not keep:
                return []
            scored = {r: [*scored.get(r, []), s] for r, s in keep.items()}
        combined = {r: sum(s) / len(s) for r, s in scored.items() if len(s) == len(terms)}
        return self._hits(combined, limit)

    def _search_term(self, term: str, limit: int | None) -> list[Hit]:
        return self._hits(self._score_term(term, lazy_limit=limit), limit)

    def _hits(self, scores: dict[int, float], limit: int | None) -> list[Hit]:
        key = lambda kv: (-kv[1], kv[0])  # noqa: E731
        if limit is not None and len(scores) > limit:
            order = heapq.nsmallest(limit, scores.items(), key=key)
        else:
            order = sorted(scores.items(), key=key)
        out = []
        for rowid, score in order:
            sid, name, dept = self._rows[rowid][:3]
            out.append(Hit(sid, name, dept, round(score, 2), int(score // 1000)))
        return out

    @staticmethod
    def _match(term: str, columns: str) -> tuple[str, str]:
        """The FTS table for a term and the MATCH expression: trigrams from three characters, single-character
        tokens below (as a phrase, so the characters must be adjacent)."""
        table, phrase = ("tri", term) if len(term) >= 3 else ("uni", _spaced(term))
        quoted = phrase.replace('"', '""')
        return table, f'{{{columns}}} : "{quoted}"'

    def _candidates(self, term: str, columns: str) -> list[int]:
        table, match = self._match(term, columns)
        return [r for (r,) in self.db.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ?", (match,))]

    def _score_term(self, term: str, lazy_limit: int | None) -> dict[int, float]:
        """Score of every item the term matches. With lazy_limit, stop after a tier that already fills the limit:
        every item of a higher tier outranks every item of a lower one."""
        ascii_term = bool(_ASCII.match(term))
        scores: dict[int, float] = {}
        tiers = (
            (TIER_NAME, "name pinyin_name" if ascii_term else "name", self._name_score),
            (TIER_KEYWORD, "keywords pinyin_kw" if ascii_term else "keywords", self._keyword_score),
        )
        for tier, columns, scorer in tiers:
            for rowid in self._candidates(term, columns):
                if scores.get(rowid, 0) >= (tier + 1) * 1000:  # found in a higher tier already
                    continue
                within = scorer(self._rows[rowid], term, ascii_term)
                if within is None:
                    continue
                score = tier * 1000 + within if within >= 0 else TIER_KEYWORD * 1000 - within * INSIDE_WORD
                scores[rowid] = max(score, scores.get(rowid, 0))
            if lazy_limit is not None and sum(1 for v in scores.values() if v >= tier * 1000) >= lazy_limit:
                return scores
        self._guide_tier(term, scores, None if lazy_limit is None else lazy_limit - len(scores))
        return scores

    def _guide_tier(self, term: str, scores: dict[int, float], need: int | None) -> None:
        """Items found only in guide text, ranked by FTS5's bm25 over the guide column (in SQLite: a common word
        matches thousands of guides, and only the best few are wanted)."""
        table, match = self._match(term, "guide")
        sql = f"SELECT rowid, bm25({table}, 0, 0, 1, 0, 0) FROM {table} WHERE {table} MATCH ? ORDER BY 2, 1"
        params: tuple = (match,)
        if need is not None:
            sql += " LIMIT ?"
            params += (need + len(scores),)
        for rowid, bm25 in self.db.execute(sql, params):
            if rowid in scores or term not in self._rows[rowid][9]:
                continue
            relevance = max(-bm25, 0.0)
            scores[rowid] = TIER_GUIDE * 1000 + 999.0 * relevance / (1.0 + relevance)
            if need is not None:
                need -= 1
                if need <= 0:
                    return

    @staticmethod
    def _closeness(term: str, text: str) -> float | None:
        """How well a term matches a text it occurs in: whole text 500, at the start +100, share of the text."""
        at = text.find(term)
        if at < 0:
            return None
        if text == term:
            return 500.0
        return (100.0 if at == 0 else 0.0) + 300.0 * len(term) / max(len(text), 1)

    @staticmethod
    def _at_word_start(term: str, text: str, words: list[str]) -> bool:
        """Whether the term occurs in a pinyin text where a word starts: its beginning, or where one of the
        words (the item's keywords in pinyin or initials) begins in it."""
        starts = {0}
        for w in words:
            at = text.find(w)
            while at >= 0:
                starts.add(at)
                at = text.find(w, at + 1)
        at = text.find(term)
        while at >= 0:
            if at in starts:
                return True
            at = text.find(term, at + 1)
        return False

    def _pinyin_score(self, term: str, text: str, words: list[str]) -> float | None:
        """The closeness of a term in pinyin or initials, negative when it is found only inside a word."""
        c = self._closeness(term, text) if text else None
        if c is None:
            return None
        c = max(c - 1.0, 0.01)  # a character match outranks the same match in pinyin
        return c if self._at_word_start(term, text, words) else -c

    def _name_score(self, row: tuple, term: str, ascii_term: bool) -> float | None:
        """Closeness in the name; negative (see `_score_term`) for pinyin found only inside a word."""
        best = self._closeness(term, row[3])
        if ascii_term:
            found = [self._pinyin_score(term, text, row[8]) for text in (row[5], row[6])]  # pinyin, initials
            english = self._closeness(term, row[4]) if row[4] else None
            found.append(None if english is None else english - 1.0)
            for c in found:
                if c is not None and (best is None or _rank(c) > _rank(best)):
                    best = c
        return best

    def _keyword_score(self, row: tuple, term: str, ascii_term: bool) -> float | None:
        found = [c for c in (self._closeness(term, w) for w in row[7]) if c is not None]
        if ascii_term:
            found += [c for c in (self._pinyin_score(term, w, []) for w in row[8]) if c is not None]
        return max(found, key=_rank) if found else None


def _rank(within: float) -> float:
    """A match inside a word (negative closeness) below any match at a word's start."""
    return within if within >= 0 else -1000.0 - within


def search(catalogue: Catalogue, query: str, limit: int | None = 20) -> list[Hit]:
    """One-off search (builds an index in memory; keep a SearchIndex for repeated queries)."""
    return SearchIndex.build(catalogue).search(query, limit)


def main(argv: list[str] | None = None) -> int:
    """`python -m hall.search build CATALOGUE OUT`: build an index file in its own process (a kiosk does this so
    pypinyin never loads into the kiosk itself)."""
    parser = argparse.ArgumentParser(prog="python -m hall.search")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build an index file from a catalogue file")
    b.add_argument("catalogue")
    b.add_argument("out")
    args = parser.parse_args(argv)
    SearchIndex.build(load_catalogue(args.catalogue), args.out)
    print(json.dumps({"ok": True, "index": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
