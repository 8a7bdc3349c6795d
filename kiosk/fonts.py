"""The kiosk's Chinese font for Kivy.

Kivy's SDL2 text provider opens face 0 of a font collection, and face 0 of Noto Sans CJK (.ttc) is the Japanese
face: 号 到 窗 门 税 登 would take Japanese glyph forms. So when the hall's CJK font is a collection whose first
face is not simplified Chinese, the simplified Chinese face is copied out once into a single-face font file in a
cache directory, and Kivy is given that file.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

SIMPLIFIED = (" SC", "Micro Hei", "Zen Hei", "AR PL UMing CN", "WenQuanYi")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hallkit" / "fonts"


def _faces(data: bytes) -> list[int]:
    """Offsets of the faces in a TrueType/OpenType collection."""
    if data[:4] != b"ttcf":
        return [0]
    (count,) = struct.unpack(">I", data[8:12])
    return list(struct.unpack(f">{count}I", data[12:12 + 4 * count]))


def _tables(data: bytes, offset: int) -> list[tuple[bytes, int, int, int]]:
    (count,) = struct.unpack(">H", data[offset + 4:offset + 6])
    out = []
    for i in range(count):
        rec = offset + 12 + 16 * i
        tag, checksum, start, length = struct.unpack(">4sIII", data[rec:rec + 16])
        out.append((tag, checksum, start, length))
    return out


def _family(data: bytes, offset: int) -> str:
    """The face's family name (name id 1, Windows Unicode), or '' when it has none."""
    for tag, _c, start, _length in _tables(data, offset):
        if tag != b"name":
            continue
        _fmt, count, strings = struct.unpack(">HHH", data[start:start + 6])
        for i in range(count):
            rec = start + 6 + 12 * i
            platform, _enc, _lang, name_id, length, off = struct.unpack(">HHHHHH", data[rec:rec + 12])
            if name_id == 1 and platform == 3:
                raw = data[start + strings + off:start + strings + off + length]
                return raw.decode("utf-16-be", errors="replace")
    return ""


def _single_face(data: bytes, offset: int) -> bytes:
    """A standalone font file holding one face of a collection (its tables copied, offsets recomputed)."""
    tables = _tables(data, offset)
    header = bytearray(data[offset:offset + 12])
    directory = bytearray()
    body = bytearray()
    at = 12 + 16 * len(tables)
    for tag, checksum, start, length in tables:
        directory += struct.pack(">4sIII", tag, checksum, at + len(body), length)
        body += data[start:start + length]
        body += b"\0" * (-len(body) % 4)
    return bytes(header + directory + body)


def simplified_face(path: str, cache: Path | None = None) -> str:
    """A font file Kivy can use for simplified Chinese, from `path` (returned as is unless it needs extracting)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return path
    cache = cache or cache_dir()
    st = Path(path).stat()
    out = cache / f"{Path(path).stem}-SC-{st.st_size}-{int(st.st_mtime)}.otf"
    if out.exists():
        return str(out)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        faces = _faces(data)
        families = [_family(data, off) for off in faces]
        if any(mark in families[0] for mark in SIMPLIFIED):
            return path
        chosen = next((i for i, fam in enumerate(families) if fam.endswith(" SC")), None)
        if chosen is None:
            return path
        cache.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(_single_face(data, faces[chosen]))
        tmp.replace(out)
    return str(out)


def kivy_fonts() -> tuple[str, str]:
    """(regular, bold) font files for Kivy, simplified Chinese faces."""
    from hall.fonts import cjk_font

    regular = simplified_face(cjk_font())
    try:
        bold = simplified_face(cjk_font(bold=True))
    except Exception:
        bold = regular
    return regular, bold


def register_default_font() -> tuple[str, str]:
    """Make the kiosk font Kivy's default, so every label renders Chinese."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    regular, bold = kivy_fonts()
    LabelBase.register(DEFAULT_FONT, regular, fn_bold=bold)
    return regular, bold
